"""Stage 3: alternate IDN on real codec output, VCN imitation, and the RSN through the frozen VCN."""

from __future__ import annotations

from torch import Tensor

from vcnlit.stages.base import Stage, frozen


class EndToEndStage(Stage):
    """Each step: (a) IDN update, (b) VCN update, (c) RSN update with distance(X, VCN(RSN(X)))."""

    name = "end_to_end"
    trains = ("idn", "vcn", "rsn")

    def training_step(self, x: Tensor, batch_idx: int) -> Tensor:
        rates = self.sample_rates(x.shape[0])
        unit = self.compressor.rate_units(rates, x.device)
        y = self.system.rsn(x)
        y_fixed = y.detach()
        z = self.codec.round_trip(y_fixed, rates).decoded
        x_hat = self.system.idn(z, unit)
        idn_loss = self.dist(x_hat, x)
        self.check_finite(idn_loss=idn_loss)
        self.update(0, idn_loss)

        vcn_loss = self.dist(self.system.vcn(y_fixed, unit), x_hat.detach())
        self.check_finite(vcn_loss=vcn_loss)
        self.update(1, vcn_loss)

        # the codec has no gradient: the VCN's stands in for it (VCN weights are not updated here)
        with frozen(self.system.vcn):
            rsn_loss = self.dist(self.system.vcn(y, unit), x) + self.y_regulariser(x, y)
        self.check_finite(rsn_loss=rsn_loss)
        self.update(2, rsn_loss)
        self.log_dict(
            {f"{self.name}/idn_loss": idn_loss, f"{self.name}/vcn_loss": vcn_loss, f"{self.name}/rsn_loss": rsn_loss},
            prog_bar=True,
        )
        return idn_loss
