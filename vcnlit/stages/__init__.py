"""The three training stages, one LightningModule each, in the order they run."""

from vcnlit.stages.autoencoder import AutoencoderStage
from vcnlit.stages.base import NonFiniteLossError, Stage, epochs_for
from vcnlit.stages.end_to_end import EndToEndStage
from vcnlit.stages.imitation import ImitationStage

__all__ = ["AutoencoderStage", "EndToEndStage", "ImitationStage", "NonFiniteLossError", "Stage", "epochs_for"]
