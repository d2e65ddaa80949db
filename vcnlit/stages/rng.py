"""Exact resume of a stage's random draws: a resumed stage draws exactly the crops and rates of an
uninterrupted one.

Crops come from the global torch generator and codec rates from the stage's own ``random.Random``;
both are saved with every checkpoint. Loader iterators and validation must not draw from the global
generator in between (their number differs after a restart): the train loader gets its own
generator and validation gives the global state back.
"""

from __future__ import annotations

import random
from typing import Any

import torch


class ExactResume:
    """LightningModule hooks (a mixin) that keep ``self.rng`` and torch's generator resumable."""

    rng: random.Random

    def seed_draws(self, global_rank: int) -> None:
        """Seed the draws from the global seed (set per stage by the runner); each DDP process its own."""
        if global_rank:
            torch.manual_seed(torch.initial_seed() + 1000 * global_rank)
        self.rng = random.Random(int(torch.initial_seed()) % (2**31))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["vcnlit_rng"] = {"torch": torch.get_rng_state(), "stage": self.rng.getstate()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resume_rng = checkpoint.get("vcnlit_rng")

    def on_train_start(self) -> None:
        loader = self.trainer.train_dataloader
        if isinstance(loader, torch.utils.data.DataLoader):
            loader.generator = torch.Generator().manual_seed(torch.initial_seed())
        state = getattr(self, "_resume_rng", None)
        if state is not None:
            torch.set_rng_state(state["torch"])
            self.rng.setstate(state["stage"])
            self._resume_rng = None
        self._rng_before_val = torch.get_rng_state()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._rng_before_val = torch.get_rng_state()  # validation after this batch gives it back

    def on_validation_end(self) -> None:
        if not self.trainer.sanity_checking and getattr(self, "_rng_before_val", None) is not None:
            torch.set_rng_state(self._rng_before_val)
