"""The three networks of the method: re-sampling (RSN), image decoder (IDN), virtual codec (VCN).

Plain ``nn.Module``s: they know nothing of codecs, bitstreams or training.
Layer shapes follow the paper (docs/paper.md); the residual skip connections,
rate conditioning and initialisation are our choices, all switchable.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcnlit.errors import ConfigError, check_choice
from vcnlit.nets import fused


def _conv(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2 * dilation, dilation=dilation)


#: hidden-layer kinds: ``plain`` conv + ReLU layers (the paper), ``residual`` blocks (conv, ReLU, conv, + input)
BLOCKS = ("plain", "residual")
#: how the IDN/VCN up-sample (scale 2): ``transposed`` stride-2 convolution (the paper) or ``pixel_shuffle``
#: (a convolution to 4x the channels at low resolution, then sub-pixel rearrangement)
UPSAMPLERS = ("transposed", "pixel_shuffle")


class ResidualBlock(nn.Module):
    """``x + conv(relu(conv(x)))``: two hidden layers whose sum starts near the identity."""

    #: :func:`vcnlit.nets.fused.sequential` runs it as two fused convolutions (``conv1``, ``conv2``)
    fuses_residual = True

    def __init__(self, width: int, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(width, width, kernel, dilation=dilation), _conv(width, width, kernel)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x), inplace=True))
        if h.dtype != torch.result_type(h, x):  # e.g. a bfloat16 branch on a float32 input: promote as x + h does
            return x + h
        return h.add_(x)  # in place: the same sum, one large buffer fewer per block


def _hidden(width: int, kernel: int, depth: int, block: str, dilation: Sequence[int] | None = None) -> list[nn.Module]:
    """``depth`` hidden units of ``width`` channels: plain conv + ReLU layers, or residual blocks (whose first
    convolution takes the unit's dilation). ``dilation``: the units' dilations, repeated over them in turn
    (all 1 when None)."""
    check_choice("model.block", block, BLOCKS)
    cycle = [1] if dilation is None else [int(d) for d in dilation]
    if not cycle or min(cycle) < 1:
        raise ConfigError(f"model.idn_dilation must be a list of dilations >= 1, got {list(dilation or [])}")
    dilations = [cycle[i % len(cycle)] for i in range(depth)]
    if block == "residual":
        return [ResidualBlock(width, kernel, d) for d in dilations]
    return [m for d in dilations for m in (_conv(width, width, kernel, dilation=d), nn.ReLU(inplace=True))]


def _init(module: nn.Module, last: nn.Module, last_scale: float) -> None:
    """He initialisation for ReLU layers; the output layer (and each residual block's second layer) is
    scaled down so a residual net starts near the identity."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    with torch.no_grad():
        last.weight.mul_(last_scale)
        for m in module.modules():
            if isinstance(m, ResidualBlock):  # each block starts near the identity
                m.conv2.weight.mul_(0.1)


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic resize with antialiasing (used for the residual paths and the bicubic baseline); in float32
    for a reduced-precision input (bf16-mixed training: PyTorch has no bfloat16 kernel for it)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if x.dtype in (torch.bfloat16, torch.float16):
        x = x.float()
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
        block: str = "plain",
    ) -> None:
        super().__init__()
        if scale not in (1, 2):
            raise ConfigError(f"RSN scale must be 1 or 2, got {scale}")
        self.scale, self.residual = scale, residual
        layers: list[nn.Module] = [_conv(channels, width, outer_kernel), nn.ReLU(inplace=True)]
        layers += [_conv(width, width, kernel, stride=scale), nn.ReLU(inplace=True)]
        layers += _hidden(width, kernel, depth, block)
        self.out = _conv(width, channels, outer_kernel)
        self.body = nn.Sequential(*layers, self.out)
        _init(self, self.out, 0.1 if residual else 1.0)

    def forward(self, x: Tensor) -> Tensor:
        y = fused.sequential(self.body, x) if fused.usable(x) else self.body(x)
        if self.residual:
            y = y + resize(x, tuple(y.shape[-2:]))
        return y.clamp(0.0, 1.0)


class IDN(nn.Module):
    """Image decoder network h(Z): decoded signal -> image.

    ``scale=2`` up-samples with a stride-2 transposed convolution (or, with
    ``upsample="pixel_shuffle"``, a sub-pixel convolution). With
    ``conditioned`` one extra input plane carries the codec rate (in [0, 1]), so
    one network serves the whole rate-distortion curve. ``dilation`` (the hidden units' dilations, in turn) widens
    what each output pixel sees across the codec's blocks at no cost in weights. The VCN has the same
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
        block: str = "plain",
        upsample: str = "transposed",
        dilation: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if scale not in (1, 2):
            raise ConfigError(f"IDN scale must be 1 or 2, got {scale}")
        check_choice("model.upsample", upsample, UPSAMPLERS)
        self.scale, self.residual, self.conditioned = scale, residual, conditioned
        cin = channels + int(conditioned)
        layers: list[nn.Module] = [_conv(cin, width, outer_kernel), nn.ReLU(inplace=True)]
        layers += _hidden(width, kernel, depth, block, dilation)
        if upsample == "pixel_shuffle":
            self.out: nn.Module = _conv(width, channels * scale * scale, outer_kernel)
            tail: list[nn.Module] = [self.out, nn.PixelShuffle(scale)]
        else:
            p = (outer_kernel - 1) // 2
            self.out = nn.ConvTranspose2d(
                width, channels, outer_kernel, stride=scale, padding=p, output_padding=scale - 1
            )
            tail = [self.out]
        self.body = nn.Sequential(*layers, *tail)
        _init(self, self.out, 0.1 if residual else 1.0)

    def forward(self, z: Tensor, rate: Tensor | None = None) -> Tensor:
        inp = z
        if self.conditioned:
            if rate is None:
                raise ValueError("this network is rate-conditioned: pass rate (one value in [0, 1] per image)")
            plane = rate.to(z).reshape(-1, 1, 1, 1).expand(z.shape[0], 1, *z.shape[-2:])
            inp = torch.cat([z, plane], dim=1)
        x = fused.sequential(self.body, inp) if fused.usable(inp) else self.body(inp)
        if self.residual:
            x = x + resize(z, tuple(x.shape[-2:]))
        return x


class VCN(IDN):
    """Virtual codec network v(Y): imitates IDN(codec(Y)) from the uncoded Y (same layers as the IDN)."""
