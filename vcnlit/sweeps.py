"""Sweeps: one rate per job of an RD sweep, the objective of hyperparameter searches, and the merge.

``python -m vcnlit.sweeps merge DIR`` merges the jobs of a multirun folder (``DIR/<job>/rd.json``,
e.g. ``python -m vcnlit.run -m +experiment=scic_lowres codec.quality=10,20,40``) into one RD curve:
``DIR/rd.json``, ``DIR/rd.png`` and the BD-rate against the jobs' plain-codec baseline. A
codec-rate multirun does this by itself when it ends (:class:`MergeRdOnMultirunEnd`, a Hydra callback).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from vcnlit.errors import SweepError, check_choice, exit_on_user_error

log = logging.getLogger(__name__)

#: values of ``optimized_metric`` and their direction. All compare the model with the plain codec of
#: the same settings (JPEG for DNNC) on the val images, both in ``.vcn`` files (the same container and
#: JPEG recompression: what the networks add; small val images have no plain-JPEG point that low):
#: ``val/d_psnr``: PSNR gain (dB) at equal bpp, the baseline interpolated at each of the model's
#: rate points, averaged (defined with a single rate point too); ``val/bd_rate``: BD-rate (%);
#: ``val/bd_psnr``: BD-PSNR (dB). The two BD numbers need two or more rate points.
OBJECTIVES = {"val/d_psnr": "maximize", "val/bd_rate": "minimize", "val/bd_psnr": "maximize"}




# -- one rate per job --------------------------------------------------------------------------
def command_line_keys() -> set[str]:
    """Config keys set on the command line of this (Hydra) job, e.g. ``{"codec.quality", "seed"}``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not HydraConfig.initialized():
        return set()
    overrides = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    return {o.key_or_group for o in overrides}


def pin_swept_rate(cfg: DictConfig, rate_key: str, keys: set[str] | None = None) -> bool:
    """A job given ``codec.<rate_key>`` on the command line trains and evaluates that one rate.

    ``eval.rate_points`` (which the stages' ``train_rates`` follow) becomes ``[codec.<rate_key>]``,
    so each job of ``-m codec.quality=10,20,40`` is a model for its rate and its ``rd.json`` one
    point. An explicit ``eval.rate_points=...`` on the command line wins.
    """
    keys = command_line_keys() if keys is None else keys
    if f"codec.{rate_key}" not in keys or "eval.rate_points" in keys:
        return False
    rate = cfg.codec[rate_key]
    cfg.eval.rate_points = [rate]
    log.info("codec.%s=%s given: this run trains and evaluates that rate alone (eval.rate_points=[%s])",
             rate_key, rate, rate)
    return True


# -- objective of a hyperparameter search ---------------------------------------------------------
def check_objective(cfg: DictConfig) -> None:
    """Fail before training on an ``optimized_metric`` that the run cannot give."""
    name = cfg.get("optimized_metric")
    if not name:
        return
    check_choice("optimized_metric", name, list(OBJECTIVES))
    if name.startswith("val/bd_") and len(cfg.eval.rate_points) < 2:
        raise SweepError(f"optimized_metric={name} needs two or more eval.rate_points (a curve), got "
                         f"{list(cfg.eval.rate_points)}; use optimized_metric=val/d_psnr")


def objective(name: str, system: Any, codec: Any, images: Sequence[tuple[str, Tensor]], cfg: DictConfig) -> float:
    """``optimized_metric`` of a trained model on ``images`` (the val split): see :data:`OBJECTIVES`.

    NaN when it is undefined (no model point within the baseline's bpp range; for BD, curves that
    do not overlap): Optuna records such a trial as failed.
    """
    from vcnlit.eval.baselines import CodecBaseline, baseline_codec_spec
    from vcnlit.eval.bd import bd
    from vcnlit.eval.compare import matched
    from vcnlit.eval.report import model_results

    check_objective(cfg)
    model = model_results(system, codec, images, cfg.eval.rate_points, "model", progress=False)["results"]
    base = CodecBaseline("baseline", baseline_codec_spec(codec), cfg.eval.baseline_points, container=True).evaluate(
        images, progress=False)["results"]
    if name == "val/d_psnr":
        gains = [row["d_psnr"] for row in matched(model, base, codec.rate_key) if math.isfinite(row["d_psnr"])]
        return sum(gains) / len(gains) if gains else math.nan
    res = bd(base, model, "psnr")
    return res.bd_rate if name == "val/bd_rate" else res.bd_quality


def sqlite_url(path: str) -> str:
    """``sqlite:///ABS_PATH`` for an Optuna storage file, its folder created (SQLite does not)."""
    p = Path(path).expanduser().resolve()
    p.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{p}"


def register_resolvers() -> None:
    """The config's resolvers: ``${sqlite_url:PATH}`` (Optuna storage) and ``${cpu_precision:}`` (the trainer)."""
    from vcnlit.precision import cpu_precision

    for name, fn in (("sqlite_url", sqlite_url), ("cpu_precision", cpu_precision)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


# -- merge ---------------------------------------------------------------------------------------
def _job_key(path: Path) -> tuple[int, str]:
    name = path.parent.name
    return (int(name), name) if name.isdigit() else (sys.maxsize, name)


def merge(sweep_dir: str | Path, out_dir: str | Path | None = None, metric: str = "psnr") -> dict[str, Any]:
    """One RD curve from the jobs of a multirun folder; writes ``rd.json`` and ``rd.png`` into ``out_dir``.

    Every job's points are pooled and sorted by bpp; the jobs must share experiment and images.
    The BD-rate is taken against the plain-codec baseline the jobs wrote (``baseline_*.json``).
    """
    from vcnlit.eval.bd import bd
    from vcnlit.eval.plots import plot_rd
    from vcnlit.eval.results import config_note, provenance, read_json, results_json, write_results

    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir else sweep_dir
    files = sorted(sweep_dir.glob("*/rd.json"), key=_job_key)
    if not files:
        raise SweepError(f"no <job>/rd.json under {sweep_dir}; give the multirun folder (hydra.sweep.dir) "
                         "of finished jobs")
    runs = [read_json(f) for f in files]
    for key in ("experiment", "rate_key", "images"):
        values = {str(r["meta"].get(key)) for r in runs}
        if len(values) > 1:
            raise SweepError(f"the jobs under {sweep_dir} differ in {key} ({', '.join(sorted(values))}); "
                             "merge the jobs of one experiment on the same images")
    meta0 = runs[0]["meta"]
    rate_key, experiment = meta0["rate_key"], meta0["experiment"]
    metrics = [k for k in runs[0]["results"] if k != rate_key]
    rows = []
    for f, r in zip(files, runs):
        by_image = r.get("results_by_image") or {}
        for i in range(len(r["results"]["bpp"])):
            rows.append({"job": f.parent.name, **{k: r["results"][k][i] for k in (*metrics, rate_key)},
                         "by_image": {n: {k: v[i] for k, v in m.items()} for n, m in by_image.items()}})
    rows.sort(key=lambda row: row["bpp"])
    results = {k: [row[k] for row in rows] for k in (*metrics, rate_key)}
    images = list(rows[0]["by_image"])
    by_image = {n: {k: [row["by_image"][n][k] for row in rows] for k in rows[0]["by_image"][n]} for n in images}

    base_file = next(iter(sorted(files[0].parent.glob("baseline_*.json"))), None)
    base = read_json(base_file) if base_file else None
    bd_info = None
    if base is not None:
        res = bd(base["results"], results, metric)
        bd_info = {"anchor": base["name"], "metric": metric, "bd_rate_percent": res.bd_rate,
                   f"bd_{metric}": res.bd_quality, "overlap": res.overlap}
    meta = {"experiment": experiment, "rate_key": rate_key, "rate_points": results[rate_key],
            "channels": meta0.get("channels"), "images": images, "jobs": [row["job"] for row in rows],
            "sweep_dir": str(sweep_dir.resolve()), "bd": bd_info, **provenance()}
    merged = results_json(experiment, f"vcnlit {experiment}: {len(files)} jobs of {sweep_dir.name} merged",
                          results, by_image, meta)
    write_results(out_dir / "rd.json", merged)
    curves = [merged, base] if base else [merged]
    plot_rd(curves, out_dir / "rd.png", metric, title=f"{experiment}: {len(rows)} points ({len(images)} images)",
            xmax=1.5 * max(results["bpp"]), note=config_note(meta0.get("config")))
    return merged


def _report(merged: dict[str, Any], out_dir: Path) -> None:
    r, key = merged["results"], merged["meta"]["rate_key"]
    print(f"{merged['name']}: {len(r['bpp'])} points")
    for job, q, b, p in zip(merged["meta"]["jobs"], r[key], r["bpp"], r["psnr"]):
        print(f"  job {job:>3}  {key} {q:g}  {b:.4f} bpp  {p:.2f} dB")
    info = merged["meta"]["bd"]
    if info is None:
        print("no baseline_*.json in the jobs: no BD-rate")
    elif info["bd_rate_percent"] is None or math.isnan(info["bd_rate_percent"]):
        print(f"BD-rate vs {info['anchor']}: n/a (needs two points on each curve, overlapping in {info['metric']})")
    else:
        print(f"BD-rate vs {info['anchor']}: {info['bd_rate_percent']:+.2f} %  "
              f"(BD-{info['metric']} {info['bd_' + info['metric']]:+.3f}, overlap {info['overlap']:.0%})")
    print(f"wrote {out_dir / 'rd.json'} and {out_dir / 'rd.png'}")


class MergeRdOnMultirunEnd(Callback):
    """Hydra callback: at the end of a codec-rate multirun, merge its jobs into one RD curve
    (``<sweep dir>/rd.json`` and ``rd.png``, as ``python -m vcnlit.sweeps merge DIR`` does).

    Hyperparameter searches (``optimized_metric`` set) are left alone: their jobs are not points of
    one curve. A merge that cannot be made is logged, never fails the multirun.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if config.get("optimized_metric") or len(list(sweep_dir.glob("*/rd.json"))) < 2:
            return
        try:
            merged = merge(sweep_dir)
        except (SweepError, ValueError, OSError) as e:
            log.warning("the jobs were not merged into one RD curve: %s", e)
            return
        _report(merged, sweep_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vcnlit.sweeps", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("merge", help="merge a multirun folder's rd.json files into one RD curve")
    m.add_argument("sweep_dir", type=Path, help="the multirun folder (hydra.sweep.dir)")
    m.add_argument("--out", type=Path, default=None, help="output folder (default: the multirun folder)")
    m.add_argument("--metric", default="psnr", choices=("psnr", "ssim", "ms-ssim"), help="quality metric for BD")
    args = parser.parse_args(argv)
    with exit_on_user_error(also=(ValueError, OSError)):
        merged = merge(args.sweep_dir, args.out, args.metric)
    _report(merged, args.out or args.sweep_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
