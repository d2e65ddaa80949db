"""Orthonormal block DCT-II (JPEG style), vectorised with one DCT matrix and two matmuls.

Coefficient layouts:

* *in place*: same shape as the image, each ``block x block`` tile holds its block's
  coefficients (row frequency ``u`` down, column frequency ``v`` across);
* *bands*: ``(..., C, n_blocks, block * block)`` with blocks in raster order and band
  index ``u * block + v``, so band 0 is DC and each column is one frequency band.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from vcnlit.errors import ConfigError


def dct_matrix(n: int = 8, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """The orthonormal DCT-II matrix ``D`` (``D @ D.T == I``): row ``k`` is frequency ``k``."""
    if n < 1:
        raise ValueError(f"DCT size must be >= 1, got {n}")
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] = math.sqrt(1.0 / n)
    return d.to(dtype=dtype, device=device)


def _check(x: Tensor, block: int) -> None:
    if x.dim() not in (3, 4):
        raise ValueError(f"expected a (C, H, W) or (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if block < 1 or h % block or w % block:
        raise ValueError(f"height and width ({h}, {w}) must be multiples of the block size {block}")


def _tiles(x: Tensor, block: int) -> Tensor:
    """(..., H, W) -> (..., H/b, W/b, b, b)."""
    *lead, h, w = x.shape
    t = x.reshape(*lead, h // block, block, w // block, block)
    return t.transpose(-3, -2)


def _untile(t: Tensor) -> Tensor:
    """Inverse of :func:`_tiles`."""
    *lead, nh, nw, b, _ = t.shape
    return t.transpose(-3, -2).reshape(*lead, nh * b, nw * b)


def block_dct(x: Tensor, block: int = 8) -> Tensor:
    """Forward block DCT of a (C, H, W) or (B, C, H, W) float tensor; coefficients in place."""
    _check(x, block)
    d = dct_matrix(block, x.dtype, x.device)
    return _untile(d @ _tiles(x, block) @ d.T)


def block_idct(c: Tensor, block: int = 8) -> Tensor:
    """Inverse of :func:`block_dct`."""
    _check(c, block)
    d = dct_matrix(block, c.dtype, c.device)
    return _untile(d.T @ _tiles(c, block) @ d)


def to_bands(c: Tensor, block: int = 8) -> Tensor:
    """In-place coefficients (..., C, H, W) -> bands (..., C, n_blocks, block * block)."""
    _check(c, block)
    t = _tiles(c, block)
    return t.reshape(*t.shape[:-4], t.shape[-4] * t.shape[-3], block * block)


def from_bands(bands: Tensor, height: int, width: int, block: int = 8) -> Tensor:
    """Bands (..., C, n_blocks, block * block) -> in-place coefficients (..., C, H, W)."""
    if height % block or width % block:
        raise ValueError(f"height and width ({height}, {width}) must be multiples of {block}")
    nh, nw = height // block, width // block
    if bands.dim() < 2 or tuple(bands.shape[-2:]) != (nh * nw, block * block):
        raise ValueError(
            f"bands of shape {tuple(bands.shape)} do not fit a {height}x{width} image "
            f"in {block}x{block} blocks"
        )
    t = bands.reshape(*bands.shape[:-2], nh, nw, block, block)
    return _untile(t)


def dct_bands(x: Tensor, block: int = 8) -> Tensor:
    """Block DCT straight to bands: (..., C, H, W) -> (..., C, n_blocks, block * block)."""
    _check(x, block)
    d = dct_matrix(block, x.dtype, x.device)
    t = d @ _tiles(x, block) @ d.T
    return t.reshape(*t.shape[:-4], t.shape[-4] * t.shape[-3], block * block)


def idct_bands(bands: Tensor, height: int, width: int, block: int = 8) -> Tensor:
    """Inverse of :func:`dct_bands`: bands -> (..., C, H, W) signal."""
    return block_idct(from_bands(bands, height, width, block), block)


#: the settings of a dead-zone quantiser (``codec.deadzone``, ``codec.deadzone_hf``): the encoder's alone, kept out
#: of bitstream headers
ENCODER_ONLY = ("deadzone", "deadzone_hf")


def rounding_offsets(offset_dc: float, offset_hf: float | None = None, block: int = 8) -> Tensor:
    """The quantiser's rounding offset of each band ``u * block + v``: ``offset_dc`` at DC, running linearly in
    ``u + v`` to ``offset_hf`` at the highest band (None: ``offset_dc`` everywhere); 0.5 is plain rounding.
    ConfigError (named as ``codec.deadzone``, ``codec.deadzone_hf``) for an offset outside (0, 0.5]."""
    for key, v in zip(ENCODER_ONLY, (offset_dc, offset_hf)):
        if v is not None and not 0 < v <= 0.5:
            raise ConfigError(f"codec.{key} must be in (0, 0.5], got {v}")
    band = torch.arange(block * block, dtype=torch.float64)
    u, v = band // block, band % block
    hf = offset_dc if offset_hf is None else offset_hf
    return offset_dc + (hf - offset_dc) * (u + v) / max(2 * block - 2, 1)
