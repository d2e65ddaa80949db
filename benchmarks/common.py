"""What the benchmarks share: median timings, experiment configs, the machine they ran on."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from vcnlit.sweeps import register_resolvers

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ("scic_lowres", "scic_fullres", "dnnc_lowres", "dnnc_fullres")
#: tiny networks and crops (the smoke config's) for --quick
QUICK_OVERRIDES = ["debug=smoke"]


def wall_times(fn: Callable[[], Any], runs: int, warmup: int = 1) -> list[float]:
    """Wall times (s) of ``runs`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def median_time(fn: Callable[[], Any], runs: int, warmup: int = 1) -> float:
    """Median wall time (s) of ``runs`` calls of ``fn`` after ``warmup`` untimed calls."""
    return statistics.median(wall_times(fn, runs, warmup))


def experiment_config(name: str, quick: bool, overrides: list[str] | None = None) -> DictConfig:
    """The composed training config of an experiment (default model size unless ``quick``)."""
    extra = [*(QUICK_OVERRIDES if quick else []), "logger=none", *(overrides or [])]
    register_resolvers()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"+experiment={name}", *extra])


def build(cfg: DictConfig, seed: int = 0) -> tuple[Any, Any]:
    """(ResamplingSystem, Codec) of a config, the system's weights drawn from ``seed``."""
    torch.manual_seed(seed)
    return instantiate(cfg.model), instantiate(cfg.codec)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """CPU, cores usable by this process, torch threads and load average (a loaded machine reads slow)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "load_average_1_5_15min": [round(v, 2) for v in load] if load else None,
    }
