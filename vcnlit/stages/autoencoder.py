"""Stage 1: RSN + IDN pre-trained as an auto-encoder, with no codec in between."""

from __future__ import annotations

from torch import Tensor

from vcnlit.stages.base import Stage


class AutoencoderStage(Stage):
    """Minimises distance(X, IDN(RSN(X))); the IDN sees the top rate (no coding loss)."""

    name = "autoencoder"
    trains = ("rsn", "idn")

    def step(self, x: Tensor) -> dict[str, Tensor]:
        y = self.system.rsn(x)
        unit = self.compressor.rate_units([max(self.train_rates, key=self.codec.rate_to_unit)] * x.shape[0], x.device)
        loss = self.dist(self.system.idn(y, unit), x) + self.y_regulariser(x, y)
        self.check_finite(loss=loss)
        self.update(loss)
        return {"loss": loss}
