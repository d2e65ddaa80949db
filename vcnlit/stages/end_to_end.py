"""Stage 3: alternate IDN on real codec output, VCN imitation, and the RSN through the frozen VCN."""

from __future__ import annotations

from torch import Tensor

from vcnlit.stages.base import Stage, frozen


class EndToEndStage(Stage):
    """Each step: (a) IDN update, (b) VCN update, (c) RSN update with distance(X, VCN(RSN(X)))."""

    name = "end_to_end"
    trains = ("idn", "vcn", "rsn")

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

        # the codec has no gradient: the VCN's stands in for it (VCN weights are not updated here)
        with frozen(self.system.vcn):
            rsn_loss = self.dist(self.system.vcn(y, unit), x) + self.y_regulariser(x, y)
        self.check_finite(rsn_loss=rsn_loss)
        self.update(rsn_loss, 2)
        return {"idn_loss": idn_loss, "vcn_loss": vcn_loss, "rsn_loss": rsn_loss}
