"""Stage 3: alternate IDN on real codec output, VCN imitation, and the RSN through a gradient proxy."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor

from vcnlit.errors import ConfigError, check_choice
from vcnlit.eval.metrics import psnr
from vcnlit.stages.base import Stage
from vcnlit.stages.diagnostics import gradient_fidelity
from vcnlit.stages.proxies import build_proxy

#: what the end-to-end stage's ``y_weight`` term pulls Y towards: the bicubic re-sampled X, or the RSN's
#: output when the stage started (a trust region around the pre-trained RSN)
Y_ANCHORS = ("bicubic", "start")
#: how the RSN's loss combines distortion and rate: their sum, or the sum of their logarithms per image
RD_DOMAINS = ("linear", "log")


class EndToEndStage(Stage):
    """Each step: (a) IDN update on the real codec's output, (b) VCN update (imitating codec + IDN),
    (c) RSN update with distance(X, proxy(RSN(X))), the codec's gradient coming from the proxy
    ``rsn_gradient`` (:mod:`vcnlit.stages.proxies`: ``vcn``, the paper; ``straight_through``,
    ``diffjpeg``, ``noise``; ``none`` skips (c)).

    ``rate_weight`` adds ``rate_weight x`` the codec's differentiable bit estimate of Y (bits per
    pixel of X, :meth:`Codec.estimated_bits`) to the RSN's loss [ours]: without it the RSN only
    lowers distortion at a fixed codec rate and drifts to signals that cost more bits.
    ``rd_domain="log"`` [ours] makes that loss, per image, ``ln D + rate_weight x ln R`` (then the
    mean over the batch): the plane of the BD-rate, where ``rate_weight`` is a slope in nepers of
    distortion per neper of rate (PSNR dB per rate ratio: ``4.34 x rate_weight`` dB per e-fold), the
    same at every rate point, and where the estimate's scale error (a constant factor) drops out.

    At each validation it also logs, on the val images at the val rate, the VCN's imitation PSNR
    (``VCN(Y)`` against ``IDN(codec(Y))``) and the proxy's gradient fidelity
    (:mod:`vcnlit.stages.diagnostics`, over ``fidelity_probes`` probes of ``fidelity_eps``; 0 probes: off).
    """

    name = "end_to_end"
    trains = ("idn", "vcn", "rsn")  # `none`: ("idn", "vcn") on the instance

    def __init__(
        self, *args: Any, rate_weight: float = 0.0, y_anchor: str = "bicubic", rsn_gradient: str = "vcn",
        fidelity_probes: int = 16, fidelity_eps: float = 0.01, rd_domain: str = "linear", **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        check_choice("y_anchor", y_anchor, Y_ANCHORS)
        check_choice("rd_domain", rd_domain, RD_DOMAINS)
        self.rd_domain = rd_domain
        self.proxy = build_proxy(rsn_gradient, self.codec)
        self.rsn_gradient = rsn_gradient
        if not self.proxy.updates_rsn:  # the IDN-only ablation: the RSN stays as the imitation stage left it
            self.trains = ("idn", "vcn")
            self.system.rsn.requires_grad_(False)
        # the RSN as this stage found it: the y_anchor="start" regulariser keeps Y near its output
        self._rsn_start = copy.deepcopy(self.system.rsn).requires_grad_(False) if y_anchor == "start" else None
        if rate_weight < 0:
            raise ConfigError(f"rate_weight must be >= 0, got {rate_weight}")
        self.rate_weight = float(rate_weight)
        if self.rate_weight:
            self.codec.quantiser_steps(self.train_rates[0])  # fails now, not at the first step, if unsupported
        if fidelity_probes and (int(fidelity_probes) < 3 or fidelity_eps <= 0):
            raise ConfigError(f"fidelity_probes must be 0 (off) or >= 3 and fidelity_eps > 0, got "
                              f"{fidelity_probes} and {fidelity_eps}")
        self.fidelity_probes, self.fidelity_eps = int(fidelity_probes), float(fidelity_eps)

    @torch.no_grad()
    def y_target(self, x: Tensor, y: Tensor) -> Tensor:
        """The bicubic re-sampled X, or (``y_anchor="start"``) the Y this stage started from."""
        return super().y_target(x, y) if self._rsn_start is None else self._rsn_start(x)

    def rate_term(self, x: Tensor, y: Tensor, rates: list[float]) -> Tensor:
        """``rate_weight`` x estimated bits of Y per pixel of X (its logarithm for ``rd_domain="log"``),
        averaged over the batch (0 when off)."""
        if not self.rate_weight:
            return y.new_zeros(())
        with torch.autocast(y.device.type, enabled=False):  # a bit count in float32 under bf16-mixed too
            bpp = self.codec.estimated_bits(y.float(), rates) / (x.shape[-2] * x.shape[-1])
        return self.rate_weight * (bpp.clamp_min(1e-6).log() if self.rd_domain == "log" else bpp).mean()

    def rsn_distortion(self, x_hat: Tensor, x: Tensor) -> Tensor:
        """The RSN's distortion term: the distance, or the batch mean of its per-image logarithm."""
        if self.rd_domain == "linear":
            return self.dist(x_hat, x)
        return torch.stack([self.dist(a[None], b[None]) for a, b in zip(x_hat, x)]).clamp_min(1e-10).log().mean()

    def through_codec(self, y: Tensor, z: Tensor, unit: Tensor, rates: list[float]) -> Tensor:
        """The restored image as a differentiable function of Y, through the proxy (no network weights
        get a gradient here); ``z`` is the real codec's decoded Y."""
        return self.proxy.restored(self.system, y, z, unit, rates)

    def step(self, x: Tensor) -> dict[str, Tensor]:
        rates = self.sample_rates(x.shape[0])
        unit = self.compressor.rate_units(rates, x.device)
        y = self.system.rsn(x)  # no graph for `none`: its RSN is frozen
        y_fixed = y.detach()
        z = self.decoded(y_fixed, rates)
        x_hat = self.system.idn(z, unit)
        idn_loss = self.dist(x_hat, x)
        self.check_finite(idn_loss=idn_loss)
        self.update(idn_loss, 0)

        vcn_loss = self.dist(self.system.vcn(y_fixed, unit), x_hat.detach())
        self.check_finite(vcn_loss=vcn_loss)
        self.update(vcn_loss, 1)
        if not self.proxy.updates_rsn:
            return {"idn_loss": idn_loss, "vcn_loss": vcn_loss}

        rsn_loss = (self.rsn_distortion(self.through_codec(y, z, unit, rates), x) + self.y_regulariser(x, y)
                    + self.rate_term(x, y, rates))
        self.check_finite(rsn_loss=rsn_loss)
        self.update(rsn_loss, 2)
        return {"idn_loss": idn_loss, "vcn_loss": vcn_loss, "rsn_loss": rsn_loss}

    # -- diagnostics on the val images -------------------------------------------------------------
    def validation_step(self, batch: dict, batch_idx: int) -> None:
        super().validation_step(batch, batch_idx)
        stage, n = self.stage_name(), batch["image"].shape[0]
        for k, v in self.diagnostics(batch["image"]).items():
            if math.isfinite(v):
                self.log(f"{stage}/val_{k}", v, batch_size=n, sync_dist=True)

    def diagnostics(self, x: Tensor) -> dict[str, float]:
        """``vcn_psnr``: PSNR (dB) of ``VCN(Y)`` against ``IDN(codec(Y))``; ``grad_fidelity``: the proxy's
        gradient fidelity for the loss ``distance(X, IDN(codec(Y)))`` (NaN for ``none`` or when off).
        At the val rate, on the padded batch ``x``; runs with gradients even inside a validation loop."""
        rates = [self.val_rate] * x.shape[0]
        with torch.inference_mode(False), torch.enable_grad(), torch.autocast(x.device.type, enabled=False):
            x = self.compressor.pad(x.clone())
            unit = self.compressor.rate_units(rates, x.device)
            with torch.no_grad():
                y = self.system.rsn(x)
                z = self.decoded(y, rates)
                out = {"vcn_psnr": psnr(self.system.vcn(y, unit), self.system.idn(z, unit)).mean().item()}
            out["grad_fidelity"] = math.nan
            if self.proxy.updates_rsn and self.fidelity_probes:
                y = y.clone().requires_grad_(True)
                (grad,) = torch.autograd.grad(self.dist(self.through_codec(y, z, unit, rates), x), y)
                out["grad_fidelity"] = gradient_fidelity(
                    grad, lambda s: self.dist(self.system.idn(self.decoded(s, rates), unit), x), y.detach(),
                    self.fidelity_probes, self.fidelity_eps)
        return out
