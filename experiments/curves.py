"""Learning curves: ``make curves`` (``python experiments/curves.py [overrides]``).

Trains (or reuses) one run per distinct point of the axes in ``conf/curves.yaml`` (training steps,
training data, network capacity; each point = the probe recipe + its overrides), measures each
model on the test images and on the val images (RD curve with real bitstreams, and the no-codec
ceiling IDN(RSN(X))), and writes to ``experiments/results/<dataset>/``: ``curves.md`` (one table per
axis: PSNR per rate point, mean gain over the axis' reference point, BD-rate vs Huffman-optimised
JPEG, time), ``curves.json`` and ``curves.png``. Runs live in ``<runs_dir>/curves-<tag>/<point tag>``;
a finished run (model.ckpt + rd.json) is reused, an unfinished one resumes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from vcnlit.eval import runs as run_folders
from vcnlit.eval.runs import override_key, run_tag, training_overrides
from vcnlit.portable import portable_path
from vcnlit.rundir import check_reusable, is_finished
from vcnlit.sweeps import register_resolvers

log = logging.getLogger("vcnlit.curves")
register_resolvers()  # ${cpu_precision:} of the training config

#: keys of conf/curves.yaml that configure this script, not the training runs
OWN_KEYS = {"experiment", "probe", "axes", "only", "jobs", "runs_dir", "results_dir", "dataset", "anchor",
            "run_overrides", "experiment_name", "hydra"}


def merged(*lists: Sequence[str]) -> list[str]:
    """The overrides of all lists, a later one replacing an earlier one of the same key."""
    out: dict[str, str] = {}
    for o in (o for lst in lists for o in lst):
        out.pop(override_key(o), None)
        out[override_key(o)] = o
    return list(out.values())


def train(experiment: str, run_dir: Path, overrides: Sequence[str], threads: int) -> float:
    """Train one point (or resume it) into ``run_dir``; its training wall time in seconds."""
    from vcnlit.rundir import read_marker

    if is_finished(run_dir):
        check_reusable(run_dir, experiment, overrides)
    else:
        cmd = [sys.executable, "-m", "vcnlit.run", f"+experiment={experiment}", f"hydra.run.dir={run_dir}",
               *overrides]
        log.info("training: %s", " ".join(cmd[1:]))
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            sys.exit(f"error: training failed ({run_dir / 'run.log'}; the same command resumes it):\n"
                     f"{done.stderr[-2000:]}")
    marker = read_marker(run_dir) or {}
    return float(sum((marker.get("stage_seconds") or {}).values()))


def measure(run_dir: Path, images: dict[str, list], rates: list[float], prov: dict[str, Any]) -> dict[str, Any]:
    """The run's model on each image set: RD results and the no-codec ceiling."""
    import torch

    from vcnlit.checkpoint import load_model
    from vcnlit.compressor import Compressor
    from vcnlit.eval.metrics import mean, psnr
    from vcnlit.eval.report import model_results

    model = load_model(run_dir / "model.ckpt")
    coder = Compressor(model.system, model.codec)
    top = coder.rate_units([max(rates, key=model.codec.rate_to_unit)])
    out: dict[str, Any] = {}
    for name, items in images.items():
        rd = model_results(model.system, model.codec, items, rates, f"{run_dir.name} ({name})", prov, progress=False)
        ceiling = []
        with torch.no_grad():
            for _, x in items:
                h, w = x.shape[-2:]
                x_hat = model.system.idn(model.system.rsn(coder.pad(x[None])), top)[..., :h, :w]
                ceiling.append(float(psnr(x_hat.clamp(0, 1), x[None])[0]))
        out[name] = {"results": rd["results"], "ceiling": mean(ceiling)}
    return out


@hydra.main(version_base="1.3", config_path="../conf", config_name="curves")
def main(cfg: DictConfig) -> None:
    from hydra.utils import instantiate

    from vcnlit.errors import ConfigError, exit_on_user_error
    from vcnlit.eval import curves
    from vcnlit.eval.results import provenance, write_results
    from vcnlit.evaluate import test_images

    with exit_on_user_error():
        task = list(HydraConfig.get().overrides.task)
        overrides = training_overrides(task, OWN_KEYS)
        unknown = [a for a in (cfg.only or []) if a not in cfg.axes]
        if unknown:
            raise ConfigError(f"only: {unknown} unknown; choose among {', '.join(cfg.axes)}")
        axes = {a: cfg.axes[a] for a in (cfg.only or cfg.axes)}
        for a, spec in axes.items():
            if spec.reference not in spec.points:
                raise ConfigError(f"axes.{a}.reference={spec.reference!r} is not one of its points")
        if int(cfg.jobs) < 1:
            raise ConfigError(f"jobs must be at least 1, got {cfg.jobs}")
        runs = Path(cfg.runs_dir).resolve() / f"curves-{run_tag(overrides)}"
        dataset = "embedded" if cfg.data.test_dir is None else Path(cfg.data.test_dir).name
        out = Path(cfg.results_dir).resolve() / (cfg.dataset or run_folders.results_name(
            dataset, task, run_folders.SAME_RESULTS | {"jobs"}))

        # one run per distinct set of point overrides
        plan: dict[str, list[str]] = {}
        for spec in axes.values():
            for point in spec.points.values():
                plan.setdefault(run_tag(list(point)), list(point))
        threads = max(1, (os.cpu_count() or 1) // int(cfg.jobs))
        with ThreadPoolExecutor(int(cfg.jobs)) as pool:
            seconds = dict(zip(plan, pool.map(lambda t: train(
                str(cfg.experiment), runs / t, merged(cfg.probe, plan[t], cfg.run_overrides, overrides), threads),
                plan)))

        prov = provenance(OmegaConf.to_container(cfg, resolve=True))
        data = instantiate(cfg.data)
        images = {"test": test_images(cfg, int(cfg.model.channels)), "val": data.images("val")}
        anchors = {s: instantiate(cfg.baseline_set[cfg.anchor]).evaluate(items, prov) for s, items in images.items()}
        rates = [float(r) for r in cfg.eval.rate_points]
        measured = {t: measure(runs / t, images, rates, prov) for t in plan}
        records = [{"axis": a, "point": label, "overrides": list(point), "run_dir": str(runs / t),
                    "seconds": seconds[t], **measured[t]}
                   for a, spec in axes.items() for label, point in spec.points.items() for t in [run_tag(list(point))]]
        references = {a: str(spec.reference) for a, spec in axes.items()}
        summary = curves.summarise(records, references, anchors)
        write_results(out / "curves.json", {"meta": prov, "references": references, "anchors": anchors,
                                         "records": records, "summary": summary})
        curves.plot(summary, out / "curves.png", note=cfg.eval.note)
        (out / "curves.md").write_text(_document(cfg, prov, images, runs, summary, references))
        log.info("wrote %s", out / "curves.md")


def _document(cfg: DictConfig, prov: dict, images: dict[str, list], runs: Path, summary: dict,
              references: dict[str, str]) -> str:
    from vcnlit.eval.curves import markdown

    sets = "; ".join(f"{s}: {', '.join(n for n, _ in items)}" for s, items in images.items())
    head = [
        f"# Learning curves of `{cfg.experiment}`",
        "",
        *([f"**{cfg.eval.note}**", ""] if cfg.eval.note else []),
        f"- command: `{prov['command']}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; git commit {prov['git_commit']}; "
        f"torch {prov['versions'].get('torch')}",
        f"- images ({int(cfg.model.channels)} channel(s)): {sets}",
        f"- every point: `+experiment={cfg.experiment} {' '.join(cfg.probe)}` + the point's overrides; runs in `{portable_path(runs)}`",
        f"- rate points: {list(cfg.eval.rate_points)}. gain: mean PSNR change over the rate points against the "
        "axis' reference point (bitrates move little along an axis); BD-rate: against "
        f"`{cfg.anchor}` (Huffman-optimised JPEG) on the same images, negative = fewer bits; no-codec ceiling: "
        "PSNR of IDN(RSN(X)) with nothing coded in between (IDN at the top rate), the most the re-sampling "
        "design returns at any bitrate; time: training wall time of the point",
        "",
        "![learning curves](curves.png)",
        "",
    ]
    return "\n".join(head) + markdown(summary, references, str(cfg.anchor))


if __name__ == "__main__":
    main()
