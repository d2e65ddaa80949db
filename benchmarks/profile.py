"""Where the time goes: ``python -m benchmarks.profile [--quick] [--steps N]``.

Prints torch.profiler's op table for a few plain-loop training steps of each stage, and
cProfile's top functions for compress / decompress of a 768x512 image (the codec work
there is NumPy, Pillow and torchac, which torch.profiler does not see).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import torch
from hydra.utils import instantiate
from torch.profiler import ProfilerActivity, profile

from benchmarks.bench_codec import SIZE, photo
from benchmarks.bench_training import EXPERIMENTS as TRAIN_EXPERIMENTS
from benchmarks.common import EXPERIMENTS, build, experiment_config


def profile_stage(exp: str, name: str, steps: int, quick: bool, rows: int) -> None:
    cfg = experiment_config(exp, quick)
    system, codec = build(cfg)
    dm = instantiate(cfg.data)
    stage = instantiate(cfg.stages[name].module, system=system, codec=codec)
    opts, _ = stage.configure_optimizers()
    stage.use_optimizers(opts)
    stage.on_fit_start()
    batches = iter(dm.train_dataloader())
    stage.step(next(batches))  # warm up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            stage.step(next(batches))
    print(f"\n### {exp} {name}: {steps} steps")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def profile_codec(exp: str, quick: bool, rows: int) -> None:
    cfg = experiment_config(exp, quick)
    system, codec = build(cfg)
    system.eval()
    from vcnlit.compressor import Compressor

    comp = Compressor(system, codec)
    x = photo(system.channels, (64, 96) if quick else SIZE)
    rate = float(cfg.eval.rate_points[len(cfg.eval.rate_points) // 2])
    stream = comp.compress(x, rate)
    for what, fn in (("compress", lambda: comp.compress(x, rate)), ("decompress", lambda: comp.decompress(stream))):
        pr = cProfile.Profile()
        pr.runcall(fn)
        print(f"\n### {exp} {what}")
        pstats.Stats(pr).sort_stats("tottime").print_stats(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rows", type=int, default=12)
    p.add_argument("--only", choices=["training", "codec"], default=None)
    a = p.parse_args(argv)
    torch.manual_seed(0)
    if a.only != "codec":
        for exp in TRAIN_EXPERIMENTS:
            for name in ("autoencoder", "imitation", "end_to_end"):
                profile_stage(exp, name, a.steps, a.quick, a.rows)
    if a.only != "training":
        for exp in EXPERIMENTS:
            profile_codec(exp, a.quick, a.rows)


if __name__ == "__main__":
    main()
