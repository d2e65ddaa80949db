"""Stage 2: RSN frozen; the IDN learns real codec output, the VCN learns to imitate codec + IDN."""

from __future__ import annotations

import torch
from torch import Tensor

from vcnlit.stages.base import Stage


class ImitationStage(Stage):
    """IDN: distance(X, IDN(codec(Y))); VCN: distance(VCN(Y), IDN(codec(Y)))."""

    name = "imitation"
    trains = ("idn", "vcn")

    def step(self, x: Tensor) -> dict[str, Tensor]:
        rates = self.sample_rates(x.shape[0])
        unit = self.compressor.rate_units(rates, x.device)
        with torch.no_grad():
            y = self.system.rsn(x)
        z = self.decoded(y, rates)
        x_hat = self.system.idn(z, unit)
        idn_loss = self.dist(x_hat, x)
        vcn_loss = self.dist(self.system.vcn(y, unit), x_hat.detach())
        self.check_finite(idn_loss=idn_loss, vcn_loss=vcn_loss)
        self.update(idn_loss, 0)
        self.update(vcn_loss, 1)
        return {"idn_loss": idn_loss, "vcn_loss": vcn_loss}
