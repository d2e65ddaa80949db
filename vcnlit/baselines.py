"""Evaluate the baselines on a folder: ``python -m vcnlit.baselines data.test_dir=DIR``.

Writes one CompressAI-format results JSON per baseline (``jpeg.json``, ``jpeg_optimized.json``,
``jpeg2000.json``, ``webp.json``, ``avif.json``, ``bicubic_jpeg.json``, and ``<experiment>_idn_only.json``
per run in ``idn_only_runs``) into the Hydra run directory, plus PSNR/SSIM plots.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from vcnlit.errors import ConfigError, exit_on_user_error
from vcnlit.eval.baselines import Baseline, StageModelBaseline
from vcnlit.eval.plots import plot_rd
from vcnlit.eval.progress import progress
from vcnlit.eval.results import provenance, read_json, write_results
from vcnlit.eval.tables import print_bd_summary

log = logging.getLogger(__name__)


def build_baselines(cfg: DictConfig) -> list[Baseline]:
    """The configured codec baselines, then one IDN-only ablation per run in ``idn_only_runs``."""
    out: list[Baseline] = [instantiate(b) for b in (cfg.get("baseline_set") or {}).values()]
    for run in cfg.get("idn_only_runs") or []:
        b = StageModelBaseline("", run, stage="imitation")
        b.name = f"{b.model.experiment}_idn_only"
        out.append(b)
    return out


def run_baselines(baselines: Sequence[Baseline], images: Sequence[tuple[str, Tensor]], out_dir: Path,
                  prov: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Evaluate every baseline on ``images``; write ``<name>.json`` each into ``out_dir``."""
    channels = int(images[0][1].shape[-3])
    curves = {}
    with progress(f"{len(baselines)} baselines", len(baselines), len(baselines) > 1) as advance:
        for b in baselines:
            model = getattr(b, "model", None)
            if model is not None and model.system.channels != channels:
                raise ConfigError(f"{b.name}: the model codes {model.system.channels}-channel images but the "
                                  f"images were read with {channels}; set data.channels={model.system.channels}")
            curves[b.name] = b.evaluate(images, prov)
            write_results(out_dir / f"{b.name}.json", curves[b.name])
            advance()
    return curves


@hydra.main(version_base="1.3", config_path="../conf", config_name="baselines")
def main(cfg: DictConfig) -> None:
    from vcnlit.evaluate import test_images

    with exit_on_user_error():
        out_dir = Path(cfg.paths.run_dir)
        baselines = build_baselines(cfg)
        compared = [read_json(f) for f in cfg.get("compare") or []]
        curves: dict[str, dict[str, Any]] = {}
        if baselines:  # none (~baseline_set): only the BD summary of the results files in `compare`
            images = test_images(cfg, int(cfg.data.channels))
            curves = run_baselines(baselines, images, out_dir, provenance(OmegaConf.to_container(cfg, resolve=True)))
            for metric in ("psnr", "ssim"):
                plot_rd(list(curves.values()), out_dir / f"baselines_{metric}.png", metric,
                        title=f"baselines ({len(images)} images)", xmax=2.0)
        elif not compared:
            raise ConfigError("nothing to do: no baselines (~baseline_set) and no results files in compare=[...]")
        print_bd_summary([*curves.values(), *compared], cfg.anchor, max_bpp=cfg.get("bd_max_bpp"))
        if curves:
            log.info("wrote %d results files to %s", len(curves), out_dir)


if __name__ == "__main__":
    main()
