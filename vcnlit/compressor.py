"""A trained model and a real codec, joined: images in, decoded images and exact bytes out."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.nets import ResamplingSystem


class RoundTrip(NamedTuple):
    x_hat: Tensor  # (B, C, H, W) restored images, cropped to the input size, in [0, 1]
    y: Tensor  # re-sampled signals fed to the codec
    z: Tensor  # decoded signals
    nbytes: list[int]  # bytes of each image's real bitstream


class Compressor:
    """RSN -> codec -> IDN with padding to the sizes the networks and codec need."""

    def __init__(self, system: ResamplingSystem, codec: Codec) -> None:
        self.system, self.codec = system, codec
        self.multiple = system.scale * codec.block

    def rate_units(self, rates: list[float], device: torch.device | None = None) -> Tensor:
        return torch.tensor([self.codec.rate_to_unit(r) for r in rates], device=device)

    def pad(self, x: Tensor) -> Tensor:
        """Replicate-pad (B, C, H, W) so H and W are multiples of ``self.multiple``."""
        m = self.multiple
        ph, pw = (-x.shape[-2]) % m, (-x.shape[-1]) % m
        if ph or pw:
            mode = "replicate" if min(x.shape[-2:]) > 1 else "constant"
            x = F.pad(x, (0, pw, 0, ph), mode=mode) if mode == "replicate" else F.pad(x, (0, pw, 0, ph))
        return x

    @torch.no_grad()
    def round_trip(self, x: Tensor, rate: float | list[float]) -> RoundTrip:
        """Code a batch for real at one rate (or one rate per image)."""
        h, w = x.shape[-2:]
        rates = list(rate) if isinstance(rate, (list, tuple)) else [float(rate)] * x.shape[0]
        y = self.system.rsn(self.pad(x))
        coded = self.codec.round_trip(y, rates)
        x_hat = self.system.idn(coded.decoded, self.rate_units(rates, x.device))
        return RoundTrip(x_hat[..., :h, :w].clamp(0, 1), y, coded.decoded, coded.nbytes)
