"""Several models as one codec for a size budget: each member's best file within the budget, and of those
the one whose decoded image has the highest PSNR (real bytes, real distortion).

A zoo composite (:data:`vcnlit.zoo.COMPOSITES`) is such a group: a half-size model, best at low rates, and a
full-size one, best at high rates, picked per image and per budget. A single model is a group of one.
A member may also code the image resized (:func:`resized`): a half-size model on the image enlarged codes a
signal between half and full size, which fills the rates between the two models, and on the image shrunk a
signal below half size, for the lowest rates of smooth photos; the stream names the original size, and the
decoder resizes its image back to it. Every file is an ordinary stream of the member that made it (its
header's fingerprint names it), so it decodes like any other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor

from vcnlit.checkpoint import LoadedModel
from vcnlit.codecs import container, unpack
from vcnlit.codecs.jpeg_tag import is_jpeg, untag
from vcnlit.compressor import Compressor
from vcnlit.errors import ConfigError
from vcnlit.nets.resampling import resize

#: resize factors must be above this (a shrunk side keeps at least half of its pixels)
MIN_FACTOR = 0.5
#: the bpp targets a composite's RD curve is drawn at (``python -m vcnlit.evaluate model=NAME``)
TARGETS = (0.03, 0.06, 0.1, 0.15, 0.25, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5)
#: the rate key of a results file drawn at bpp targets
TARGET_KEY = "bpp_target"


def rate_grid(model: LoadedModel, best: float | None = None) -> list[float]:
    """The rates a size budget searches, over the model's trained range (up to ``best``, its best-quality
    end, where given): every integer quality (SCIC), or 64 step sizes evenly spaced in log (DNNC)."""
    trained = sorted(float(r) for r in model.rate_points) or [float(model.codec.rate)]
    lo, hi = trained[0], trained[-1]
    if best is not None:
        lo, hi = (lo, float(best)) if model.codec.rate_key == "quality" else (float(best), hi)
    if model.codec.rate_key == "quality":
        return [float(q) for q in range(math.ceil(lo), math.floor(hi) + 1)] or [lo]
    return [lo * (hi / lo) ** (i / 63) for i in range(64)] if hi > lo else [lo]


class Member(NamedTuple):
    name: str  # the zoo name or model file it was loaded as
    model: LoadedModel
    comp: Compressor
    grid: list[float]  # the rates its budget search runs over (:func:`rate_grid`)
    resize: tuple[float, ...] = ()  # factors it also codes the image resized by (besides 1)

    @property
    def top(self) -> float:
        """Its best-quality rate: the highest quality (SCIC), the smallest step (DNNC)."""
        return max(self.grid) if self.model.codec.rate_key == "quality" else min(self.grid)

    @property
    def bottom(self) -> float:
        """Its lowest-quality rate (its smallest files)."""
        return min(self.grid) if self.top == max(self.grid) else max(self.grid)


def member(name: str, model: LoadedModel, comp: Compressor, best: float | None = None,
           resize: tuple[float, ...] = ()) -> Member:
    """A group member searching its :func:`rate_grid` (to ``best`` where given), on the image and on the image
    resized by each factor of ``resize`` (above 1: enlarged; below: shrunk)."""
    if any(not (math.isfinite(f) and f > MIN_FACTOR and f != 1) for f in resize):
        raise ConfigError(f"{name}: resize factors must be above {MIN_FACTOR:g} and other than 1, got {resize}")
    return Member(name, model, comp, rate_grid(model, best), tuple(float(f) for f in resize))


def resized(x: Tensor, factor: float) -> Tensor:
    """A (C, H, W) image resized (bicubic, antialiased) to ``factor`` times its height and width, rounded (at
    least 1 pixel); ``x`` itself at 1."""
    if factor == 1:
        return x
    return resize(x[None], _size(x, factor))[0].clamp(0, 1)


def _size(x: Tensor, factor: float) -> tuple[int, int]:
    h, w = x.shape[-2:]
    return max(1, round(h * factor)), max(1, round(w * factor))


class Choice(NamedTuple):
    data: bytes  # the file (in the form asked for)
    member: Member  # the model that made it
    rate: float  # its codec rate
    top: bool  # coded at the member's best-quality rate: no member could spend more of the budget
    x_hat: Tensor | None  # its decoded (C, H, W) image (None when only one member fits and none was asked)
    resize: float = 1.0  # the factor the member coded the image resized by


def _fits(x: Tensor, factor: float) -> bool:
    """Whether ``x`` resized by ``factor`` is within the largest image a stream may hold (else that candidate
    is left out: the image itself still codes)."""
    h, w = _size(x, factor)
    return x.shape[-3] * h * w <= container.MAX_SAMPLES


def _key(m: Member, factor: float) -> str:
    """A member's name, or its name and the factor it codes the image resized by."""
    return m.name if factor == 1 else f"{m.name}@{factor:g}"


@dataclass
class ImageMemo:
    """What several budgets of one image share: each resized copy of it, each member's Y (by :func:`_key`),
    and each decoded (key, rate) file."""

    images: dict[float, Tensor] = field(default_factory=dict)
    ys: dict[str, Tensor] = field(default_factory=dict)
    decoded: dict[tuple[str, float], Tensor] = field(default_factory=dict)

    def image(self, x: Tensor, factor: float) -> Tensor:
        """``x`` resized by ``factor`` (:func:`resized`), made once."""
        if factor not in self.images:
            self.images[factor] = resized(x, factor)
        return self.images[factor]


def psnr8(x_hat: Tensor, x: Tensor) -> float:
    """PSNR (dB) of a (C, H, W) decoded image, both images at 8 bits (as the results and files count it)."""
    from vcnlit.eval.metrics import psnr

    return float(psnr(x_hat[None], x[None])[0])


class MultiRate:
    """Members of one channel count coding one image to a size budget; the best real PSNR wins.

    Args:
        name: the group's name (a composite's, or the single member's).
        members: the models, the first one coding alone where no budget is asked for.
    """

    def __init__(self, name: str, members: Sequence[Member]) -> None:
        if not members or len({m.model.system.channels for m in members}) != 1:
            raise ConfigError(f"{name}: a group needs one or more members of one channel count")
        self.name, self.members = name, list(members)

    def decode(self, m: Member, data: bytes) -> Tensor:
        """The (C, H, W) image of a file ``m`` made (a ``.vcn`` stream or a tagged JPEG file)."""
        return m.comp.decode(*(untag(data) if is_jpeg(data) else unpack(data)))

    @torch.no_grad()
    def compress_to_size(self, x: Tensor, max_bytes: int, form: Callable[[bytes], bytes] | None = None,
                         memo: ImageMemo | None = None, decode: bool = False) -> Choice:
        """The file of at most ``max_bytes`` that decodes best: each member's largest file within the budget
        (:meth:`Compressor.compress_to_size` over its grid), of the image and of each resized copy of it,
        decoded, and the highest PSNR against ``x``.

        Args:
            x: a (C, H, W) image in [0, 1] with the members' channel count.
            max_bytes: the largest file allowed, in bytes.
            form: the file written for a ``.vcn`` stream (see :meth:`Compressor.compress_to_size`).
            memo: what earlier budgets of this image computed (a fresh one when None).
            decode: decode the chosen file even when only one member fits.

        Raises:
            ConfigError: no member makes a file that small (the message of the first member on its most
                shrunk image: it makes the smallest files).
        """
        # several budgets of one image share what the memo keeps; one budget holds each candidate's images only
        # while it needs them (peak memory on large photos)
        keep = memo is not None
        memo = memo or ImageMemo()
        fits: list[tuple[Member, float, bytes, float]] = []
        first: ConfigError | None = None
        size = (int(x.shape[-2]), int(x.shape[-1]))
        for m in self.members:
            for f in sorted({1.0, *(f for f in m.resize if _fits(x, f))}):
                key = _key(m, f)
                xf = memo.image(x, f)
                if key not in memo.ys:
                    memo.ys[key] = m.comp.rsn(m.comp.pad(xf[None]))[0]
                try:
                    fits.append((m, f, *m.comp.compress_to_size(xf, max_bytes, m.grid, form, y=memo.ys[key],
                                                                 out_size=None if f == 1 else size)))
                except ConfigError as e:
                    first = first or e  # the first member's on its smallest image: the smallest file
                if not keep:
                    memo.ys.pop(key)
                    if f != 1:
                        memo.images.pop(f)
        if not fits:
            assert first is not None
            raise first
        best: tuple[tuple[float, int], Tensor | None, Member, float, bytes, float] | None = None
        for m, f, data, rate in fits:  # the first of the highest PSNR (then the smallest file) wins
            x_hat = None
            if decode or len(fits) > 1:
                x_hat = self._decoded(_key(m, f), m, data, rate, memo) if keep else self.decode(m, data)
            score = (psnr8(x_hat, x) if x_hat is not None else 0.0, -len(data))
            if best is None or score > best[0]:
                best = (score, x_hat, m, f, data, rate)
        assert best is not None
        _, x_hat, m, f, data, rate = best
        return Choice(data, m, rate, all(r == c.top for c, _, _, r in fits), x_hat, f)

    def _decoded(self, key: str, m: Member, data: bytes, rate: float, memo: ImageMemo) -> Tensor:
        if (key, rate) not in memo.decoded:
            memo.decoded[(key, rate)] = self.decode(m, data)
        return memo.decoded[(key, rate)]

    @torch.no_grad()
    def smallest(self, x: Tensor, memo: ImageMemo | None = None) -> Choice:
        """The first member's file at its lowest-quality rate of its most shrunk image (a budget below every
        member's range), decoded."""
        memo = memo or ImageMemo()
        m = self.members[0]
        f = min((1.0, *m.resize))
        data = m.comp.compress(memo.image(x, f), m.bottom, None if f == 1 else (int(x.shape[-2]), int(x.shape[-1])))
        return Choice(data, m, m.bottom, False, self._decoded(_key(m, f), m, data, m.bottom, memo), f)
