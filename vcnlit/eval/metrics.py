"""Distortion metrics on 8-bit-rounded images, per image (average over images afterwards)."""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import torch
from pytorch_msssim import ms_ssim, ssim
from torch import Tensor


def quantize8(x: Tensor) -> Tensor:
    """Round [0, 1] images to the 256 levels a PNG would store (still in [0, 1])."""
    return (x.clamp(0, 1) * 255.0).round() / 255.0


def psnr(x_hat: Tensor, x: Tensor) -> Tensor:
    """PSNR in dB of each image of a (B, C, H, W) batch, after 8-bit rounding (inf capped at 100 dB)."""
    mse = (quantize8(x_hat) - quantize8(x)).pow(2).flatten(1).mean(1)
    return (10.0 * torch.log10(1.0 / mse.clamp_min(1e-10))).clamp_max(100.0)


def psnr_y(x_hat: Tensor, x: Tensor) -> Tensor:
    """PSNR in dB on the luma (ITU-R BT.601 Y, full range) of each RGB image, after 8-bit rounding."""
    from kornia.color import rgb_to_ycbcr  # kornia takes half a second to import: only when needed

    y_hat, y = (rgb_to_ycbcr(quantize8(t))[:, :1] for t in (x_hat, x))
    mse = (y_hat - y).pow(2).flatten(1).mean(1)
    return (10.0 * torch.log10(1.0 / mse.clamp_min(1e-10))).clamp_max(100.0)


def _win(x: Tensor) -> int:
    w = min(11, min(x.shape[-2:]))
    return w if w % 2 == 1 else w - 1


def ssim_per_image(x_hat: Tensor, x: Tensor) -> Tensor:
    """SSIM (Gaussian window 11, 8-bit data range) of each image; smaller windows for tiny images."""
    w = _win(x)
    if w < 3:
        return torch.full((x.shape[0],), float("nan"))
    return ssim(quantize8(x_hat) * 255, quantize8(x) * 255, data_range=255, size_average=False, win_size=w)


def ms_ssim_per_image(x_hat: Tensor, x: Tensor) -> Tensor:
    """MS-SSIM of each image; NaN for images too small for its five scales (< 161 px a side)."""
    if min(x.shape[-2:]) <= 160:
        return torch.full((x.shape[0],), float("nan"))
    return ms_ssim(quantize8(x_hat) * 255, quantize8(x) * 255, data_range=255, size_average=False)


#: PSNR, SSIM and MS-SSIM of recently measured (decoded, original) pairs, by content
_MEASURED: OrderedDict[bytes, tuple[float, float, float]] = OrderedDict()
_MEASURED_MAX = 4096


def _content_key(x_hat: Tensor, x: Tensor) -> bytes:
    """The 8-bit levels of both images (all the metrics see) and their shape, hashed."""
    h = hashlib.blake2b(repr((tuple(x_hat.shape), tuple(x.shape))).encode(), digest_size=20)
    for t in (x_hat, x):
        h.update((t.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy().tobytes())
    return h.digest()


def distortion(x_hat: Tensor, x: Tensor) -> tuple[float, float, float]:
    """PSNR, SSIM and MS-SSIM of one decoded (1, C, H, W) image against its original.

    A pair measured before is not measured again: codecs that differ only in their entropy coding
    (JPEG with and without Huffman optimisation) decode to the same pixels.

    Args:
        x_hat: the decoded image.
        x: the original image.

    Returns:
        ``(psnr, ssim, ms_ssim)``, exactly as :func:`psnr`, :func:`ssim_per_image` and
        :func:`ms_ssim_per_image` give them.
    """
    if x.shape[0] != 1:
        raise ValueError(f"expected one image, got a batch of {x.shape[0]}")
    key = _content_key(x_hat, x) if bool(torch.isfinite(x_hat).all()) else None
    if key in _MEASURED:
        _MEASURED.move_to_end(key)
        return _MEASURED[key]
    values = (float(psnr(x_hat, x)[0]), float(ssim_per_image(x_hat, x)[0]), float(ms_ssim_per_image(x_hat, x)[0]))
    if key is not None:
        _MEASURED[key] = values
        if len(_MEASURED) > _MEASURED_MAX:
            _MEASURED.popitem(last=False)
    return values


def bpp(nbytes: int, height: int, width: int) -> float:
    """Bits per pixel of the original image: bytes x 8 / (height x width)."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return nbytes * 8.0 / (height * width)


def mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else float("nan")
