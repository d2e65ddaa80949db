"""Evaluate a trained model on a folder of images: ``python -m vcnlit.evaluate ckpt_path=PATH|model=NAME data.test_dir=DIR``.

Writes ``rd.json`` (CompressAI's results layout) into the Hydra run directory,
plus the plain-codec baseline on the same images and an RD plot.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.codecs.registry import build_codec, codec_spec
from vcnlit.compressor import DEFAULT_TILE_SIZE
from vcnlit.errors import ConfigError, check_choice, exit_on_user_error
from vcnlit.eval.baselines import CodecBaseline, baseline_codec_spec
from vcnlit.eval.compare import matched, print_summary
from vcnlit.eval.plots import plot_rd
from vcnlit.eval.report import log_rd, model_results, multirate_results
from vcnlit.eval.results import config_note, provenance, write_results
from vcnlit.nets import ResamplingSystem
from vcnlit.nets.system import ENSEMBLE_SIZES
from vcnlit.refinement import Refinement

log = logging.getLogger(__name__)


def evaluate_and_write(system: ResamplingSystem, codec: Codec, images: list[tuple[str, Tensor]],
                       cfg: DictConfig, out_dir: Path, logger: Any = None,
                       experiment: str | None = None) -> dict[str, Any]:
    """Model RD curve + plain-codec baseline on ``images``; write rd.json, baseline JSON and rd.png.

    ``eval.baseline=false`` leaves the baseline out (rd.json and rd.png of the model alone).
    """
    experiment = experiment or cfg.experiment_name
    prov = provenance(OmegaConf.to_container(cfg, resolve=True))
    refinement = Refinement(**cfg.eval.get("refine", {}))
    rd = model_results(system, codec, images, cfg.eval.rate_points, experiment, prov,
                       tile_size=cfg.eval.get("tile_size", DEFAULT_TILE_SIZE), refinement=refinement,
                       bf16=cfg.eval.get("bf16"))
    return write_with_baseline(rd, codec, images, cfg, out_dir, logger)


def write_with_baseline(rd: dict[str, Any], codec: Codec, images: list[tuple[str, Tensor]], cfg: DictConfig,
                        out_dir: Path, logger: Any = None) -> dict[str, Any]:
    """Write a model's curve ``rd`` (rd.json), and unless ``eval.baseline=false`` the plain-codec baseline of
    ``codec``'s encoder settings on ``images``, the comparison and rd.png."""
    experiment = rd["meta"]["experiment"]
    write_results(out_dir / "rd.json", rd)
    if not cfg.eval.get("baseline", True):
        plot = plot_rd([rd], out_dir / "rd.png", "psnr", title=f"{experiment} ({len(images)} images)",
                       xmax=1.5 * max(rd["results"]["bpp"]), note=cfg.eval.get("note"))
        log.info("wrote %s and %s", out_dir / "rd.json", plot)
        if logger:
            log_rd([logger], "test", rd, [rd], plot)
        return {"rd": rd, "baseline": None, "rows": []}

    # the plain standard codec with the same encoder settings (JPEG unless the model's codec is standard)
    spec = baseline_codec_spec(codec)
    baseline = CodecBaseline(spec["format"], spec, cfg.eval.baseline_points)
    base = baseline.evaluate(images, provenance(OmegaConf.to_container(cfg, resolve=True)))
    base_path = write_results(out_dir / f"baseline_{baseline.name}.json", base)
    note = cfg.eval.get("note")
    plot = plot_rd([rd, base], out_dir / "rd.png", "psnr", title=f"{experiment} ({len(images)} images)",
                   xmax=1.5 * max(rd["results"]["bpp"]), note=note)

    key = rd["meta"]["rate_key"]
    rows = matched(rd["results"], base["results"], key)
    title = f"{experiment}: test images vs plain {baseline.name} at the nearest bpp"
    print_summary(f"{title}\n{note}" if note else title, rows, key, baseline.name)
    log.info("wrote %s, %s and %s", out_dir / "rd.json", base_path, plot)
    if logger:
        log_rd([logger], "test", rd, [rd, base], plot)
    return {"rd": rd, "baseline": base, "rows": rows}


def test_images(cfg: DictConfig, channels: int) -> list[tuple[str, Tensor]]:
    """The images of ``data.test_dir`` (the embedded test split when unset), at most ``data.max_eval_images``."""
    from vcnlit.data import load_folder
    from vcnlit.data.embedded import materialize

    test_dir = cfg.data.test_dir or materialize(cfg.data.embedded_dir)["test"]
    images = load_folder(test_dir, channels, "data.test_dir", cfg.data.on_bad_image)
    return images[: cfg.data.max_eval_images] if cfg.data.max_eval_images else images


def evaluate_composite(cfg: DictConfig, name: str) -> dict[str, Any]:
    """A zoo composite's curve at ``eval.rate_points`` bpp targets (None: :data:`vcnlit.multirate.TARGETS`),
    each member with this run's encoder settings, flips, tiles and precision; compared with the first
    member's plain codec. ``eval.members`` puts other zoo models in its members' places (with their options)."""
    from vcnlit.checkpoint import load_model
    from vcnlit.compressor import Compressor
    from vcnlit.multirate import TARGETS, MultiRate, member
    from vcnlit.zoo import composites, resolve

    members, spec = [], composites()[name]
    names = list(cfg.eval.get("members") or spec.members)
    if len(names) != len(spec.members):
        raise ConfigError(f"eval.members names {len(names)} models; {name} has {len(spec.members)}: {list(spec.members)}")
    for n, own in zip(names, spec.members):
        model = load_model(resolve(n))
        if cfg.get("self_ensemble") is not None:
            model.system.set_self_ensemble(int(cfg.self_ensemble))
        model.codec = with_encoder(model.codec, cfg.get("encoder"))
        comp = Compressor(model.system.eval(), model.codec, tile_size=cfg.eval.get("tile_size", DEFAULT_TILE_SIZE),
                          refinement=Refinement(**cfg.eval.get("refine", {})), bf16=cfg.eval.get("bf16"))
        opts = spec.options(own)
        if own == spec.members[0] and cfg.eval.get("resize") is not None:
            opts["resize"] = tuple(float(f) for f in cfg.eval.resize)
        members.append(member(n, model, comp, **opts))
    _rate_points(cfg, list(TARGETS))
    group = MultiRate(name, members)
    images = test_images(cfg, members[0].model.system.channels)
    rd = multirate_results(group, images, cfg.eval.rate_points,
                           provenance(OmegaConf.to_container(cfg, resolve=True)))
    return write_with_baseline(rd, members[0].model.codec, images, cfg, Path(cfg.paths.run_dir))


def _rate_points(cfg: DictConfig, trained: list[float]) -> None:
    if cfg.eval.rate_points is None:
        if not trained:
            raise ConfigError("set eval.rate_points=[...]: the model file does not record its rate points")
        cfg.eval.rate_points = trained


def model_path(cfg: DictConfig) -> Path:
    """The model to evaluate: ``ckpt_path=PATH`` (a run's model.ckpt) or ``model=NAME`` (a zoo model)."""
    from vcnlit.zoo import resolve

    if (cfg.get("ckpt_path") is None) == (cfg.get("zoo") is None):
        raise ConfigError("give one of ckpt_path=PATH (a run's model.ckpt) or model=NAME (a zoo model: vcnlit models)")
    if cfg.get("ckpt_path") is not None:
        return Path(cfg.ckpt_path)
    return resolve(str(cfg.zoo))


def with_encoder(codec: Codec, settings: Mapping[str, Any] | None) -> Codec:
    """``codec`` with the encoder settings that are not None in ``settings`` changed (its streams decode
    with the same decoder)."""
    changed = {k: v for k, v in (settings or {}).items() if v is not None}
    if not changed:
        return codec
    return build_codec({**codec_spec(codec), **changed})


def zoo_alias(argv: list[str]) -> list[str]:
    """``model=NAME`` on the command line names a zoo model: Hydra would read ``model`` as the training
    config's group, so it becomes ``zoo=NAME`` before Hydra parses the command line."""
    return [f"zoo={a[len('model='):]}" if a.startswith("model=") else a for a in argv]


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from vcnlit.checkpoint import load_model
    from vcnlit.zoo import composites

    with exit_on_user_error():
        ensemble = cfg.get("self_ensemble")
        check_choice("self_ensemble", ensemble, (*ENSEMBLE_SIZES, None))
        if cfg.get("ckpt_path") is None and cfg.get("zoo") in composites():
            evaluate_composite(cfg, str(cfg.zoo))
            return
        model = load_model(model_path(cfg))
        _rate_points(cfg, model.rate_points)
        cfg.eval.note = cfg.eval.note or config_note(model.meta.get("config"))  # a smoke-trained model's
        if ensemble is not None:
            model.system.set_self_ensemble(int(ensemble))
        model.codec = with_encoder(model.codec, cfg.get("encoder"))
        images = test_images(cfg, model.system.channels)
        evaluate_and_write(model.system, model.codec, images, cfg, Path(cfg.paths.run_dir),
                           experiment=model.experiment)


if __name__ == "__main__":
    sys.argv = zoo_alias(sys.argv)
    main()
