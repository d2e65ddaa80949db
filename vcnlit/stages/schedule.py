"""Learning-rate schedule of the stages: linear warm-up, then constant or a cosine decay to a floor."""

from __future__ import annotations

import math

import torch

from vcnlit.errors import check_choice

#: what follows the warm-up (``scheduler.decay`` of every stage)
DECAYS = ("cosine", "constant")


class WarmupDecay:
    """Learning-rate multiplier at a batch: linear warm-up over ``warmup_steps``, then ``decay``.

    Args:
        total_steps: batches the stage trains.
        warmup_steps: batches of the linear warm-up from ``1 / warmup_steps`` to 1.
        decay: ``cosine`` (down to ``min_ratio`` at the last batch) or ``constant``.
        min_ratio: the cosine's floor, as a fraction of the learning rate.
    """

    def __init__(self, total_steps: int, warmup_steps: int = 100, decay: str = "cosine",
                 min_ratio: float = 0.02) -> None:
        check_choice("scheduler.decay", decay, DECAYS)
        self.total_steps, self.warmup_steps, self.decay, self.min_ratio = total_steps, warmup_steps, decay, min_ratio

    def __call__(self, step: int) -> float:
        warm = min(1.0, (step + 1) / max(1, self.warmup_steps))
        if self.decay == "constant" or self.total_steps <= self.warmup_steps:
            return warm
        t = min(1.0, max(0.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)))
        return warm * (self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def warmup_decay(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 100,
                 decay: str = "cosine", min_ratio: float = 0.02) -> torch.optim.lr_scheduler.LambdaLR:
    """The stages' default scheduler (stepped once per batch): :class:`WarmupDecay` as a ``LambdaLR``.

    Args:
        optimizer: the optimizer whose learning rate it sets.
        total_steps: batches the stage trains.
        warmup_steps, decay, min_ratio: see :class:`WarmupDecay`.
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupDecay(total_steps, warmup_steps, decay, min_ratio))
