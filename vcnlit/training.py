"""Run the training stages in order, resumably, then evaluate the final model on the test split.

The run directory's layout and its checks live in :mod:`vcnlit.rundir`, the loggers in
:mod:`vcnlit.loggers`. Under DDP every process runs this module; only global rank zero checks and
writes the run directory and evaluates.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO

from vcnlit.checkpoint import save_model
from vcnlit.codecs import Codec
from vcnlit.errors import ConfigError, RunDirError
from vcnlit.evaluate import evaluate_and_write
from vcnlit.io import save_torch
from vcnlit.loggers import build_logger, finish_logger, is_global_zero, quiet_third_party
from vcnlit.nets import ResamplingSystem
from vcnlit.portable import portable
from vcnlit.rundir import check_run_dir, read_marker, write_marker
from vcnlit.stages import epochs_for
from vcnlit.sweeps import check_objective, objective, pin_swept_rate

log = logging.getLogger(__name__)

DONE = "done.pt"  # a finished stage: the system's weights when it ended


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file beside it, then renames it: a kill never leaves half a file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        save_torch(checkpoint, path)


def _check_launch(trainer: pl.Trainer) -> None:
    """DDP re-executes the command line per process, which a local Hydra multirun cannot take."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    spawns = trainer.world_size > 1 and not trainer.strategy.cluster_environment.creates_processes_externally
    if spawns and HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise RunDirError(
            "trainer=ddp with devices>1 starts its processes by re-running the command, which a multirun (-m) "
            "cannot do; run the points one by one without -m, or use hydra/launcher=slurm (one task per device)"
        )


def check_stages(cfg: DictConfig, system: ResamplingSystem, codec: Codec) -> None:
    """Build every stage's module once before training, so a bad stage setting fails at once."""
    for name in cfg.stages.order:
        stage_steps(cfg, name)
        instantiate(cfg.stages[name].module, system=system, codec=codec)


def stage_steps(cfg: DictConfig, name: str) -> int:
    """Training batches of stage ``name``: its ``steps`` x ``stages.steps_scale`` (at least one)."""
    scale = float(cfg.stages.get("steps_scale", 1.0))
    if not scale > 0:
        raise ConfigError(f"stages.steps_scale must be > 0, got {scale}")
    return max(1, round(int(cfg.stages[name].steps) * scale))


def run_stage(name: str, index: int, cfg: DictConfig, system: ResamplingSystem, codec: Codec,
              datamodule: pl.LightningDataModule, logger: Any, run_dir: Path) -> float | None:
    """Train one stage, resuming from its last checkpoint; skip it if it already finished.

    Returns:
        The wall time (seconds) this call trained the stage for; None when it had already finished.
    """
    stage_dir = run_dir / "stages" / name
    done = stage_dir / DONE
    if done.exists():
        system.load_state_dict(torch.load(done, map_location="cpu", weights_only=True))
        log.info("stage %s already finished: loaded %s", name, done)
        return None
    start = time.perf_counter()
    stage_cfg = cfg.stages[name]
    pl.seed_everything(int(cfg.seed) + index, workers=True)
    module = instantiate(stage_cfg.module, system=system, codec=codec)
    # checkpoints at epoch ends only: Lightning prefetches the next batch (its random crops) before a
    # step's checkpoint, so a mid-epoch checkpoint cannot resume exactly
    every = epochs_for(int(cfg.checkpoint_every), int(cfg.data.steps_per_epoch))
    ckpt = ModelCheckpoint(dirpath=stage_dir, filename="last", save_last=False, save_top_k=1,
                           every_n_epochs=every, save_on_train_epoch_end=True, enable_version_counter=False)
    callbacks = [ckpt, *(instantiate(c) for c in (cfg.get("callbacks") or {}).values())]
    trainer: pl.Trainer = instantiate(
        cfg.trainer, max_epochs=epochs_for(stage_steps(cfg, name), int(cfg.data.steps_per_epoch)),
        logger=logger, callbacks=callbacks, default_root_dir=str(stage_dir), plugins=[AtomicCheckpointIO()],
    )
    _check_launch(trainer)
    last = stage_dir / "last.ckpt"
    log.info("stage %d/%d: %s%s", index + 1, len(cfg.stages.order), name, f" (resuming {last})" if last.exists() else "")
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if last.exists() else None)
    if trainer.interrupted:
        raise KeyboardInterrupt(f"stage {name} interrupted; run the same command again to resume")
    if trainer.is_global_zero:
        save_torch(system.state_dict(), done)
    return time.perf_counter() - start


def train(cfg: DictConfig) -> float | None:
    """All stages, then ``model.ckpt`` and the test-split evaluation (``rd.json``) in the run directory.

    ``run.json`` records the wall time of each stage (``stage_seconds``: of the session that finished
    it) and of the evaluation (``eval_seconds``).

    Returns the value of ``optimized_metric`` (for hyperparameter sweeps), or None when unset.
    """
    quiet_third_party()
    run_dir = Path(cfg.paths.run_dir)
    codec: Codec = instantiate(cfg.codec)
    pin_swept_rate(cfg, codec.rate_key)
    check_objective(cfg)
    marker = check_run_dir(run_dir, cfg) if is_global_zero() else read_marker(run_dir) or {}
    pl.seed_everything(int(cfg.seed), workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.images("train")  # fail fast on bad folders, before any training
    datamodule.images("test")
    system: ResamplingSystem = instantiate(cfg.model)
    check_stages(cfg, system, codec)
    logger = build_logger(cfg, marker.get("wandb_id"))
    status = "failed"
    try:
        for i, name in enumerate(cfg.stages.order):
            seconds = run_stage(name, i, cfg, system, codec, datamodule, logger, run_dir)
            if seconds is not None and is_global_zero():
                marker["stage_seconds"] = {**marker.get("stage_seconds", {}), name: round(seconds, 2)}
                write_marker(run_dir, marker)
        if not is_global_zero():
            status = "success"
            return None  # rank zero writes the model and evaluates
        system.eval()
        save_model(run_dir / "model.ckpt", system, codec, cfg.experiment_name,
                   meta={"seed": int(cfg.seed), "config": portable(OmegaConf.to_container(cfg, resolve=True))})
        start = time.perf_counter()
        evaluate_and_write(system, codec, datamodule.images("test"), cfg, run_dir, logger)
        marker["eval_seconds"] = round(time.perf_counter() - start, 2)
        value = None
        if cfg.get("optimized_metric"):
            value = objective(str(cfg.optimized_metric), system, codec, datamodule.images("val"), cfg)
            log.info("%s = %.4f (the sweep's objective)", cfg.optimized_metric, value)
            if logger:
                logger.log_metrics({str(cfg.optimized_metric): value})
        write_marker(run_dir, {**marker, "status": "finished",
                                **({str(cfg.optimized_metric): value} if value is not None else {})})
        status = "success"
        return value
    finally:
        finish_logger(logger, status)
