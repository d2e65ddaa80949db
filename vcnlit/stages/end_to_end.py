"""Stage 3: alternate IDN on real codec output, VCN imitation, and the RSN through the frozen VCN."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from vcnlit.errors import ConfigError, check_choice
from vcnlit.stages.base import Stage, frozen

#: what the end-to-end stage's ``y_weight`` term pulls Y towards: the bicubic re-sampled X, or the RSN's
#: output when the stage started (a trust region around the pre-trained RSN)
Y_ANCHORS = ("bicubic", "start")
#: where the RSN's gradient comes from: the frozen VCN (the paper), or the frozen IDN on the real decoded
#: signal with the codec taken as identity in the backward pass (straight-through, an ablation [ours])
RSN_GRADIENTS = ("vcn", "straight_through")


class EndToEndStage(Stage):
    """Each step: (a) IDN update, (b) VCN update, (c) RSN update with distance(X, VCN(RSN(X)))
    (``rsn_gradient="straight_through"``: distance(X, IDN(codec(RSN(X)))), identity gradient through the codec).

    ``rate_weight`` adds ``rate_weight x`` the codec's differentiable bit estimate of Y (bits per
    pixel of X, :meth:`Codec.estimated_bits`) to the RSN's loss [ours]: without it the RSN only
    lowers distortion at a fixed codec rate and drifts to signals that cost more bits.
    """

    name = "end_to_end"
    trains = ("idn", "vcn", "rsn")

    def __init__(
        self, *args: Any, rate_weight: float = 0.0, y_anchor: str = "bicubic", rsn_gradient: str = "vcn", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        check_choice("y_anchor", y_anchor, Y_ANCHORS)
        check_choice("rsn_gradient", rsn_gradient, RSN_GRADIENTS)
        self.rsn_gradient = rsn_gradient
        # the RSN as this stage found it: the y_anchor="start" regulariser keeps Y near its output
        self._rsn_start = copy.deepcopy(self.system.rsn).requires_grad_(False) if y_anchor == "start" else None
        if rate_weight < 0:
            raise ConfigError(f"rate_weight must be >= 0, got {rate_weight}")
        self.rate_weight = float(rate_weight)
        if self.rate_weight:
            self.codec.quantiser_steps(self.train_rates[0])  # fails now, not at the first step, if unsupported

    @torch.no_grad()
    def y_target(self, x: Tensor, y: Tensor) -> Tensor:
        """The bicubic re-sampled X, or (``y_anchor="start"``) the Y this stage started from."""
        return super().y_target(x, y) if self._rsn_start is None else self._rsn_start(x)

    def rate_term(self, x: Tensor, y: Tensor, rates: list[float]) -> Tensor:
        """``rate_weight`` x estimated bits of Y per pixel of X, averaged over the batch (0 when off)."""
        if not self.rate_weight:
            return y.new_zeros(())
        return self.rate_weight * (self.codec.estimated_bits(y, rates) / (x.shape[-2] * x.shape[-1])).mean()

    def through_codec(self, y: Tensor, z: Tensor, unit: Tensor) -> Tensor:
        """The restored image as a differentiable function of Y (no network weights are updated here).

        The codec has no gradient: the VCN's stands in for it, or (``straight_through``) the IDN runs on
        the real decoded ``z`` and the codec passes the gradient unchanged.
        """
        if self.rsn_gradient == "vcn":
            with frozen(self.system.vcn):
                return self.system.vcn(y, unit)
        with frozen(self.system.idn):
            return self.system.idn(z + (y - y.detach()), unit)  # value z exactly, gradient 1

    def step(self, x: Tensor) -> dict[str, Tensor]:
        rates = self.sample_rates(x.shape[0])
        unit = self.compressor.rate_units(rates, x.device)
        y = self.system.rsn(x)
        y_fixed = y.detach()
        z = self.decoded(y_fixed, rates)
        x_hat = self.system.idn(z, unit)
        idn_loss = self.dist(x_hat, x)
        self.check_finite(idn_loss=idn_loss)
        self.update(idn_loss, 0)

        vcn_loss = self.dist(self.system.vcn(y_fixed, unit), x_hat.detach())
        self.check_finite(vcn_loss=vcn_loss)
        self.update(vcn_loss, 1)

        rsn_loss = self.dist(self.through_codec(y, z, unit), x) + self.y_regulariser(x, y) + self.rate_term(x, y, rates)
        self.check_finite(rsn_loss=rsn_loss)
        self.update(rsn_loss, 2)
        return {"idn_loss": idn_loss, "vcn_loss": vcn_loss, "rsn_loss": rsn_loss}
