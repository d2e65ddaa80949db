"""The rate-distortion callback: real bitstreams at every rate point, logged as scalars, table and plot."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from vcnlit.eval.baselines import CodecBaseline, baseline_codec_spec
from vcnlit.eval.plots import plot_rd
from vcnlit.eval.report import log_rd, model_results
from vcnlit.eval.results import write_results

log = logging.getLogger(__name__)


class RDCallback(pl.Callback):
    """Evaluate the model's RD curve on the val (and test) images and log it with a baseline.

    Runs at the end of every validation (``every_n_epochs``: only those every N epochs, and
    the last epoch's) and at the end of testing. Every image is coded at every rate point through
    the vcnlit container (real bytes); bpp, PSNR, SSIM and MS-SSIM go to every logger,
    a W&B Table and line plot to W&B, next to a plain-codec baseline
    (``"auto"``: the model's own standard codec and settings, JPEG for DNNC), and ``rd_<stage>_<split>_e<epoch>.png`` / ``.json``
    to ``out_dir``. Under DDP only global rank zero evaluates, so each image counts once.
    """

    def __init__(self, out_dir: str | Path, rate_points: list[float] | None = None, every_n_epochs: int | None = None,
                 baseline: dict[str, Any] | str | None = "auto", baseline_points: list[float] | None = None,
                 max_images: int | None = None, note: str | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.rate_points = [float(r) for r in rate_points] if rate_points else None
        self.every_n_epochs = max(1, int(every_n_epochs or 1))
        self.baseline_spec = baseline if baseline in ("auto", None) else dict(baseline)
        self.baseline_points = [float(q) for q in baseline_points] if baseline_points else None
        self.max_images = max_images
        self.note = note  # a line on every plot (debug=smoke: not results)
        self._baselines: dict[str, dict] = {}  # per split: the baseline never changes during a run

    def _due(self, trainer: pl.Trainer) -> bool:
        epoch = trainer.current_epoch + 1
        return epoch % self.every_n_epochs == 0 or epoch >= (trainer.max_epochs or epoch)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and self._due(trainer):
            self.evaluate(trainer, pl_module, "val")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.evaluate(trainer, pl_module, "test")

    def evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule, split: str) -> dict | None:
        """Code, measure, write and log; returns the model's results dict on rank zero."""
        out = None
        if trainer.is_global_zero:
            out = self._evaluate(trainer, pl_module, split)
        trainer.strategy.barrier("rd_callback")
        return out

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule, split: str) -> dict:
        images = [(n, x.to(pl_module.device)) for n, x in trainer.datamodule.images(split)[: self.max_images or None]]
        system, codec = pl_module.system, pl_module.codec
        rates = self.rate_points or getattr(pl_module, "train_rates", None) or [codec.rate]
        stage = pl_module.stage_name() if hasattr(pl_module, "stage_name") else type(pl_module).__name__
        was_training = system.training
        model = model_results(system, codec, images, rates, stage, {"split": split, "epoch": trainer.current_epoch,
                                                                       "step": trainer.global_step}, progress=False,
                              jpeg_sizes=False)
        system.train(was_training)
        curves = [model]
        if self.baseline_spec:
            if split not in self._baselines:
                pts = self.baseline_points or [5, 10, 20, 40, 70, 90]
                spec = baseline_codec_spec(codec) if self.baseline_spec == "auto" else self.baseline_spec
                b = CodecBaseline(spec["format"], spec, pts)
                self._baselines[split] = b.evaluate(images, progress=False)
            curves.append(self._baselines[split])
        tag = f"rd_{stage}_{split}_e{trainer.current_epoch:03d}"
        write_results(self.out_dir / f"{tag}.json", model)
        plot = plot_rd(curves, self.out_dir / f"{tag}.png", "psnr", xmax=1.5 * max(model["results"]["bpp"]),
                       title=f"{stage}, {split}, epoch {trainer.current_epoch} ({len(images)} images)",
                       note=self.note)
        log_rd(trainer.loggers, f"{stage}/{split}_rd", model, curves, plot, step=trainer.global_step)
        log.info("RD %s/%s epoch %d: %s", stage, split, trainer.current_epoch,
                 ", ".join(f"{b:.3f} bpp {p:.2f} dB" for b, p in zip(model["results"]["bpp"], model["results"]["psnr"])))
        return model
