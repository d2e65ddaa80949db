"""Encoder-side refinement: the re-sampled signal Y of one image, optimised for the decoder that restores it.

The RSN maps every image to Y in one pass, trained for images on average. At encode time the image
itself is at hand, so Y can be improved for it: a few gradient steps on Y (the networks stay as they
are) that lower ``ln(MSE(IDN(codec(Y)), X)) + rate_weight x ln(estimated bits of Y)``, the codec's
missing gradient coming from the same stand-ins as the end-to-end stage's
(:mod:`vcnlit.stages.proxies`: kornia's differentiable JPEG for SCIC, uniform quantisation noise for
DNNC) and the restored image from the decoder's own self-ensembled IDN. The stream format and the
decoder do not change; encoding costs about ``steps`` extra decoder passes. The refined Y is kept only
when its real file and decoded image score better on the same objective than the RSN's own Y.
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
                  opts: Refinement) -> Tensor:
    """Y refined for one image at one rate.

    Args:
        system: the networks (unchanged; no weight gets a gradient).
        codec: the codec the stream is coded with.
        x: the image, (1, C, H, W) in [0, 1].
        y: the RSN's output for the padded image, (1, C, h, w).
        rate: the codec rate.
        opts: steps, learning rate, rate weight, seed.

    Returns:
        The refined Y (same shape, in [0, 1], no gradient).
    """
    from vcnlit.stages.proxies import build_proxy

    if opts.steps == 0:
        return y
    proxy = build_proxy(proxy_name(codec), codec)
    h, w = x.shape[-2:]
    unit = torch.tensor([codec.rate_to_unit(rate)], device=y.device)
    y = y.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=opts.lr)
    with torch.enable_grad(), frozen(system), torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)
        for _ in range(int(opts.steps)):
            out = system.restore(proxy.decoded(y, [rate]), unit)[..., :h, :w]
            loss = objective(torch.mean((out - x) ** 2), codec.estimated_bits(y, [rate]).sum(), opts.rate_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                y.clamp_(0, 1)
    return y.detach()
