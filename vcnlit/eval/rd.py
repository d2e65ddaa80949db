"""Rate-distortion curves: code every image at every rate point with real bitstreams."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from rich.progress import Progress
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.compressor import Compressor
from vcnlit.eval.metrics import bpp, mean, ms_ssim_per_image, psnr, psnr_y, ssim_per_image

#: codes one (1, C, H, W) image at one rate: (restored image, bytes of the real bitstream)
CodeFn = Callable[[Tensor, float], tuple[Tensor, int]]
METRICS = ("bpp", "psnr", "ssim", "ms-ssim")


def model_code_fn(compressor: Compressor) -> CodeFn:
    def code(x: Tensor, rate: float) -> tuple[Tensor, int]:
        rt = compressor.round_trip(x, rate)
        return rt.x_hat, rt.nbytes[0]

    return code


def codec_code_fn(codec: Codec) -> CodeFn:
    """A codec applied to the image itself (the plain-codec baseline)."""

    def code(x: Tensor, rate: float) -> tuple[Tensor, int]:
        res = codec.round_trip(x, rate)
        return res.decoded, res.nbytes[0]

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

    Returns ``(results, results_by_image)`` in CompressAI's layout: ``results`` maps
    ``bpp``, ``psnr``, ``ssim``, ``ms-ssim`` and ``rate_key`` to one value per rate
    point (each metric computed per image, then averaged over images). RGB images also get
    ``psnr-y`` (PSNR on luma) and CompressAI's ``psnr-rgb`` / ``ms-ssim-rgb`` keys (the same values
    as ``psnr`` / ``ms-ssim``), so CompressAI's plotting reads the files unchanged.
    """
    if not images:
        raise ValueError("no images to evaluate")
    rgb = all(x.shape[-3] == 3 for _, x in images)
    metrics = (*METRICS, "psnr-y") if rgb else METRICS
    by_image: dict[str, dict[str, list[float]]] = {n: {m: [] for m in metrics} for n, _ in images}
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(label, total=len(images) * len(rate_points))
        for rate in rate_points:
            for name, x in images:
                xb = x.unsqueeze(0) if x.dim() == 3 else x
                x_hat, nbytes = code(xb, float(rate))
                row = by_image[name]
                row["bpp"].append(bpp(nbytes, xb.shape[-2], xb.shape[-1]))
                row["psnr"].append(float(psnr(x_hat, xb)[0]))
                row["ssim"].append(float(ssim_per_image(x_hat, xb)[0]))
                row["ms-ssim"].append(float(ms_ssim_per_image(x_hat, xb)[0]))
                if rgb:
                    row["psnr-y"].append(float(psnr_y(x_hat, xb)[0]))
                bar.advance(task)
    results: dict[str, list[float]] = {
        m: [mean([by_image[n][m][i] for n in by_image]) for i in range(len(rate_points))] for m in metrics
    }
    if rgb:
        results.update({f"{m}-rgb": results[m] for m in ("psnr", "ms-ssim")})
    results[rate_key] = [float(r) for r in rate_points]
    return results, by_image
