"""Evaluate a trained model on a folder of images: ``python -m vcnlit.evaluate ckpt_path=PATH data.test_dir=DIR``.

Writes ``rd.json`` (CompressAI's results layout) into the Hydra run directory,
plus the plain-codec baseline on the same images and an RD plot.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.codecs.registry import build_codec, codec_spec
from vcnlit.compressor import Compressor
from vcnlit.eval.compare import matched, print_summary
from vcnlit.eval.plots import plot_rd
from vcnlit.eval.rd import codec_code_fn, model_code_fn, rd_curve
from vcnlit.eval.results import provenance, results_json, write_json
from vcnlit.nets import ResamplingSystem

log = logging.getLogger(__name__)


def evaluate_and_write(system: ResamplingSystem, codec: Codec, images: list[tuple[str, Tensor]],
                       cfg: DictConfig, out_dir: Path, logger: Any = None,
                       experiment: str | None = None) -> dict[str, Any]:
    """Model RD curve + plain-codec baseline on ``images``; write rd.json, baseline JSON and rd.png."""
    experiment = experiment or cfg.experiment_name
    rate_points = [float(r) for r in cfg.eval.rate_points]
    system.eval()
    prov = provenance(OmegaConf.to_container(cfg, resolve=True))
    results, by_image = rd_curve(model_code_fn(Compressor(system, codec)), images, rate_points,
                                 codec.rate_key, label=f"{experiment}: RD curve")
    meta = {"experiment": experiment, "channels": system.channels, "rate_key": codec.rate_key,
            "rate_points": rate_points, "codec": codec_spec(codec), "images": [n for n, _ in images],
            "bpp_counts": "payload bytes of the real bitstream x 8 / pixels of the original image", **prov}
    rd = results_json(experiment, f"vcnlit {experiment} on {len(images)} images", results, by_image, meta)
    write_json(out_dir / "rd.json", rd)

    # the plain standard codec with the same encoder settings (JPEG unless the model's codec is standard)
    base_spec = codec_spec(codec) if codec.mode == "scic" else {"format": "jpeg", "optimize": True}
    base_codec = build_codec(base_spec, rate=float(cfg.eval.baseline_points[0]))
    base_pts = [float(q) for q in cfg.eval.baseline_points]
    b_res, b_by = rd_curve(codec_code_fn(base_codec), images, base_pts, "quality", label=f"{base_codec.name} baseline")
    base = results_json(base_codec.name, f"plain {base_codec.name} (Pillow) with the settings {codec_spec(base_codec)}",
                        b_res, b_by, {"channels": system.channels, "codec": codec_spec(base_codec), **prov})
    write_json(out_dir / f"baseline_{base_codec.name}.json", base)
    plot = plot_rd([rd, base], out_dir / "rd.png", "psnr", title=f"{experiment} ({len(images)} images)",
                   xmax=1.5 * max(results["bpp"]))

    rows = matched(results, b_res, codec.rate_key)
    print_summary(f"{experiment}: test images vs plain {base_codec.name} at the nearest bpp",
                  rows, codec.rate_key, base_codec.name)
    log.info("wrote %s, %s and %s", out_dir / "rd.json", out_dir / f"baseline_{base_codec.name}.json", plot)
    if logger:
        _log_rd(logger, rd, base, plot)
    return {"rd": rd, "baseline": base, "rows": rows}


def _log_rd(logger: Any, rd: dict, base: dict, plot: Path) -> None:
    flat = {f"test/{k}@{rd['meta']['rate_key']}={r:g}": v
            for k in ("bpp", "psnr", "ssim") for r, v in zip(rd["results"][rd["meta"]["rate_key"]], rd["results"][k])}
    logger.log_metrics(flat)
    if type(logger).__name__ == "WandbLogger":
        import wandb

        cols = ["method", "bpp", "psnr", "ssim"]
        data = [[c["name"], b, p, s] for c in (rd, base)
                for b, p, s in zip(c["results"]["bpp"], c["results"]["psnr"], c["results"]["ssim"])]
        logger.experiment.log({"test/rd_table": wandb.Table(columns=cols, data=data),
                               "test/rd_plot": wandb.Image(str(plot))})


def _rate_points(cfg: DictConfig, loaded_meta: dict) -> None:
    if cfg.eval.rate_points is None:
        trained = (loaded_meta.get("config") or {}).get("eval", {}).get("rate_points")
        if not trained:
            raise ValueError("set eval.rate_points=[...]: the model file does not record its rate points")
        cfg.eval.rate_points = trained


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from vcnlit.checkpoint import load_model
    from vcnlit.data import load_folder
    from vcnlit.data.embedded import materialize
    from vcnlit.errors import exit_on_user_error

    with exit_on_user_error():
        model = load_model(cfg.ckpt_path)
        _rate_points(cfg, model.meta)
        test_dir = cfg.data.test_dir or materialize(cfg.data.embedded_dir)["test"]
        images = load_folder(test_dir, model.system.channels, "data.test_dir", cfg.data.on_bad_image)
        if cfg.data.max_eval_images:
            images = images[: cfg.data.max_eval_images]
        evaluate_and_write(model.system, model.codec, images, cfg, Path(cfg.paths.run_dir),
                           experiment=model.experiment)


if __name__ == "__main__":
    main()
