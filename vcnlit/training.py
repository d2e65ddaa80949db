"""Run the training stages in order, resumably, then evaluate the final model on the test split."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from vcnlit.checkpoint import save_model
from vcnlit.codecs import Codec
from vcnlit.nets import ResamplingSystem
from vcnlit.stages import epochs_for

log = logging.getLogger(__name__)

DONE = "done.pt"  # a finished stage: the system's weights when it ended


class RunDirError(RuntimeError):
    """The run directory holds something this run must not overwrite."""


def build_logger(cfg: DictConfig) -> Any:
    if cfg.get("logger") is None or not cfg.logger or "_target_" not in cfg.logger:
        return False
    logger = instantiate(cfg.logger)
    if hasattr(logger, "experiment") and type(logger).__name__ == "WandbLogger":
        run = logger.experiment
        log.info("W&B offline run: %s  (upload later with `wandb sync %s`)", run.dir, Path(run.dir).parent)
    return logger


def check_run_dir(run_dir: Path, cfg: DictConfig) -> None:
    """Refuse to retrain over a finished run or another experiment's run unless ``overwrite=true``."""
    marker = run_dir / "run.json"
    if cfg.overwrite:
        for f in ("model.ckpt", "rd.json"):
            (run_dir / f).unlink(missing_ok=True)
        shutil.rmtree(run_dir / "stages", ignore_errors=True)
    elif marker.exists():
        prev = json.loads(marker.read_text())
        if prev.get("experiment") != cfg.experiment_name:
            raise RunDirError(
                f"{run_dir} holds a run of experiment {prev.get('experiment')!r}, not {cfg.experiment_name!r}; "
                "choose another hydra.run.dir or add overwrite=true"
            )
        if (run_dir / "model.ckpt").exists():
            raise RunDirError(
                f"{run_dir} already holds a finished run (model.ckpt); "
                "choose another hydra.run.dir or add overwrite=true to train again"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"experiment": cfg.experiment_name, "seed": cfg.seed}) + "\n")


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
    ckpt = ModelCheckpoint(dirpath=stage_dir, filename="last", save_last=False, save_top_k=1,
                           every_n_train_steps=int(cfg.checkpoint_every), save_on_train_epoch_end=True,
                           enable_version_counter=False)
    callbacks = [ckpt, *(instantiate(c) for c in (cfg.get("callbacks") or {}).values())]
    trainer: pl.Trainer = instantiate(
        cfg.trainer, max_epochs=epochs_for(int(stage_cfg.steps), int(cfg.data.steps_per_epoch)),
        logger=logger, callbacks=callbacks, default_root_dir=str(stage_dir),
    )
    last = stage_dir / "last.ckpt"
    log.info("stage %d/%d: %s%s", index + 1, len(cfg.stages.order), name, f" (resuming {last})" if last.exists() else "")
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if last.exists() else None)
    if trainer.interrupted:
        raise KeyboardInterrupt(f"stage {name} interrupted; run the same command again to resume")
    if trainer.is_global_zero:
        tmp = done.with_suffix(".tmp")
        torch.save(system.state_dict(), tmp)
        tmp.replace(done)


def train(cfg: DictConfig) -> dict[str, Any]:
    """All stages, then ``model.ckpt`` and the test-split evaluation (``rd.json``) in the run directory."""
    from vcnlit.evaluate import evaluate_and_write

    run_dir = Path(cfg.paths.run_dir)
    check_run_dir(run_dir, cfg)
    pl.seed_everything(int(cfg.seed), workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.images("train")  # fail fast on bad folders, before any training
    datamodule.images("test")
    system: ResamplingSystem = instantiate(cfg.model)
    codec: Codec = instantiate(cfg.codec)
    logger = build_logger(cfg)
    for i, name in enumerate(cfg.stages.order):
        run_stage(name, i, cfg, system, codec, datamodule, logger, run_dir)
    system.eval()
    save_model(run_dir / "model.ckpt", system, codec, cfg.experiment_name,
               meta={"seed": int(cfg.seed), "config": OmegaConf.to_container(cfg, resolve=True)})
    summary = evaluate_and_write(system, codec, datamodule.images("test"), cfg, run_dir, logger)
    if logger and hasattr(logger, "finalize"):
        logger.finalize("success")
    if type(logger).__name__ == "WandbLogger":
        import wandb

        wandb.finish()
    return summary
