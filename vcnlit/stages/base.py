"""What every training stage shares: frozen/trained networks, optimizers, real-codec validation."""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import pytorch_lightning as pl
import torch
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.compressor import Compressor
from vcnlit.errors import ConfigError, NonFiniteLossError, check_choice
from vcnlit.eval.metrics import psnr
from vcnlit.nets import ResamplingSystem, resize
from vcnlit.stages.losses import LOSSES, distance
from vcnlit.stages.rng import ExactResume
from vcnlit.stages.schedule import warmup_decay

log = logging.getLogger(__name__)

#: relative frequencies of training rates: ``[[rate, weight], ...]`` or ``{rate: weight}``
RateWeights = Mapping[float, float] | Sequence[Sequence[float]]


#: builds a network's optimizer from its parameters and the stage's ``lr``
OptimizerFactory = Callable[..., torch.optim.Optimizer]
#: builds an optimizer's per-batch scheduler from it and the stage's number of batches
SchedulerFactory = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]




class Stage(ExactResume, pl.LightningModule):
    """A LightningModule that trains some networks of a :class:`ResamplingSystem` and freezes the rest.

    Subclasses set ``trains`` (names of the networks they update, one optimizer
    each, in update order) and implement :meth:`step` (manual optimization through
    :meth:`update`, so the same step runs under a Trainer or in a plain loop). Codec rates
    are drawn per image from ``train_rates`` (uniformly, or with the relative frequencies
    ``train_rate_weights``: ``[[rate, weight], ...]``, 1 for rates not named), so one model serves the
    whole rate-distortion curve.

    Args:
        system: the networks; those not in ``trains`` are frozen.
        codec: the real codec (no gradient).
        train_rates: codec rates drawn for training images.
        val_rate: the rate of the validation round trips (default: the middle training rate).
        lr: learning rate of every trained network.
        loss: the distance, one of :data:`vcnlit.stages.losses.LOSSES`.
        y_weight: weight of the pull of Y towards :meth:`y_target` (0: off).
        train_rate_weights: relative frequencies of the training rates (None: uniform).
        optimizer: ``optimizer(params, lr=lr)`` builds each network's optimizer (default Adam).
        scheduler: ``scheduler(optimizer, total_steps)`` builds its per-batch scheduler (default
            :func:`vcnlit.stages.schedule.warmup_decay`).
    """

    trains: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        system: ResamplingSystem,
        codec: Codec,
        train_rates: list[float],
        val_rate: float | None = None,
        lr: float = 2e-4,
        loss: str = "mse",
        y_weight: float = 0.0,
        train_rate_weights: RateWeights | None = None,
        optimizer: OptimizerFactory = torch.optim.Adam,
        scheduler: SchedulerFactory = warmup_decay,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.system, self.codec = system, codec
        self.compressor = Compressor(system, codec)
        self.train_rates = [float(r) for r in train_rates]
        self.train_rate_weights = _rate_weights(train_rate_weights, self.train_rates)
        self.val_rate = float(val_rate) if val_rate is not None else self.train_rates[len(self.train_rates) // 2]
        check_choice("loss", loss, LOSSES)
        self.lr, self.loss_kind, self.y_weight = lr, loss, y_weight
        self.make_optimizer, self.make_scheduler = optimizer, scheduler
        self.rng = random.Random(0)
        self._plain_opts: list[torch.optim.Optimizer] | None = None
        self._stepped: set[int] = set()  # optimizers updated in the current batch
        for name in ("rsn", "idn", "vcn"):
            getattr(system, name).requires_grad_(name in self.trains)

    # -- helpers -------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        self.seed_draws(self.global_rank)
        # oneDNN's convolutions take 12-18% less CPU per step on NHWC tensors (benchmarks/);
        # the system goes back to the default layout in on_fit_end
        self.system.to(memory_format=torch.channels_last)

    def on_fit_end(self) -> None:
        self.system.to(memory_format=torch.contiguous_format)

    def sample_rates(self, n: int) -> list[float]:
        if self.train_rate_weights is None:
            return [self.rng.choice(self.train_rates) for _ in range(n)]
        return self.rng.choices(self.train_rates, weights=self.train_rate_weights, k=n)

    def dist(self, a: Tensor, b: Tensor) -> Tensor:
        return distance(a, b, self.loss_kind)

    def y_target(self, x: Tensor, y: Tensor) -> Tensor:
        """What :meth:`y_regulariser` pulls Y towards: the bicubic re-sampled image."""
        return resize(x, tuple(y.shape[-2:]))

    def y_regulariser(self, x: Tensor, y: Tensor) -> Tensor:
        """Keeps Y close to :meth:`y_target` (weight ``y_weight``, 0 disables)."""
        if self.y_weight <= 0:
            return y.new_zeros(())
        return self.y_weight * distance(y, self.y_target(x, y), "mse")

    def check_finite(self, **losses: Tensor) -> None:
        for k, v in losses.items():
            if not torch.isfinite(v):
                raise NonFiniteLossError(
                    f"stage {type(self).__name__}: loss {k} is {v.item()} at step {self.global_step}; "
                    "the last good checkpoint is kept (lower the learning rate?)"
                )

    def decoded(self, y: Tensor, rates: list[float]) -> Tensor:
        """The codec's decoded signal of ``y`` (no gradient).

        A codec with a ``reconstruct`` method (DNNC: lossless entropy coding) gives the exact
        decoded signal without running its entropy coder; others do a real round trip.
        """
        fast = getattr(self.codec, "reconstruct", None)
        return fast(y, rates) if fast is not None else self.codec.round_trip(y, rates).decoded

    def use_optimizers(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """Step with these optimizers (one per ``trains`` entry) outside a Trainer: a plain loop."""
        self._plain_opts = list(optimizers)

    def _opts(self) -> list:
        if self._plain_opts is not None:
            return self._plain_opts
        opts = self.optimizers()
        return opts if isinstance(opts, list) else [opts]

    def update(self, loss: Tensor, *opt_indices: int) -> None:
        """Backward ``loss`` and step the given optimizers (all when none given); the others are untouched."""
        opts = self._opts()
        indices = list(opt_indices) if opt_indices else list(range(len(opts)))
        self._stepped.update(indices)
        chosen = [opts[i] for i in indices]
        for opt in chosen:
            opt.zero_grad(set_to_none=True)
        if self._plain_opts is not None:
            loss.backward()
        else:
            self.manual_backward(loss)
        for opt in chosen:
            opt.step()

    def step(self, x: Tensor) -> dict[str, Tensor]:
        """One training step on a batch: losses, optimizer updates; returns the losses by name."""
        raise NotImplementedError

    def batch_index(self) -> int | None:
        """The index of the current training batch in this stage (None outside a Trainer)."""
        return self.trainer.fit_loop.total_batch_idx if self._trainer is not None else None

    def network_steps(self, total: int) -> list[int]:
        """Batches in which each trained network (``trains`` order) is updated, of the stage's ``total``:
        the length of its learning-rate schedule. Default: every batch."""
        return [total] * len(self.trains)

    def training_step(self, x: Tensor, batch_idx: int) -> Tensor:
        self._stepped = set()
        losses = self.step(x)
        # schedulers step here, not in on_train_batch_end: the step's checkpoint (taken by a callback
        # before that hook) must hold them stepped, or a resumed run trains at other learning rates.
        # A network's schedule advances with its own updates only.
        scheds = self.lr_schedulers()
        for i, s in enumerate(scheds if isinstance(scheds, list) else [scheds]):
            if s is not None and i in self._stepped:
                s.step()
        self.log_dict({f"{self.name}/{k}": v for k, v in losses.items()}, prog_bar=True)
        return next(iter(losses.values()))

    def configure_optimizers(self):
        total = int(self.trainer.estimated_stepping_batches) if self._trainer is not None else 0
        opts = [self.make_optimizer(getattr(self.system, name).parameters(), lr=self.lr) for name in self.trains]
        scheds = [{"scheduler": self.make_scheduler(opt, n), "interval": "step"}
                  for opt, n in zip(opts, self.network_steps(total))]
        return opts, scheds

    # -- validation: real codec, real bytes ------------------------------------------------------
    def validation_step(self, batch: dict, batch_idx: int) -> None:
        x = batch["image"]
        with torch.autocast(x.device.type, enabled=False):  # the model as it is used: float32, also under bf16-mixed
            rt = self.compressor.round_trip(x, self.val_rate)
        bpp = sum(rt.nbytes) * 8.0 / (x.shape[0] * x.shape[-1] * x.shape[-2])
        stage = self.stage_name()
        self.log(f"{stage}/val_psnr", psnr(rt.x_hat, x).mean(), batch_size=x.shape[0], sync_dist=True)
        self.log(f"{stage}/val_bpp", bpp, batch_size=x.shape[0], sync_dist=True)

    @classmethod
    def stage_name(cls) -> str:
        return getattr(cls, "name", cls.__name__)


@functools.cache
def _warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time this process meets it (each stage builds its module
    from the same config)."""
    log.warning(message)


def _rate_weights(weights: RateWeights | None, rates: list[float]) -> list[float] | None:
    """One relative frequency per training rate from ``[[rate, weight], ...]`` or ``{rate: weight}``
    (rates not named weigh 1; None: uniform). Named rates that are not training rates are ignored
    with a warning, so a changed ``eval.rate_points`` still trains."""
    if weights is None:
        return None
    try:
        pairs = weights.items() if isinstance(weights, Mapping) else [tuple(p) for p in weights]
        given = {float(k): float(v) for k, v in pairs}
    except (TypeError, ValueError):
        raise ConfigError(f"train_rate_weights must be [[rate, weight], ...], e.g. [[70, 8]], got {weights!r}") from None
    unknown = sorted(set(given) - set(rates))
    if unknown:
        _warn_once(f"train_rate_weights: {unknown} not among the training rates {rates}; ignored")
    w = [given.get(r, 1.0) for r in rates]
    if min(w) < 0 or sum(w) <= 0:
        raise ConfigError(f"train_rate_weights must be >= 0 and not all 0, got {weights!r} for rates {rates}")
    return w


def epochs_for(steps: int, steps_per_epoch: int) -> int:
    """Whole epochs covering ``steps`` training batches."""
    return max(1, math.ceil(steps / max(1, steps_per_epoch)))
