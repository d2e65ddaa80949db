"""The three networks of one model, built from one set of hyperparameters."""

from __future__ import annotations

from typing import Any

from torch import nn

from vcnlit.nets.resampling import IDN, RSN, VCN


class ResamplingSystem(nn.Module):
    """RSN + IDN + VCN sharing channels, width and re-sampling scale.

    ``hparams`` (plain types only) is what checkpoints store, so a model can be
    rebuilt from a checkpoint without the config that trained it.
    """

    def __init__(
        self,
        channels: int = 1,
        scale: int = 2,
        width: int = 64,
        rsn_depth: int = 4,
        idn_depth: int = 6,
        kernel: int = 3,
        outer_kernel: int = 9,
        residual: bool = True,
        conditioned: bool = True,
    ) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"model.channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        self.hparams: dict[str, Any] = {
            "channels": channels, "scale": scale, "width": width, "rsn_depth": rsn_depth, "idn_depth": idn_depth,
            "kernel": kernel, "outer_kernel": outer_kernel, "residual": residual, "conditioned": conditioned,
        }
        self.channels, self.scale = channels, scale
        common = {"channels": channels, "width": width, "kernel": kernel, "outer_kernel": outer_kernel,
                      "scale": scale, "residual": residual}
        self.rsn = RSN(depth=rsn_depth, **common)
        self.idn = IDN(depth=idn_depth, conditioned=conditioned, **common)
        self.vcn = VCN(depth=idn_depth, conditioned=conditioned, **common)
