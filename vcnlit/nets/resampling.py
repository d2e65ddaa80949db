"""The three networks of the method: re-sampling (RSN), image decoder (IDN), virtual codec (VCN).

Plain ``nn.Module``s: they know nothing of codecs, bitstreams or training.
Layer shapes follow the paper (docs/paper.md); the residual skip connections,
rate conditioning and initialisation are our choices, all switchable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcnlit.errors import ConfigError


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2)


def _init(module: nn.Module, last: nn.Module, last_scale: float) -> None:
    """He initialisation for ReLU layers; the output layer is scaled down so a residual net starts near identity."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    with torch.no_grad():
        last.weight.mul_(last_scale)


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic resize with antialiasing (used for the residual paths and the bicubic baseline)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


class RSN(nn.Module):
    """Re-sampling network f(X): image -> compact signal Y in [0, 1].

    ``scale=2`` halves width and height (low-resolution re-sampling, a stride-2
    convolution); ``scale=1`` keeps the size (full-resolution re-sampling).
    With ``residual`` the net predicts a correction to bicubic down-sampling.
    """

    def __init__(
        self,
        channels: int = 1,
        width: int = 64,
        depth: int = 4,
        kernel: int = 3,
        outer_kernel: int = 9,
        scale: int = 2,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if scale not in (1, 2):
            raise ConfigError(f"RSN scale must be 1 or 2, got {scale}")
        self.scale, self.residual = scale, residual
        layers: list[nn.Module] = [_conv(channels, width, outer_kernel), nn.ReLU(inplace=True)]
        layers += [_conv(width, width, kernel, stride=scale), nn.ReLU(inplace=True)]
        for _ in range(depth):
            layers += [_conv(width, width, kernel), nn.ReLU(inplace=True)]
        self.out = _conv(width, channels, outer_kernel)
        self.body = nn.Sequential(*layers, self.out)
        _init(self, self.out, 0.1 if residual else 1.0)

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        if self.residual:
            y = y + resize(x, tuple(y.shape[-2:]))
        return y.clamp(0.0, 1.0)


class IDN(nn.Module):
    """Image decoder network h(Z): decoded signal -> image.

    ``scale=2`` up-samples with a stride-2 transposed convolution. With
    ``conditioned`` one extra input plane carries the codec rate (in [0, 1]), so
    one network serves the whole rate-distortion curve. The VCN has the same
    architecture (see :class:`VCN`).
    """

    def __init__(
        self,
        channels: int = 1,
        width: int = 64,
        depth: int = 6,
        kernel: int = 3,
        outer_kernel: int = 9,
        scale: int = 2,
        residual: bool = True,
        conditioned: bool = True,
    ) -> None:
        super().__init__()
        if scale not in (1, 2):
            raise ConfigError(f"IDN scale must be 1 or 2, got {scale}")
        self.scale, self.residual, self.conditioned = scale, residual, conditioned
        cin = channels + int(conditioned)
        layers: list[nn.Module] = [_conv(cin, width, outer_kernel), nn.ReLU(inplace=True)]
        for _ in range(depth):
            layers += [_conv(width, width, kernel), nn.ReLU(inplace=True)]
        p = (outer_kernel - 1) // 2
        self.out = nn.ConvTranspose2d(
            width, channels, outer_kernel, stride=scale, padding=p, output_padding=scale - 1
        )
        self.body = nn.Sequential(*layers, self.out)
        _init(self, self.out, 0.1 if residual else 1.0)

    def forward(self, z: Tensor, rate: Tensor | None = None) -> Tensor:
        inp = z
        if self.conditioned:
            if rate is None:
                raise ValueError("this network is rate-conditioned: pass rate (one value in [0, 1] per image)")
            plane = rate.to(z).reshape(-1, 1, 1, 1).expand(z.shape[0], 1, *z.shape[-2:])
            inp = torch.cat([z, plane], dim=1)
        x = self.body(inp)
        if self.residual:
            x = x + resize(z, tuple(x.shape[-2:]))
        return x


class VCN(IDN):
    """Virtual codec network v(Y): imitates IDN(codec(Y)) from the uncoded Y (same layers as the IDN)."""
