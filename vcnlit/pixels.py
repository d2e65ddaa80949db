"""Pixel conversions and padding shared by the data layer, the codecs and the compressor."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def to_uint8(y: Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W) or (H, W, C) uint8, rounding to nearest."""
    a = y.detach().float().clamp(0, 1).mul_(255.0).round_().to(torch.uint8).cpu()
    return a[0].numpy() if a.shape[0] == 1 else a.permute(1, 2, 0).contiguous().numpy()


def from_uint8(a: np.ndarray) -> Tensor:
    """(H, W) or (H, W, C) uint8 -> (C, H, W) float in [0, 1]."""
    a = np.asarray(a, dtype=np.uint8)
    t = torch.from_numpy(a if a.flags.writeable else a.copy())  # .float() below makes the tensor's own copy
    t = t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)
    return t.float().div_(255.0)


def pad_bottom_right(x: Tensor, height: int, width: int) -> Tensor:
    """Replicate-pad a (C, H, W) or (B, C, H, W) tensor on the bottom and right to at least ``height`` x ``width``.

    Args:
        x: the tensor (at least one pixel in each padded direction, which replicate padding copies).
        height: the least height of the result.
        width: the least width of the result.

    Returns:
        ``x`` itself when it is large enough, else the padded copy.
    """
    ph, pw = max(0, height - x.shape[-2]), max(0, width - x.shape[-1])
    if not (ph or pw):
        return x
    batched = x if x.dim() == 4 else x.unsqueeze(0)
    out = F.pad(batched, (0, pw, 0, ph), mode="replicate")
    return out if x.dim() == 4 else out.squeeze(0)


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Replicate-pad a (C, H, W) or (B, C, H, W) tensor on the bottom and right so H and W are multiples
    of ``multiple``."""
    return pad_bottom_right(x, -(-x.shape[-2] // multiple) * multiple, -(-x.shape[-1] // multiple) * multiple)
