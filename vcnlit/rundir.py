"""Run-directory bookkeeping: start, resume or refuse a run in a folder.

A run directory holds ``run.json`` (experiment, seed, status, W&B run id, the commit it started from), one folder per
stage under ``stages/`` (``last.ckpt`` while it trains, ``done.pt`` once it finished), then
``model.ckpt`` and the evaluation files. Scripts that reuse finished runs (``make tables``, ``make curves``,
``make ablation``, the zoo build) first check that the run was trained with the config their command gives today.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from vcnlit.errors import ConfigError, RunDirError
from vcnlit.eval.results import git_commit
from vcnlit.io import write_json
from vcnlit.portable import portable

log = logging.getLogger(__name__)

RUN_FILE = "run.json"  # marks a vcnlit run directory
#: what overwrite=true removes (and baseline_*.json)
OUTPUTS = ("model.ckpt", "rd.json", "rd.png", "stages", "rd")
#: the config keys that decide what a run trains (compared before a finished run is reused)
TRAINING_KEYS = ("experiment_name", "seed", "loss", "train_rate_weights", "model", "codec", "stages", "data")
#: keys under ``data`` that only choose the evaluation images or how images are read
DATA_NOT_TRAINING = ("test_dir", "val_dir", "max_eval_images", "on_bad_image", "embedded_dir", "num_workers")


def read_marker(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``run.json``, or None in a folder that holds no vcnlit run."""
    marker = run_dir / RUN_FILE
    return json.loads(marker.read_text()) if marker.exists() else None


def write_marker(run_dir: Path, marker: dict[str, Any]) -> None:
    """Write ``run.json`` atomically."""
    write_json(run_dir / RUN_FILE, marker)


def _foreign_files(run_dir: Path) -> list[str]:
    """Entries that neither Hydra (``.hydra/``, ``*.log``) nor vcnlit put there."""
    if not run_dir.is_dir():
        return []
    return sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".") and p.suffix != ".log")


def _remove_outputs(run_dir: Path) -> None:
    for name in OUTPUTS:
        path = run_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    for path in run_dir.glob("baseline_*.json"):
        path.unlink()


def is_finished(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a finished run: its model file and its evaluation."""
    return (run_dir / "model.ckpt").is_file() and (run_dir / "rd.json").is_file()


def training_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a resolved run config that decides the trained model, as ``{dotted.key: value}``."""
    def flat(d: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, Mapping) else {f"{prefix}{k}": v})
        return out

    keep = {k: cfg[k] for k in TRAINING_KEYS if k in cfg}
    keep["data"] = {k: v for k, v in (keep.get("data") or {}).items() if k not in DATA_NOT_TRAINING}
    # the arithmetic the networks trained in (bfloat16 or float32); configs from before it was set: float32
    keep["trainer"] = {"precision": str((cfg.get("trainer") or {}).get("precision") or "32-true")}
    return portable(flat(keep, ""))  # model files record portable paths (vcnlit.portable)


def run_config(experiment: str, overrides: Sequence[str]) -> dict[str, Any]:
    """The resolved config that ``python -m vcnlit.run +experiment=NAME OVERRIDES`` trains with today."""
    cmd = [sys.executable, "-m", "vcnlit.run", f"+experiment={experiment}", *overrides, "--cfg", "job", "--resolve"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]  # Hydra's message, then details
        raise ConfigError(f"cannot compose +experiment={experiment} {' '.join(overrides)}: {first}")
    return OmegaConf.to_container(OmegaConf.create(done.stdout))  # type: ignore[return-value]


def check_reusable(run_dir: Path, experiment: str, overrides: Sequence[str]) -> None:
    """Refuse to reuse the finished run in ``run_dir`` when today's code and defaults would train
    ``+experiment=NAME OVERRIDES`` with another config than the one it was trained with (a changed default
    must not slip old models into new tables). A model file without its config is not checked."""
    import torch

    saved = (torch.load(run_dir / "model.ckpt", map_location="cpu", weights_only=True).get("meta") or {}).get("config")
    if not saved:
        return
    diff = config_diff(training_config(saved), training_config(run_config(experiment, overrides)))
    if diff:
        raise RunDirError(f"{run_dir} holds a run trained with another config than +experiment={experiment} gives "
                          f"today ({diff}); move it away or choose another runs_dir to train it anew")


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """The keys on which two :func:`training_config` results differ, as ``key: old -> new, ...`` ('' if none)."""
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:4])
    return shown + (", ..." if len(keys) > 4 else "")


def check_run_dir(run_dir: Path, cfg: DictConfig) -> dict[str, Any]:
    """Start or resume a run in ``run_dir``.

    Refuses a finished run, another experiment's or seed's run, an unfinished run started with
    another training config (``run.json`` keeps it), and a folder holding other files, unless
    ``overwrite=true`` (which deletes this run's outputs and starts anew).

    Args:
        run_dir: the run directory (Hydra's ``hydra.run.dir``).
        cfg: the run's config (``experiment_name``, ``seed``, ``overwrite``).

    Returns:
        The run's ``run.json``, written with status ``running``.

    Raises:
        RunDirError: the folder cannot take this run.
    """
    prev = read_marker(run_dir)
    now = training_config({k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
                           for k in (*TRAINING_KEYS, "trainer") if k in cfg})
    if cfg.overwrite:
        _remove_outputs(run_dir)
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
        if prev.get("status") == "finished" or is_finished(run_dir):
            raise RunDirError(
                f"{run_dir} already holds a finished run (model.ckpt, rd.json); "
                "choose another hydra.run.dir or add overwrite=true to train again"
            )
        if "training_config" in prev and (diff := config_diff(portable(prev["training_config"]), now)):
            raise RunDirError(f"{run_dir} holds an unfinished run started with another config ({diff}); resume it "
                              "with the command that started it, or add overwrite=true to start anew")
        log.info("resuming the run in %s", run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # W&B accepts [a-z0-9] ids; persisted so that a resumed run logs to the same W&B run
    run_id = os.environ.get("WANDB_RUN_ID") or (prev or {}).get("wandb_id") or secrets.token_hex(4)
    marker = {"experiment": cfg.experiment_name, "seed": int(cfg.seed), "status": "running", "wandb_id": run_id}
    if prev and prev.get("stage_seconds"):  # a resumed run keeps the times of the stages it finished
        marker["stage_seconds"] = prev["stage_seconds"]
    # the code a run started from (a resumed run keeps it: the commit of its evaluation may differ)
    marker["started_at_commit"] = (prev or {}).get("started_at_commit") or git_commit()
    marker["training_config"] = (prev or {}).get("training_config") or now
    write_marker(run_dir, marker)
    return marker
