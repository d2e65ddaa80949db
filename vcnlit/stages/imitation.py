"""Stage 2: RSN frozen; the IDN learns real codec output, the VCN learns to imitate codec + IDN."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from vcnlit.errors import ConfigError
from vcnlit.stages.base import Stage


class ImitationStage(Stage):
    """IDN: distance(X, IDN(codec(Y))); VCN: distance(VCN(Y), IDN(codec(Y))).

    Args:
        vcn_share: the VCN trains in this last share of the stage's batches only (1: all), with its
            own warm-up and decay over them: it imitates an IDN that has (nearly) stopped moving, and
            each batch without it costs about a third less.
        *args, **kwargs: those of :class:`Stage`.
    """

    name = "imitation"
    trains = ("idn", "vcn")

    def __init__(self, *args: Any, vcn_share: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not 0 < vcn_share <= 1:
            raise ConfigError(f"vcn_share must be in (0, 1] (the share of the stage's batches that train the VCN), "
                              f"got {vcn_share}")
        self.vcn_share = float(vcn_share)
        self.vcn_start = 0  # the first batch that trains the VCN; set with the stage's length

    def network_steps(self, total: int) -> list[int]:
        vcn = min(total, max(1, math.ceil(self.vcn_share * total)))
        self.vcn_start = total - vcn
        return [total, vcn]

    def trains_vcn(self) -> bool:
        """Whether the current batch updates the VCN (always outside a Trainer)."""
        index = self.batch_index()
        return index is None or index >= self.vcn_start

    def step(self, x: Tensor) -> dict[str, Tensor]:
        rates = self.sample_rates(x.shape[0])
        unit = self.compressor.rate_units(rates, x.device)
        with torch.no_grad():
            y = self.system.rsn(x)
        z = self.decoded(y, rates)
        x_hat = self.system.idn(z, unit)
        idn_loss = self.dist(x_hat, x)
        self.check_finite(idn_loss=idn_loss)
        self.update(idn_loss, 0)
        if not self.trains_vcn():
            return {"idn_loss": idn_loss}
        vcn_loss = self.dist(self.system.vcn(y, unit), x_hat.detach())
        self.check_finite(vcn_loss=vcn_loss)
        self.update(vcn_loss, 1)
        return {"idn_loss": idn_loss, "vcn_loss": vcn_loss}
