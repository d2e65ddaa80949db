"""Where the time goes: ``python -m benchmarks.profile [--quick] [--steps N] [--only training|codec|layout|inference]``.

Prints torch.profiler's op table for a few plain-loop training steps of each stage, and
cProfile's top functions for compress / decompress of a 768x512 image (the codec work
there is NumPy, Pillow and torchac, which torch.profiler does not see). ``--only layout``
compares the CPU time of each stage's step in channels_last against the default layout;
``--only inference`` times the default model's half-size networks on a 3840x2160 photo with
1024- and 512-pixel tiles, plain modules and fused kernels (``vcnlit/nets/fused.py``), alternating;
``--only files`` times the rest of what that photo's ``vcnlit compress`` and ``decompress`` do besides
the networks: the ``.vcn`` payload's context coder each way, the JPEG rebuilt from its coefficients,
the PNG read and written (libpng and, for comparison, Pillow), and the interpreter's teardown after
``import vcnlit.cli`` (what the ``vcnlit`` command skips).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from torch.profiler import ProfilerActivity, profile

from benchmarks.bench_codec import SIZE, photo
from benchmarks.bench_training import EXPERIMENTS as TRAIN_EXPERIMENTS
from benchmarks.common import EXPERIMENTS, build, experiment_config, wall_times


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


def layout_ab(exp: str, name: str, quick: bool, steps: int, reps: int = 4) -> float:
    """CPU seconds per step in channels_last / in the default layout, alternating, one thread.

    Process CPU time on one thread is what the layout changes, and it is far less disturbed
    by other work on the machine than wall time.
    """
    cfg = experiment_config(exp, quick)
    system, codec = build(cfg)
    batches = [b for _, b in zip(range(steps + 1), instantiate(cfg.data).train_dataloader())]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(reps):
        for nhwc in (False, True):
            stage = instantiate(cfg.stages[name].module, system=system, codec=codec)
            stage.use_optimizers(stage.configure_optimizers()[0])
            stage.on_fit_start()  # channels_last
            if not nhwc:
                stage.on_fit_end()  # back to the default layout
            stage.step(batches[0])
            t = time.process_time()
            for b in batches[1:]:
                stage.step(b)
            cpu[nhwc].append((time.process_time() - t) / steps)
            stage.on_fit_end()
    torch.set_num_threads(threads)
    ratio = statistics.median(cpu[True]) / statistics.median(cpu[False])
    print(f"{exp} {name}: CPU s/step default {statistics.median(cpu[False]):.3f}, "
          f"channels_last {statistics.median(cpu[True]):.3f}, ratio {ratio:.3f}")
    return ratio


def _default_member():
    """The default composite's first member: its name and loaded model."""
    from vcnlit.checkpoint import load_model
    from vcnlit.zoo import DEFAULT_MODEL, composites, resolve

    name = composites()[DEFAULT_MODEL].members[0]
    return name, load_model(resolve(name))


def inference_ab(quick: bool, reps: int = 3) -> dict[str, tuple[float, float]]:
    """Best wall seconds of the RSN and of the decoder's networks (its flips included) of the default
    model's first member on a 3840x2160 photo, for each (tile size, fused or plain), alternating."""
    from unittest import mock

    from benchmarks.bench_memory import make_image
    from vcnlit.compressor import Compressor
    from vcnlit.data.images import load_image
    from vcnlit.nets import fused

    name, model = _default_member()
    with tempfile.TemporaryDirectory() as tmp:
        x = load_image(make_image(Path(tmp) / "photo.png", (480, 270) if quick else (3840, 2160)), 3)[None]
    best: dict[str, list[float]] = {}
    with torch.no_grad():
        for _ in range(reps):
            for tile in (1024, 512):
                for kind in ("plain", "fused"):
                    comp = Compressor(model.system.eval(), model.codec, tile_size=tile)
                    with mock.patch.object(fused, "_OPS", fused._OPS if kind == "fused" else None):
                        t = time.perf_counter()
                        y = comp.rsn(comp.pad(x))
                        t_rsn = time.perf_counter() - t
                        t = time.perf_counter()
                        comp.idn(y, comp.rate_units([model.codec.rate]))
                        t_idn = time.perf_counter() - t
                    old = best.setdefault(f"tile {tile}, {kind}", [t_rsn, t_idn])
                    best[f"tile {tile}, {kind}"] = [min(old[0], t_rsn), min(old[1], t_idn)]
    base = best["tile 1024, plain"]
    print(f"{name} ({model.system.self_ensemble} flips), {tuple(x.shape[-2:])}: best of {reps}, wall seconds")
    for k, (r, i) in best.items():
        print(f"  {k:>18}: RSN {r:.2f} s (x{r / base[0]:.2f}), decoder's networks {i:.2f} s (x{i / base[1]:.2f})")
    return {k: (v[0], v[1]) for k, v in best.items()}


def _best(fn, reps: int) -> float:
    """The best of ``reps`` timed calls (no untimed first call)."""
    return min(wall_times(fn, reps, warmup=0))


def files_ab(quick: bool, reps: int = 3) -> dict[str, float]:
    """Best wall seconds of the non-network steps of the default model's coding of a 3840x2160 photo."""
    import io
    import subprocess
    import sys
    from unittest import mock

    from PIL import Image

    from benchmarks.bench_memory import make_image
    from vcnlit.codecs.entropy import decode_planes, encode_planes
    from vcnlit.codecs.jpeg_transcode import coefficients, rebuild
    from vcnlit.compressor import Compressor
    from vcnlit.data import images

    _, model = _default_member()
    comp = Compressor(model.system.eval(), model.codec)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = make_image(Path(tmp) / "photo.png", (480, 270) if quick else (3840, 2160))
        x = images.load_image(path, 3)
        with torch.no_grad():
            jpeg = model.codec.encode(comp.rsn(comp.pad(x[None]))[0], model.codec.rate)
        found = coefficients(jpeg)
        assert found is not None
        layout, height, width, planes = found
        kinds = [0] + [1] * (len(planes) - 1)
        data = encode_planes(planes, kinds)
        tables = model.codec.tables
        out["payload encode"] = _best(lambda: encode_planes(planes, kinds), reps)
        out["payload decode"] = _best(lambda: decode_planes(data, [p.shape for p in planes], kinds), reps)
        out["JPEG rebuilt"] = _best(lambda: rebuild(layout, height, width, int(model.codec.rate), planes, tables), reps)
        out["PNG read, libpng"] = _best(lambda: images.load_image(path, 3), reps)
        with mock.patch.object(images, "_plain_png", lambda *args: None):
            out["PNG read, Pillow"] = _best(lambda: images.load_image(path, 3), reps)
        out["PNG written, libpng"] = _best(lambda: images.encode_image(x), reps)
        a = images.to_uint8(x)
        out["PNG written, Pillow level 1"] = _best(
            lambda: Image.fromarray(a).save(io.BytesIO(), "PNG", compress_level=1), reps)
    for what, code in (("interpreter start + import", "import vcnlit.cli"),
                       ("the same, exit without teardown", "import vcnlit.cli; vcnlit.cli.exit_now(0)")):
        out[what] = _best(lambda c=code: subprocess.run([sys.executable, "-c", c], check=True), reps)
    print(f"{tuple(x.shape[-2:])}, payload {len(data)} bytes: best of {reps}, wall seconds")
    for k, v in out.items():
        print(f"  {k:>32}: {v:.3f} s")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rows", type=int, default=12)
    p.add_argument("--only", choices=["training", "codec", "layout", "inference", "files"], default=None)
    a = p.parse_args(argv)
    torch.manual_seed(0)
    if a.only == "inference":
        inference_ab(a.quick)
        return
    if a.only == "files":
        files_ab(a.quick)
        return
    if a.only == "layout":
        for exp in TRAIN_EXPERIMENTS:
            for name in ("autoencoder", "imitation", "end_to_end"):
                layout_ab(exp, name, a.quick, a.steps)
        return
    if a.only != "codec":
        for exp in TRAIN_EXPERIMENTS:
            for name in ("autoencoder", "imitation", "end_to_end"):
                profile_stage(exp, name, a.steps, a.quick, a.rows)
    if a.only != "training":
        for exp in EXPERIMENTS:
            profile_codec(exp, a.quick, a.rows)


if __name__ == "__main__":
    main()
