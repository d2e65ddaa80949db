"""Logger set-up for training runs: the configured Lightning logger, W&B resumed under the run's id."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.utilities import rank_zero_only

log = logging.getLogger(__name__)


def is_global_zero() -> bool:
    """Rank zero of a DDP job (from the launcher's environment before the Trainer sets it), else True."""
    return rank_zero_only.rank == 0


def quiet_third_party() -> None:
    """Keep a run's output to what concerns the run: Lightning's advertising tip (printed once per
    stage) and the deprecation warning torch raises from Lightning's own code are dropped."""
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
        lambda record: not str(record.msg).startswith("\N{ELECTRIC LIGHT BULB} Tip"))
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


def build_logger(cfg: DictConfig, run_id: str | None = None) -> Any:
    """The configured Lightning logger, or False when ``logger`` is unset.

    Args:
        cfg: the run's config; ``cfg.logger`` is a ``_target_`` config or empty.
        run_id: the run directory's W&B run id (W&B resumes it with ``resume="allow"``).
    """
    if cfg.get("logger") is None or not cfg.logger or "_target_" not in cfg.logger:
        return False
    is_wandb = cfg.logger._target_.endswith("WandbLogger")
    logger = instantiate(cfg.logger, **({"id": run_id} if is_wandb and run_id else {}))
    if is_wandb:  # Lightning always passes W&B's deprecated ``anonymous`` setting, which W&B warns about
        logger._wandb_init.pop("anonymous", None)
    if is_wandb and is_global_zero():
        run = wandb_experiment(logger)
        log.info("W&B run %s: %s  (offline runs: upload later with `wandb sync %s`)", run.id, run.dir,
                 Path(run.dir).parent)
    return logger


def wandb_experiment(logger: Any, wait_s: float = 30.0) -> Any:
    """Start the W&B run. A killed process's W&B service can hold the run id for a few seconds after
    the kill (a resumed run started at once sees "run ID ... is in use"): wait for it to let go."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return logger.experiment
        except Exception as e:
            if "is in use" not in str(e) or time.monotonic() > deadline:
                raise
            log.info("W&B run id still held by the previous process; retrying")
            time.sleep(2.0)


def finish_logger(logger: Any, status: str) -> None:
    """Close the logger; a W&B run is finished so that the next job of a multirun starts its own."""
    if not logger:
        return
    logger.finalize(status)
    if type(logger).__name__ == "WandbLogger" and is_global_zero():
        import wandb

        wandb.finish(exit_code=0 if status == "success" else 1)
