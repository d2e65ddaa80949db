"""Rate-distortion curves: code every image at every rate point with real bitstreams."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.codecs.jpeg_tag import to_jpeg
from vcnlit.compressor import Compressor
from vcnlit.errors import ConfigError
from vcnlit.eval.metrics import bpp, distortion, mean, psnr_y
from vcnlit.eval.progress import progress as progress_bar
from vcnlit.multirate import ImageMemo, MultiRate

#: codes one (1, C, H, W) image at each rate in turn: (restored image, bytes of the real bitstream) per rate,
#: optionally with the bytes of the same stream in other file forms (``{"jpeg": n}``: results key ``bpp-jpeg``)
CodeFn = Callable[[Tensor, Sequence[float]], Iterator[tuple[Tensor, int] | tuple[Tensor, int, dict[str, int]]]]
METRICS = ("bpp", "psnr", "ssim", "ms-ssim")


def model_code_fn(compressor: Compressor, jpeg_sizes: bool = False) -> CodeFn:
    """A trained system through the vcnlit container; its RSN runs once per image (Y does not depend on
    the rate). ``jpeg_sizes``: a SCIC/JPEG model's standard JPEG file sizes too (``bpp-jpeg``)."""

    def code(x: Tensor, rates: Sequence[float]) -> Iterator[tuple[Tensor, int, dict[str, int]]]:
        y = compressor.rsn(compressor.pad(x))
        for rate in rates:
            rt = compressor.round_trip(x, rate, y=y, jpeg_sizes=jpeg_sizes)
            yield rt.x_hat, rt.nbytes[0], {} if rt.jpeg_nbytes is None else {"jpeg": rt.jpeg_nbytes[0]}

    return code


def multirate_code_fn(group: MultiRate, picks: list[list[tuple[str, float, float]]]) -> CodeFn:
    """A group of models (:mod:`vcnlit.multirate`) coding each image to each bpp target, as ``vcnlit
    compress --bpp`` does; a target below every member's range gets the first member's smallest file (of its most
    shrunk image). Each image appends to ``picks`` the (member, rate, resize factor) of each target's file; ``bpp-jpeg`` where
    every member's stream is a standard JPEG too (a group with a member of another format has no JPEG file of each
    point)."""
    jpeg = all(m.comp.has_jpeg_form for m in group.members)

    def code(x: Tensor, targets: Sequence[float]) -> Iterator[tuple[Tensor, int, dict[str, int]]]:
        memo, chosen = ImageMemo(), []
        picks.append(chosen)
        h, w = x.shape[-2:]
        for t in targets:
            try:
                c = group.compress_to_size(x[0], math.floor(t * h * w / 8), memo=memo, decode=True)
            except ConfigError:
                c = group.smallest(x[0], memo)
            assert c.x_hat is not None
            chosen.append((c.member.name, c.rate, c.resize))
            yield c.x_hat[None], len(c.data), {"jpeg": len(to_jpeg(c.data))} if jpeg else {}

    return code


def codec_code_fn(codec: Codec) -> CodeFn:
    """A codec applied to the image itself (the plain-codec baseline)."""

    def code(x: Tensor, rates: Sequence[float]) -> Iterator[tuple[Tensor, int]]:
        for rate in rates:
            res = codec.round_trip(x, rate)
            yield res.decoded, res.nbytes[0]

    return code


@torch.no_grad()
def rd_curve(
    code: CodeFn,
    images: Sequence[tuple[str, Tensor]],
    rate_points: Sequence[float],
    rate_key: str = "quality",
    label: str = "evaluating",
    progress: bool = True,
) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]]]:
    """Average and per-image RD points.

    Args:
        code: codes one image at each rate point (see :data:`CodeFn`).
        images: ``(name, image)`` pairs, each (C, H, W) or (1, C, H, W) in [0, 1].
        rate_points: the rates of the curve.
        rate_key: the name of the rate in the results (``quality``, ``step``).
        label: the progress bar's label.
        progress: draw a progress bar (only on a terminal).

    Returns:
        ``(results, results_by_image)`` in CompressAI's layout: ``results`` maps ``bpp``, ``psnr``,
        ``ssim``, ``ms-ssim`` and ``rate_key`` to one value per rate point (each metric computed per
        image, then averaged over images), ``bpp-<form>`` where ``code`` gives other file forms' sizes, plus CompressAI's ``psnr-rgb`` / ``ms-ssim-rgb`` keys (the
        values of ``psnr`` / ``ms-ssim``, over every channel the images have, grayscale too), so
        CompressAI's plotting (``python -m compressai.utils.plot``, metric ``psnr-rgb`` by default) reads
        the files unchanged. RGB images also get ``psnr-y`` (PSNR on luma).
    """
    if not images:
        raise ValueError("no images to evaluate")
    rates = [float(r) for r in rate_points]
    rgb = all(x.shape[-3] == 3 for _, x in images)
    metrics = (*METRICS, "psnr-y") if rgb else METRICS
    by_image: dict[str, dict[str, list[float]]] = {n: {m: [] for m in metrics} for n, _ in images}
    what = f"{label}: {len(images)} image{'s' * (len(images) != 1)} x {len(rates)} rates"
    with progress_bar(what, len(images) * len(rates), progress) as advance:
        for name, x in images:
            xb = x.unsqueeze(0) if x.dim() == 3 else x
            row = by_image[name]
            for x_hat, nbytes, *forms in code(xb, rates):
                row["bpp"].append(bpp(nbytes, xb.shape[-2], xb.shape[-1]))
                for form, n in (forms[0] if forms else {}).items():
                    row.setdefault(f"bpp-{form}", []).append(bpp(n, xb.shape[-2], xb.shape[-1]))
                for m, v in zip(METRICS[1:], distortion(x_hat, xb)):
                    row[m].append(v)
                if rgb:
                    row["psnr-y"].append(float(psnr_y(x_hat, xb)[0]))
                advance()
    keys = [*metrics, *sorted({k for row in by_image.values() for k in row} - set(metrics))]
    results: dict[str, list[float]] = {
        m: [mean([by_image[n][m][i] for n in by_image]) for i in range(len(rates))] for m in keys
    }
    results.update({f"{m}-rgb": results[m] for m in ("psnr", "ms-ssim")})
    results[rate_key] = rates
    return results, by_image
