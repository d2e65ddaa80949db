"""Reproduce the paper's tables: ``make tables`` (``python experiments/tables.py [overrides]``).

Trains (or reuses) the four experiments, evaluates them, their IDN-only ablations and the
baselines on one test set with real bitstreams, and writes to ``experiments/results/<dataset>/``:
one CompressAI-format JSON per method, ``tables.md`` (bpp / PSNR / SSIM per rate point and
BD-rate vs JPEG) and RD plots (``rd_psnr.png``, ``rd_ssim.png``). A run with overrides that change
the results (``debug=smoke``, ``seed=1``, ...) writes to ``<dataset>_<overrides>/`` instead;
``replot=true`` only redraws the plots from the JSON files already there. ``model.channels=3`` makes
the colour tables (``<dataset>_rgb/``) of the experiments' ``_rgb`` versions, baselines in colour.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from vcnlit.errors import ConfigError, RunDirError, exit_on_user_error
from vcnlit.eval import runs as run_folders
from vcnlit.portable import portable_path
from vcnlit.rundir import check_reusable
from vcnlit.sweeps import register_resolvers

log = logging.getLogger("vcnlit.tables")
register_resolvers()  # ${cpu_precision:} of the training config

#: keys of conf/tables.yaml that configure this script, not the training runs
OWN_KEYS = {"experiments", "runs_dir", "results_dir", "dataset", "anchor", "idn_only", "bpp_targets",
            "baseline_set", "experiment_name", "replot", "hydra"}
#: overrides that do not change the results (kept out of the results folder's name)
SAME_RESULTS = run_folders.SAME_RESULTS | {"replot"}
run_tag = run_folders.run_tag


def training_overrides(task_overrides: list[str]) -> list[str]:
    return run_folders.training_overrides(task_overrides, OWN_KEYS)


def results_name(dataset: str, task_overrides: list[str]) -> str:
    """``dataset``, or ``<dataset>_<overrides>`` when the overrides change the results (never the full results)."""
    return run_folders.results_name(dataset, task_overrides, SAME_RESULTS)


def colour_experiments(experiments: list[str], overrides: list[str], channels: int) -> tuple[list[str], list[str]]:
    """The experiments and training overrides of a colour run (``model.channels=3``): each experiment's
    ``_rgb`` version (``conf/experiment/<name>_rgb.yaml``, which sets the channels itself); unchanged in grayscale."""
    if channels != 3:
        return list(experiments), overrides
    names = [e if e.endswith("_rgb") else f"{e}_rgb" for e in experiments]
    return names, [o for o in overrides if o.lstrip("+~") != "model.channels=3"]


def method_names(cfg: DictConfig) -> list[str]:
    """Every method of the tables in their order: the experiments, their IDN-only ablations, the baselines."""
    return [*cfg.experiments, *(f"{e}_idn_only" for e in cfg.experiments if cfg.idn_only),
            *(b.name for b in (cfg.baseline_set or {}).values())]


def train(experiment: str, run_dir: Path, overrides: list[str]) -> None:
    """Train one experiment into ``run_dir`` (resumes an unfinished run), unless it holds model.ckpt
    trained with the config the command gives today."""
    if (run_dir / "model.ckpt").is_file():
        check_reusable(run_dir, experiment, overrides)
        log.info("%s: reusing %s", experiment, run_dir / "model.ckpt")
        return
    cmd = [sys.executable, "-m", "vcnlit.run", f"+experiment={experiment}", f"hydra.run.dir={run_dir}", *overrides]
    log.info("%s: training: %s", experiment, " ".join(cmd[1:]))
    if subprocess.run(cmd).returncode != 0:
        raise RunDirError(f"training {experiment} failed; see {run_dir / 'run.log'} (run the same command to resume)")


def evaluate(cfg: DictConfig, runs: Path, images: list, out: Path, prov: dict) -> dict[str, dict]:
    """Results of the baselines, the experiments and their IDN-only ablations on ``images``, each
    written to ``out/<name>.json``."""
    from vcnlit.baselines import build_baselines, run_baselines
    from vcnlit.checkpoint import load_model
    from vcnlit.eval.baselines import StageModelBaseline
    from vcnlit.eval.progress import progress
    from vcnlit.eval.report import model_results
    from vcnlit.eval.results import write_results

    curves: dict[str, dict] = {}
    with progress("tables: methods", len(method_names(cfg))) as advance:
        for b in build_baselines(cfg):
            curves.update(run_baselines([b], images, out, prov))
            advance()
        for exp in cfg.experiments:
            model = load_model(runs / exp / "model.ckpt", expect_experiment=exp)
            rates = (model.meta.get("config") or {}).get("eval", {}).get("rate_points") or cfg.eval.rate_points
            curves[exp] = model_results(model.system, model.codec, images, rates, exp,
                                        {"run_dir": str(runs / exp), **prov}, tile_size=cfg.eval.tile_size)
            write_results(out / f"{exp}.json", curves[exp])
            advance()
            if cfg.idn_only:
                b = StageModelBaseline(f"{exp}_idn_only", runs / exp, stage="imitation", points=rates)
                curves.update(run_baselines([b], images, out, prov))
                advance()
    return curves


def write_plots(cfg: DictConfig, curves: dict[str, dict], out: Path, title: str, note: str | None) -> None:
    """``rd_psnr.png`` and ``rd_ssim.png`` of every method, up to 1.25 x the experiments' highest bpp."""
    from vcnlit.eval.plots import plot_rd

    ordered = [curves[n] for n in method_names(cfg) if n in curves]
    xmax = 1.25 * max(max(curves[e]["results"]["bpp"]) for e in cfg.experiments)
    for metric in ("psnr", "ssim"):
        plot_rd(ordered, out / f"rd_{metric}.png", metric, title=title, xmax=xmax, note=note)


@hydra.main(version_base="1.3", config_path="../conf", config_name="tables")
def main(cfg: DictConfig) -> None:
    from vcnlit.eval.results import config_note, provenance, read_json
    from vcnlit.eval.tables import print_bd_summary
    from vcnlit.evaluate import test_images

    with exit_on_user_error():
        task = list(HydraConfig.get().overrides.task)
        overrides = training_overrides(task)
        runs = Path(cfg.runs_dir).resolve() / run_tag(overrides)
        cfg.experiments, overrides = colour_experiments(list(cfg.experiments), overrides, int(cfg.model.channels))
        dataset = cfg.dataset or ("embedded" if cfg.data.test_dir is None else Path(cfg.data.test_dir).name)
        out = Path(cfg.results_dir).resolve() / (cfg.dataset or results_name(dataset, task))
        if cfg.replot:
            missing = [n for n in method_names(cfg) if not (out / f"{n}.json").is_file()]
            if missing:
                raise ConfigError(f"replot=true: {out} has no {', '.join(f'{n}.json' for n in missing)}")
            curves = {n: read_json(out / f"{n}.json") for n in method_names(cfg)}
            meta = curves[cfg.experiments[0]]["meta"]
            write_plots(cfg, curves, out, f"{dataset} ({len(meta['images'])} images)", config_note(meta.get("config")))
            print_bd_summary([curves[n] for n in method_names(cfg)], cfg.anchor)
            log.info("redrew %s and %s from the results files", out / "rd_psnr.png", out / "rd_ssim.png")
            return
        for exp in cfg.experiments:
            train(exp, runs / exp, overrides)

        prov = provenance(OmegaConf.to_container(cfg, resolve=True))
        images = test_images(cfg, int(cfg.model.channels))
        log.info("evaluating on %d images (%s) -> %s", len(images), dataset, out)
        curves = evaluate(cfg, runs, images, out, prov)
        ordered = [curves[n] for n in method_names(cfg) if n in curves]
        write_plots(cfg, curves, out, f"{dataset} ({len(images)} images)", cfg.eval.note)
        print_bd_summary(ordered, cfg.anchor)
        (out / "tables.md").write_text(_document(cfg, dataset, images, ordered, runs, prov))
        log.info("wrote %s", out / "tables.md")


def _document(cfg: DictConfig, dataset: str, images: list, curves: list[dict], runs: Path, prov: dict) -> str:
    from vcnlit.eval.tables import markdown_tables

    names = ", ".join(n for n, _ in images)
    head = [
        f"# Rate-distortion results on `{dataset}`",
        "",
        *([f"**{cfg.eval.note}**", ""] if cfg.eval.note else []),
        f"- command: `{prov['command']}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; git commit {prov['git_commit']}; "
        f"torch {prov['versions'].get('torch')}, pillow {prov['versions'].get('pillow')}",
        f"- test images ({len(images)}, {int(cfg.model.channels)} channel(s)): {names}",
        f"- trained runs: `{portable_path(runs)}` (experiments: {', '.join(cfg.experiments)})",
        "- bpp = bytes of the real bitstream x 8 / pixels of the original image (vcnlit container "
        "included for our methods); PSNR/SSIM per image on 8-bit outputs, then averaged",
        "- `*_idn_only`: the same run after its imitation stage (no end-to-end training of the RSN)",
        "",
        "R1..Rn: each method's own rate points in increasing bpp (q: codec quality, step: DNNC "
        "quantisation step; JPEG 2000: compression ratio). Each cell: bpp / PSNR (dB) / SSIM.",
        "",
        "",
    ]
    return "\n".join(head) + markdown_tables(curves, cfg.anchor, list(cfg.bpp_targets)) + \
        "\n![PSNR vs bpp](rd_psnr.png)\n![SSIM vs bpp](rd_ssim.png)\n"


if __name__ == "__main__":
    main()
