"""Reproduce the paper's tables: ``make tables`` (``python experiments/tables.py [overrides]``).

Trains (or reuses) the four experiments, evaluates them, their IDN-only ablations and the
baselines on one test set with real bitstreams, and writes to ``experiments/results/<dataset>/``:
one CompressAI-format JSON per method, ``tables.md`` (bpp / PSNR / SSIM per rate point and
BD-rate vs JPEG) and RD plots (``rd_psnr.png``, ``rd_ssim.png``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("vcnlit.tables")

#: keys of conf/tables.yaml that configure this script, not the training runs
OWN_KEYS = {"experiments", "runs_dir", "results_dir", "dataset", "anchor", "idn_only", "bpp_targets",
            "baseline_set", "experiment_name", "hydra"}
#: training overrides that do not change the trained model (kept out of the run folder's tag)
EVAL_ONLY = {"data.test_dir", "data.max_eval_images", "data.on_bad_image", "logger"}


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def training_overrides(task_overrides: list[str]) -> list[str]:
    return [o for o in task_overrides if _key(o).split(".")[0].split("/")[0] not in OWN_KEYS]


def run_tag(overrides: list[str]) -> str:
    """Folder name of a set of training overrides: ``default``, ``debug-smoke``, or a hash when long."""
    relevant = sorted(o for o in overrides if _key(o) not in EVAL_ONLY)
    if not relevant:
        return "default"
    tag = re.sub(r"[^A-Za-z0-9.,_-]+", "-", "_".join(relevant))
    return tag if len(tag) <= 60 else tag[:40] + "-" + hashlib.sha1(tag.encode()).hexdigest()[:8]


def train(experiment: str, run_dir: Path, overrides: list[str]) -> None:
    """Train one experiment into ``run_dir`` (resumes an unfinished run), unless it holds model.ckpt."""
    if (run_dir / "model.ckpt").is_file():
        log.info("%s: reusing %s", experiment, run_dir / "model.ckpt")
        return
    cmd = [sys.executable, "-m", "vcnlit.run", f"+experiment={experiment}", f"hydra.run.dir={run_dir}", *overrides]
    log.info("%s: training: %s", experiment, " ".join(cmd[1:]))
    if subprocess.run(cmd).returncode != 0:
        sys.exit(f"error: training {experiment} failed; see {run_dir / 'run.log'} (run the same command to resume)")


@hydra.main(version_base="1.3", config_path="../conf", config_name="tables")
def main(cfg: DictConfig) -> None:
    from vcnlit.baselines import build_baselines, run_baselines
    from vcnlit.checkpoint import load_model
    from vcnlit.errors import exit_on_user_error
    from vcnlit.eval.baselines import StageModelBaseline
    from vcnlit.eval.plots import plot_rd
    from vcnlit.eval.report import model_results
    from vcnlit.eval.results import provenance, write_json
    from vcnlit.eval.tables import print_bd_summary
    from vcnlit.evaluate import test_images

    with exit_on_user_error():
        overrides = training_overrides(list(HydraConfig.get().overrides.task))
        runs = Path(cfg.runs_dir).resolve() / run_tag(overrides)
        dataset = cfg.dataset or ("embedded" if cfg.data.test_dir is None else Path(cfg.data.test_dir).name)
        out = Path(cfg.results_dir).resolve() / dataset
        for exp in cfg.experiments:
            train(exp, runs / exp, overrides)

        prov = provenance(OmegaConf.to_container(cfg, resolve=True))
        images = test_images(cfg, int(cfg.model.channels))
        log.info("evaluating on %d images (%s) -> %s", len(images), dataset, out)
        curves = run_baselines(build_baselines(cfg), images, out, prov)
        for exp in cfg.experiments:
            model = load_model(runs / exp / "model.ckpt", expect_experiment=exp)
            rates = (model.meta.get("config") or {}).get("eval", {}).get("rate_points") or cfg.eval.rate_points
            curves[exp] = model_results(model.system, model.codec, images, rates, exp,
                                        {"run_dir": str(runs / exp), **prov}, tile_size=cfg.eval.tile_size)
            write_json(out / f"{exp}.json", curves[exp])
            if cfg.idn_only:
                b = StageModelBaseline(f"{exp}_idn_only", runs / exp, stage="imitation", points=rates)
                curves[b.name] = run_baselines([b], images, out, prov)[b.name]

        order = [*cfg.experiments, *(f"{e}_idn_only" for e in cfg.experiments if cfg.idn_only),
                 *(n for n in curves if n not in cfg.experiments and not n.endswith("_idn_only"))]
        ordered = [curves[n] for n in order if n in curves]
        xmax = 1.25 * max(max(curves[e]["results"]["bpp"]) for e in cfg.experiments)
        for metric in ("psnr", "ssim"):
            plot_rd(ordered, out / f"rd_{metric}.png", metric, title=f"{dataset} ({len(images)} images)", xmax=xmax)
        print_bd_summary(ordered, cfg.anchor)
        (out / "tables.md").write_text(_document(cfg, dataset, images, ordered, runs, prov))
        log.info("wrote %s", out / "tables.md")


def _document(cfg: DictConfig, dataset: str, images: list, curves: list[dict], runs: Path, prov: dict) -> str:
    from vcnlit.eval.tables import markdown_tables

    names = ", ".join(n for n, _ in images)
    head = [
        f"# Rate-distortion results on `{dataset}`",
        "",
        f"- command: `{prov['command']}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; git commit {prov['git_commit']}; "
        f"torch {prov['versions'].get('torch')}, pillow {prov['versions'].get('pillow')}",
        f"- test images ({len(images)}, {int(cfg.model.channels)} channel(s)): {names}",
        f"- trained runs: `{runs}` (experiments: {', '.join(cfg.experiments)})",
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
