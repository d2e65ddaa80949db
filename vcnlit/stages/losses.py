"""Distances used by the training stages (the paper's loss type is a config value)."""

from __future__ import annotations

import torch.nn.functional as F
from pytorch_msssim import ssim
from torch import Tensor

from vcnlit.errors import check_choice

#: distances a stage can train with (the ``loss`` config value)
LOSSES = ("mse", "l1", "mse+ssim")


def distance(a: Tensor, b: Tensor, kind: str = "mse", ssim_weight: float = 0.1) -> Tensor:
    """``mse``, ``l1``, or ``mse+ssim`` (MSE plus ``ssim_weight`` * (1 - SSIM))."""
    if kind == "mse":
        return F.mse_loss(a, b)
    if kind == "l1":
        return F.l1_loss(a, b)
    if kind == "mse+ssim":
        s = ssim(a.clamp(0, 1), b.clamp(0, 1), data_range=1.0, size_average=True, win_size=7)
        return F.mse_loss(a, b) + ssim_weight * (1.0 - s)
    check_choice("loss", kind, LOSSES)
    raise AssertionError(kind)  # every kind in LOSSES is handled above
