"""Run the training stages in order, resumably, then evaluate the final model on the test split.

A run directory holds ``run.json`` (experiment, seed, status, W&B run id), one folder per
stage under ``stages/`` (``last.ckpt`` while it trains, ``done.pt`` once it finished), then
``model.ckpt`` and the evaluation files. Under DDP every process runs this module; only global
rank zero checks and writes the run directory and evaluates.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.utilities import rank_zero_only

from vcnlit.checkpoint import save_atomic, save_model
from vcnlit.codecs import Codec
from vcnlit.errors import RunDirError
from vcnlit.eval.results import write_json
from vcnlit.nets import ResamplingSystem
from vcnlit.stages import epochs_for

log = logging.getLogger(__name__)

RUN_FILE = "run.json"  # marks a vcnlit run directory
DONE = "done.pt"  # a finished stage: the system's weights when it ended
OUTPUTS = ("model.ckpt", "rd.json", "rd.png", "stages", "rd")  # what overwrite=true removes (and baseline_*.json)




def is_global_zero() -> bool:
    """Rank zero of a DDP job (from the launcher's environment before the Trainer sets it), else True."""
    return rank_zero_only.rank == 0


def _read_marker(run_dir: Path) -> dict[str, Any] | None:
    marker = run_dir / RUN_FILE
    return json.loads(marker.read_text()) if marker.exists() else None


def _write_marker(run_dir: Path, marker: dict[str, Any]) -> None:
    write_json(run_dir / RUN_FILE, marker)


def _foreign_files(run_dir: Path) -> list[str]:
    """Entries that neither Hydra (``.hydra/``, ``*.log``) nor vcnlit put there."""
    if not run_dir.is_dir():
        return []
    return sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".") and p.suffix != ".log")


def check_run_dir(run_dir: Path, cfg: DictConfig) -> dict[str, Any]:
    """Start or resume a run in ``run_dir``; returns its ``run.json`` (written as status ``running``).

    Refuses a finished run, another experiment's or seed's run, and a folder holding other
    files, unless ``overwrite=true`` (which deletes this run's outputs and starts anew).
    """
    prev = _read_marker(run_dir)
    if cfg.overwrite:
        for name in OUTPUTS:
            path = run_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        for path in run_dir.glob("baseline_*.json"):
            path.unlink()
        prev = None
    elif prev is None and (foreign := _foreign_files(run_dir)):
        raise RunDirError(
            f"{run_dir} is not empty and holds no vcnlit run ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); choose another hydra.run.dir or add overwrite=true"
        )
    elif prev is not None:
        if prev.get("experiment") != cfg.experiment_name or prev.get("seed") != int(cfg.seed):
            raise RunDirError(
                f"{run_dir} holds a run of experiment {prev.get('experiment')!r} with seed {prev.get('seed')}, "
                f"not {cfg.experiment_name!r} with seed {cfg.seed}; choose another hydra.run.dir or add overwrite=true"
            )
        if prev.get("status") == "finished" or ((run_dir / "model.ckpt").exists() and (run_dir / "rd.json").exists()):
            raise RunDirError(
                f"{run_dir} already holds a finished run (model.ckpt, rd.json); "
                "choose another hydra.run.dir or add overwrite=true to train again"
            )
        log.info("resuming the run in %s", run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    marker = {"experiment": cfg.experiment_name, "seed": int(cfg.seed), "status": "running",
              "wandb_id": os.environ.get("WANDB_RUN_ID") or (prev or {}).get("wandb_id") or _new_run_id()}
    _write_marker(run_dir, marker)
    return marker


def _new_run_id() -> str:
    import secrets

    return secrets.token_hex(4)  # W&B accepts [a-z0-9]; persisted so a resumed run logs to the same W&B run


def build_logger(cfg: DictConfig, run_id: str | None = None) -> Any:
    """The configured Lightning logger; W&B gets the run directory's run id (``resume="allow"``)."""
    if cfg.get("logger") is None or not cfg.logger or "_target_" not in cfg.logger:
        return False
    is_wandb = cfg.logger._target_.endswith("WandbLogger")
    logger = instantiate(cfg.logger, **({"id": run_id} if is_wandb and run_id else {}))
    if is_wandb and is_global_zero():
        run = _wandb_experiment(logger)
        log.info("W&B run %s: %s  (offline runs: upload later with `wandb sync %s`)", run.id, run.dir,
                 Path(run.dir).parent)
    return logger


def _wandb_experiment(logger: Any, wait_s: float = 30.0) -> Any:
    """Start the W&B run. A killed process's W&B service can hold the run id for a few seconds after
    the kill (a resumed run started at once sees "run ID ... is in use"): wait for it to let go."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return logger.experiment
        except Exception as e:
            if "is in use" not in str(e) or time.monotonic() > deadline:
                raise
            log.info("W&B run id still held by the previous process; retrying")
            time.sleep(2.0)


def _finish_logger(logger: Any, status: str) -> None:
    """Close the logger; a W&B run is finished so that the next job of a multirun starts its own."""
    if not logger:
        return
    logger.finalize(status)
    if type(logger).__name__ == "WandbLogger" and is_global_zero():
        import wandb

        wandb.finish(exit_code=0 if status == "success" else 1)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file beside it, then renames it: a kill never leaves half a file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        save_atomic(checkpoint, path)


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


def run_stage(name: str, index: int, cfg: DictConfig, system: ResamplingSystem, codec: Codec,
              datamodule: pl.LightningDataModule, logger: Any, run_dir: Path) -> None:
    """Train one stage, resuming from its last checkpoint; skip it if it already finished."""
    stage_dir = run_dir / "stages" / name
    done = stage_dir / DONE
    if done.exists():
        system.load_state_dict(torch.load(done, map_location="cpu", weights_only=True))
        log.info("stage %s already finished: loaded %s", name, done)
        return
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
        cfg.trainer, max_epochs=epochs_for(int(stage_cfg.steps), int(cfg.data.steps_per_epoch)),
        logger=logger, callbacks=callbacks, default_root_dir=str(stage_dir), plugins=[AtomicCheckpointIO()],
    )
    _check_launch(trainer)
    last = stage_dir / "last.ckpt"
    log.info("stage %d/%d: %s%s", index + 1, len(cfg.stages.order), name, f" (resuming {last})" if last.exists() else "")
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if last.exists() else None)
    if trainer.interrupted:
        raise KeyboardInterrupt(f"stage {name} interrupted; run the same command again to resume")
    if trainer.is_global_zero:
        save_atomic(system.state_dict(), done)


def train(cfg: DictConfig) -> float | None:
    """All stages, then ``model.ckpt`` and the test-split evaluation (``rd.json``) in the run directory.

    Returns the value of ``optimized_metric`` (for hyperparameter sweeps), or None when unset.
    """
    from vcnlit.evaluate import evaluate_and_write
    from vcnlit.sweeps import check_objective, objective, pin_swept_rate

    run_dir = Path(cfg.paths.run_dir)
    codec: Codec = instantiate(cfg.codec)
    pin_swept_rate(cfg, codec.rate_key)
    check_objective(cfg)
    marker = check_run_dir(run_dir, cfg) if is_global_zero() else _read_marker(run_dir) or {}
    pl.seed_everything(int(cfg.seed), workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.images("train")  # fail fast on bad folders, before any training
    datamodule.images("test")
    system: ResamplingSystem = instantiate(cfg.model)
    logger = build_logger(cfg, marker.get("wandb_id"))
    status = "failed"
    try:
        for i, name in enumerate(cfg.stages.order):
            run_stage(name, i, cfg, system, codec, datamodule, logger, run_dir)
        if not is_global_zero():
            status = "success"
            return None  # rank zero writes the model and evaluates
        system.eval()
        save_model(run_dir / "model.ckpt", system, codec, cfg.experiment_name,
                   meta={"seed": int(cfg.seed), "config": OmegaConf.to_container(cfg, resolve=True)})
        evaluate_and_write(system, codec, datamodule.images("test"), cfg, run_dir, logger)
        value = None
        if cfg.get("optimized_metric"):
            value = objective(str(cfg.optimized_metric), system, codec, datamodule.images("val"), cfg)
            log.info("%s = %.4f (the sweep's objective)", cfg.optimized_metric, value)
            if logger:
                logger.log_metrics({str(cfg.optimized_metric): value})
        _write_marker(run_dir, {**marker, "status": "finished",
                                **({str(cfg.optimized_metric): value} if value is not None else {})})
        status = "success"
        return value
    finally:
        _finish_logger(logger, status)
