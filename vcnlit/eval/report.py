"""Evaluate a model into a results file, and send RD results to whatever loggers a run has."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.codecs.registry import codec_spec
from vcnlit.compressor import DEFAULT_TILE_SIZE, Compressor
from vcnlit.eval.rd import METRICS, model_code_fn, multirate_code_fn, rd_curve
from vcnlit.eval.results import results_json
from vcnlit.multirate import TARGET_KEY, MultiRate
from vcnlit.nets import ResamplingSystem
from vcnlit.refinement import Refinement


def _coding_meta(coder: Compressor, jpeg_sizes: bool) -> dict[str, str]:
    """What a model's bitrates count and the precision its networks ran in."""
    jpeg = "; bpp-jpeg: of the standard JPEG file (vcnlit compress IN OUT.jpg)" if jpeg_sizes and coder.has_jpeg_form else ""
    return {"bpp_counts": f"bytes of the complete .vcn file x 8 / pixels of the original image{jpeg}",
            "inference": "bfloat16" if coder.bf16 else "float32"}


def model_results(system: ResamplingSystem, codec: Codec, images: Sequence[tuple[str, Tensor]],
                  rate_points: Sequence[float], name: str, extra_meta: dict[str, Any] | None = None,
                  progress: bool = True, tile_size: int | None = DEFAULT_TILE_SIZE,
                  refinement: Refinement | None = None, bf16: bool | None = None,
                  jpeg_sizes: bool = True) -> dict[str, Any]:
    """The model's RD curve on ``images`` (real bitstreams) as a CompressAI-format results dict; with
    ``refinement`` steps, every image's Y is refined at each rate before it is coded; ``bf16``: the
    networks' inference precision (:class:`~vcnlit.compressor.Compressor`; None: the CPU's fastest);
    ``jpeg_sizes``: a SCIC/JPEG model's standard JPEG file sizes too (``bpp-jpeg``; training's RD
    callback leaves them out)."""
    system.eval()
    rates = [float(r) for r in rate_points]
    coder = Compressor(system, codec, tile_size=tile_size, refinement=refinement, bf16=bf16)
    results, by_image = rd_curve(model_code_fn(coder, jpeg_sizes=jpeg_sizes), images, rates, codec.rate_key,
                                 label=name, progress=progress)
    meta = {"experiment": name, "channels": system.channels, "scale": system.scale, "rate_key": codec.rate_key,
            "rate_points": rates, "codec": codec_spec(codec), "images": [n for n, _ in images],
            **_coding_meta(coder, jpeg_sizes),
            **({"refinement": asdict(refinement)} if refinement and refinement.steps else {}),
            **(extra_meta or {})}
    return results_json(name, f"vcnlit {name} on {len(images)} images", results, by_image, meta)


def multirate_results(group: MultiRate, images: Sequence[tuple[str, Tensor]], targets: Sequence[float],
                       extra_meta: dict[str, Any] | None = None, progress: bool = True) -> dict[str, Any]:
    """A group of models' RD curve (:mod:`vcnlit.multirate`): every image coded at every bpp target (rate
    key ``bpp_target``) by the group's rule, real files; meta records which member coded each point."""
    picks: list[list[tuple[str, float, float]]] = []
    targets = [float(t) for t in targets]
    results, by_image = rd_curve(multirate_code_fn(group, picks), images, targets, TARGET_KEY, label=group.name,
                                 progress=progress)
    first = group.members[0].comp
    meta = {"experiment": group.name, "channels": group.members[0].model.system.channels, "rate_key": TARGET_KEY,
            "rate_points": targets, "members": {m.name: {"codec": codec_spec(m.model.codec),
                                                         "rates": [min(m.grid), max(m.grid)],
                                                         **({"resize": list(m.resize)} if m.resize else {})}
                        for m in group.members},
            "rule": "each member's largest file within the target (bytes of the .vcn file), of the image and of each "
                    "resized copy of it, decoded; the highest "
                    "RGB PSNR wins; a target below every member's range: the first member's smallest file",
            "coded_by": {n: [{"member": m, "rate": r, **({"resize": f} if f != 1 else {})} for m, r, f in p]
                         for (n, _), p in zip(images, picks)},
            "images": [n for n, _ in images],
            **_coding_meta(first, jpeg_sizes=all(m.comp.has_jpeg_form for m in group.members)), **(extra_meta or {})}
    return results_json(group.name, f"vcnlit {group.name} on {len(images)} images", results, by_image, meta)


def rd_table(curves: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of one table holding every curve's RD points."""
    cols = ["method", "rate", *METRICS]
    rows = []
    for c in curves:
        r = c["results"]
        key = c.get("meta", {}).get("rate_key", "quality")
        for i in range(len(r["bpp"])):
            rows.append([c["name"], (r.get(key) or [None] * len(r["bpp"]))[i], *(r[m][i] for m in METRICS)])
    return cols, rows


def flat_metrics(prefix: str, curve: dict[str, Any]) -> dict[str, float]:
    """``{prefix}/{metric}@{rate_key}={rate}`` for every finite value of a results dict."""
    r, key = curve["results"], curve.get("meta", {}).get("rate_key", "quality")
    out = {}
    for m in METRICS:
        for rate, v in zip(r[key], r[m]):
            if v is not None and math.isfinite(v):
                out[f"{prefix}/{m}@{key}={rate:g}"] = float(v)
    return out


def log_rd(loggers: Sequence[Any], prefix: str, model: dict[str, Any], curves: Sequence[dict[str, Any]],
           plot: Path | None, step: int | None = None) -> None:
    """Log a model's RD points (scalars), a table of all ``curves``, a line plot and the PNG.

    Scalars go to every logger; W&B also gets a Table, a bpp-PSNR line plot and the image;
    TensorBoard gets the image. CSV loggers get the scalars only.
    """
    scalars = flat_metrics(prefix, model)
    for lg in loggers:
        lg.log_metrics(scalars, step=step)
        kind = type(lg).__name__
        if kind == "WandbLogger":
            import wandb

            cols, rows = rd_table(curves)
            table = wandb.Table(columns=cols, data=rows)
            payload: dict[str, Any] = {f"{prefix}/rd_table": table,
                                       f"{prefix}/rd_curve": wandb.plot.line(table, "bpp", "psnr", stroke="method",
                                                                            title=f"{prefix}: PSNR vs bpp")}
            if plot is not None:
                payload[f"{prefix}/rd_plot"] = wandb.Image(str(plot))
            lg.experiment.log(payload)
        elif kind == "TensorBoardLogger" and plot is not None:
            lg.experiment.add_image(f"{prefix}/rd_plot", np.asarray(Image.open(plot).convert("RGB")),
                                    global_step=step or 0, dataformats="HWC")
