"""Training throughput of each stage under Lightning and in a plain PyTorch loop, and the codec's share.

Both loops run the stage's own :meth:`~vcnlit.stages.Stage.step` on the same networks and
data; the Lightning run uses the project's trainer config (``conf/trainer/cpu.yaml``) with
no logger, checkpoints, validation or progress bar. Repetitions alternate the two loops so
a change of machine load hits both, and every figure is a median over repetitions.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from benchmarks.common import build, experiment_config
from vcnlit.precision import fast_bf16
from vcnlit.stages import Stage

#: experiments whose stages are timed: the default (SCIC) and its DNNC twin
EXPERIMENTS = ("scic_lowres", "dnnc_lowres")


class TimedCodec:
    """The real codec; adds up the wall time of the calls a training step makes to it.

    ``shortcut=False`` hides DNNC's ``reconstruct``, so the stage runs the real arithmetic
    coder on every crop (the behaviour before the shortcut existed).
    """

    def __init__(self, codec: Any, shortcut: bool = True) -> None:
        self._codec, self.seconds = codec, 0.0
        self.round_trip = self._timed(codec.round_trip)
        fast = getattr(codec, "reconstruct", None)
        self.reconstruct = self._timed(fast) if shortcut and fast is not None else None

    def _timed(self, fn: Callable) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t

        return call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._codec, name)


class _Clock(pl.Callback):
    """Wall time from the start of batch ``skip`` to the end of the last batch."""

    def __init__(self, skip: int, codec: TimedCodec) -> None:
        self.skip, self.codec, self.t0, self.t1 = skip, codec, 0.0, 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if batch_idx == self.skip:
            self.codec.seconds = 0.0
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.t1 = time.perf_counter()


def _lightning(stage: Stage, cfg, dm, steps: int, skip: int, codec: TimedCodec) -> tuple[float, float]:
    clock = _Clock(skip, codec)
    trainer = instantiate(cfg.trainer, max_epochs=1, limit_train_batches=steps, limit_val_batches=0,
                          logger=False, enable_checkpointing=False, enable_progress_bar=False,
                          callbacks=[clock])
    trainer.fit(stage, datamodule=dm)
    return clock.t1 - clock.t0, codec.seconds


def _plain(stage: Stage, dm, steps: int, skip: int, codec: TimedCodec, precision: str) -> tuple[float, float]:
    """The same steps in a plain loop, under the autocast that Lightning's ``precision`` would set."""
    bf16 = str(precision).startswith("bf16")
    opts, scheds = stage.configure_optimizers()
    stage.use_optimizers(opts)
    stage.on_fit_start()
    stage.train()
    t0 = 0.0
    for i, x in enumerate(dm.train_dataloader()):
        if i == skip:
            codec.seconds = 0.0
            t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            stage.step(x)
        for s in scheds:
            s["scheduler"].step()
        if i == steps - 1:
            break
    wall = time.perf_counter() - t0
    stage.on_fit_end()
    return wall, codec.seconds


def time_stage(cfg, name: str, reps: int, steps: int, skip: int, shortcut: bool = True,
               loops: tuple[str, ...] = ("lightning", "plain")) -> dict[str, Any]:
    """Images/s of one stage in each loop (median over ``reps`` alternating runs) and the codec share."""
    system, codec = build(cfg)
    timed = TimedCodec(codec, shortcut)
    dm = instantiate(cfg.data)
    dm.images("train")
    torch.use_deterministic_algorithms(bool(cfg.trainer.deterministic))  # as the Trainer does
    per_step: dict[str, list[float]] = {k: [] for k in loops}
    share: dict[str, list[float]] = {k: [] for k in loops}
    for _ in range(reps):
        for loop in loops:
            pl.seed_everything(int(cfg.seed), verbose=False)
            stage = instantiate(cfg.stages[name].module, system=system, codec=timed)
            wall, in_codec = (_lightning(stage, cfg, dm, steps, skip, timed) if loop == "lightning"
                              else _plain(stage, dm, steps, skip, timed, cfg.trainer.precision))
            per_step[loop].append(wall / (steps - skip))
            share[loop].append(in_codec / wall)
    batch = int(cfg.data.batch_size)
    out: dict[str, Any] = {"batch": batch, "patch": int(cfg.data.patch_size), "steps_timed": steps - skip,
                           "reps": reps}
    for loop in loops:
        out[f"{loop}_images_per_s"] = batch / statistics.median(per_step[loop])
        out[f"{loop}_codec_share"] = statistics.median(share[loop])
    if "plain" in loops and "lightning" in loops:
        # per-repetition ratios (each pair ran back to back), then their median
        out["lightning_overhead"] = statistics.median(a / b for a, b in zip(per_step["lightning"], per_step["plain"]))
    return out


def precision_speedup(quick: bool = False) -> dict[str, Any]:
    """Images/s of scic_lowres's stages under Lightning in ``bf16-mixed`` over ``32-true`` (same run, same
    data); where the CPU has no bfloat16 hardware (:func:`vcnlit.precision.fast_bf16`) only that is recorded."""
    reps, steps, skip = (1, 2, 1) if quick else (3, 10, 2)
    if not fast_bf16():
        return {"fast_bf16": False}
    out: dict[str, Any] = {"fast_bf16": True}
    cfgs = {p: experiment_config("scic_lowres", quick, [f"trainer.precision={p}"]) for p in ("32-true", "bf16-mixed")}
    for name in cfgs["32-true"].stages.order:
        speed = {p: time_stage(cfg, name, reps, steps, skip, loops=("lightning",))["lightning_images_per_s"]
                 for p, cfg in cfgs.items()}
        out[name] = speed["bf16-mixed"] / speed["32-true"]
        print(f"scic_lowres  {name:<12} bf16-mixed / 32-true images/s x{out[name]:.2f}", flush=True)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    reps, steps, skip = (1, 2, 1) if quick else (5, 10, 2)
    out: dict[str, Any] = {}
    for exp in EXPERIMENTS:
        # the end-to-end stage as the paper trains it (dnnc_lowres's default makes no RSN update), and the VCN
        # in every imitation batch: the plain loop has no stage length to start it late from
        cfg = experiment_config(exp, quick, ["stages.end_to_end.module.rsn_gradient=vcn",
                                             "stages.imitation.module.vcn_share=1.0"])
        res = {name: time_stage(cfg, name, reps, steps, skip) for name in cfg.stages.order}
        if "dnnc" in exp:
            # the same end-to-end stage with the real arithmetic coder on every training crop
            before = time_stage(cfg, "end_to_end", reps, steps, skip, shortcut=False, loops=("lightning",))
            res["end_to_end_real_coder"] = before
            res["end_to_end_shortcut_speedup"] = (res["end_to_end"]["lightning_images_per_s"]
                                                  / before["lightning_images_per_s"])
        out[exp] = res
        for name in cfg.stages.order:
            r = res[name]
            print(f"{exp:<12} {name:<12} lightning {r['lightning_images_per_s']:7.1f} img/s  plain "
                  f"{r['plain_images_per_s']:7.1f} img/s  overhead x{r['lightning_overhead']:.3f}  "
                  f"codec share {100 * r['lightning_codec_share']:.1f}%", flush=True)
    return out
