"""Encoder-side refinement: the re-sampled signal Y of one image, optimised for the decoder that restores it.

The RSN maps every image to Y in one pass, trained for images on average. At encode time the image
itself is at hand, so Y can be improved for it: a few gradient steps on Y (the networks stay as they
are) that lower ``ln(MSE(IDN(codec(Y)), X)) + rate_weight x ln(estimated bits of Y)``, the codec's
missing gradient coming from the same stand-ins as the end-to-end stage's
(:mod:`vcnlit.stages.proxies`: kornia's differentiable JPEG for SCIC, uniform quantisation noise for
DNNC) and the restored image from the decoder's own self-ensembled IDN. The stream format and the
decoder do not change; encoding costs about ``steps`` extra decoder passes (forward and backward). Large
images are refined tile by tile. The refined Y is kept only when its real file and decoded image score
better on the same objective than the RSN's own Y.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.errors import ConfigError
from vcnlit.nets import ResamplingSystem
from vcnlit.nets.frozen import frozen
from vcnlit.nets.receptive import receptive_radius

#: side, in image pixels, of the tiles refinement runs on (peak memory per tile at the default model size,
#: measured: about 1.5 GB gray, 2-3 GB colour)
TILE = 768
#: tiles and halos of Y are whole multiples of this and of the codec's block (JPEG's 4:2:0 macroblock)
ALIGN = 16
#: the proxy for each codec mode/name whose decoded signal has a differentiable stand-in
_PROXY = {"jpeg": "diffjpeg", "dnnc": "noise"}


@dataclass(frozen=True)
class Refinement:
    """How Y is refined at encode time (config ``eval.refine``; ``vcnlit compress --refine N``).

    Attributes:
        steps: Adam steps on Y; 0: no refinement (the RSN's Y is coded as it is).
        lr: Adam's learning rate (Y lies in [0, 1]).
        rate_weight: weight of ln(estimated bits) against ln(MSE) in the objective.
        seed: seeds the DNNC proxy's noise (results are deterministic for a fixed seed).
    """

    steps: int = 0
    lr: float = 5e-4
    rate_weight: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if int(self.steps) != self.steps or self.steps < 0:
            raise ConfigError(f"refinement steps must be a whole number >= 0, got {self.steps}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"refinement lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.rate_weight) and self.rate_weight >= 0):
            raise ConfigError(f"refinement rate_weight must be >= 0, got {self.rate_weight}")


def proxy_name(codec: Codec) -> str:
    """The gradient proxy refinement uses for ``codec``.

    Raises:
        ConfigError: the codec has no differentiable stand-in (only JPEG and DNNC have).
    """
    name = _PROXY.get(codec.name) or _PROXY.get(codec.mode)
    if name is None:
        raise ConfigError(f"encoder-side refinement needs a differentiable stand-in for the codec; {codec.name} "
                          f"({codec.mode}) has none (JPEG and DNNC have): refine steps must be 0")
    return name


def objective(mse: Tensor, bits: Tensor, rate_weight: float) -> Tensor:
    """``ln(mse) + rate_weight x ln(bits)``: rate and distortion in the BD-rate's log plane."""
    return torch.log(mse) + rate_weight * torch.log(bits)


def refine_signal(system: ResamplingSystem, codec: Codec, x: Tensor, y: Tensor, rate: float,
                  opts: Refinement, tile: int = TILE) -> Tensor:
    """Y refined for one image at one rate, tile by tile on large images.

    A tile's Y is refined with a halo of Y around it (the IDN's receptive field, in whole codec
    blocks, so the proxy's blocks are the real codec's), its loss taken on the tile's own pixels; only
    the tile's own Y is kept. Memory is bounded by the tile; seams cost a little of the gain, never
    the real check of :meth:`vcnlit.compressor.Compressor.signal`.

    Args:
        system: the networks (unchanged; no weight gets a gradient).
        codec: the codec the stream is coded with.
        x: the image, (1, C, H, W) in [0, 1].
        y: the RSN's output for the padded image, (1, C, h, w).
        rate: the codec rate.
        opts: steps, learning rate, rate weight, seed.
        tile: side of the tiles in image pixels (rounded to whole blocks of Y); 0: the whole image.

    Returns:
        The refined Y (same shape, in [0, 1], no gradient).
    """
    if opts.steps == 0:
        return y
    s, (hy, wy), align = system.scale, y.shape[-2:], math.lcm(ALIGN, codec.block)
    step = max(align, tile // s // align * align) if tile else max(hy, wy)
    if hy <= step and wy <= step:
        return _refine(system, codec, x, y, rate, opts, (0, 0))
    halo = -(-receptive_radius(system.idn) // align) * align
    out = y.clone()
    for r0 in range(0, hy, step):
        for c0 in range(0, wy, step):
            r1, c1 = min(r0 + step, hy), min(c0 + step, wy)
            a0, b0 = max(0, r0 - halo), max(0, c0 - halo)
            part = y[..., a0 : min(hy, r1 + halo), b0 : min(wy, c1 + halo)]
            target = x[..., r0 * s : r1 * s, c0 * s : c1 * s]
            if target.numel() == 0:  # Y of padding only
                continue
            done = _refine(system, codec, target, part, rate, opts, ((r0 - a0) * s, (c0 - b0) * s))
            out[..., r0:r1, c0:c1] = done[..., r0 - a0 : r1 - a0, c0 - b0 : c1 - b0]
    return out


def _refine(system: ResamplingSystem, codec: Codec, x: Tensor, y: Tensor, rate: float, opts: Refinement,
            at: tuple[int, int]) -> Tensor:
    """Adam steps on ``y``; the loss compares the restored pixels from offset ``at`` on with ``x``."""
    from vcnlit.stages.proxies import build_proxy

    proxy = build_proxy(proxy_name(codec), codec)
    (top, left), (h, w) = at, x.shape[-2:]
    unit = torch.tensor([codec.rate_to_unit(rate)], device=y.device)
    y = y.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=opts.lr)
    with torch.enable_grad(), frozen(system), torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)
        for _ in range(int(opts.steps)):
            out = system.restore(proxy.decoded(y, [rate]), unit)[..., top : top + h, left : left + w]
            loss = objective(torch.mean((out - x) ** 2), codec.estimated_bits(y, [rate]).sum(), opts.rate_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                y.clamp_(0, 1)
    return y.detach()
