"""The one interface every vcnlit codec implements (SCIC and DNNC alike)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import torch
from torch import Tensor

from vcnlit.codecs.rate_proxy import dct_bits


class CodecResult(NamedTuple):
    """A batch round trip: decoded signals and the exact size of each real bitstream."""

    decoded: Tensor  # (B, C, H, W), float in [0, 1]
    payloads: list[bytes]  # each image's real bitstream

    @property
    def nbytes(self) -> list[int]:
        """Exact size of each payload in bytes."""
        return [len(p) for p in self.payloads]


class Codec(ABC):
    """A codec with no gradient: ``encode`` -> bytes, ``decode`` -> tensor.

    ``rate`` is the codec's rate knob (a quality for standard codecs, a step size
    for DNNC); every method takes an optional override so one codec object
    serves a whole rate-distortion curve.
    """

    #: short name written into bitstream headers and results files
    name: str = "codec"
    #: which framework this codec belongs to: "scic" or "dnnc"
    mode: str = "scic"
    #: config key of the rate knob ("quality" or "step")
    rate_key: str = "quality"
    #: images whose height and width are multiples of this can be coded as is
    block: int = 1

    def __init__(self, rate: float, threads: int = 1) -> None:
        self.rate = rate
        self.threads = max(1, int(threads))

    @abstractmethod
    def encode(self, y: Tensor, rate: float | None = None) -> bytes:
        """Code one signal into the codec's own bitstream.

        Args:
            y: a (C, H, W) signal in [0, 1].
            rate: the rate knob's value; None: the codec's own.

        Returns:
            The payload (no vcnlit container: the Compressor frames it).
        """

    @abstractmethod
    def decode(self, payload: bytes, shape: tuple[int, int, int], rate: float | None = None) -> Tensor:
        """Decode one payload.

        Args:
            payload: what :meth:`encode` returned.
            shape: the (C, H, W) shape of the coded signal.
            rate: the rate it was coded at (None: the codec's own).

        Returns:
            The decoded (C, H, W) float tensor in [0, 1].
        """

    @abstractmethod
    def rate_to_unit(self, rate: float) -> float:
        """Map a rate value to [0, 1] (0 = lowest rate): networks condition on it."""

    def params(self) -> dict[str, Any]:
        """Codec settings other than the rate (recorded in headers and results)."""
        return {}

    def header_params(self, channels: int | None = None) -> dict[str, Any]:
        """What a bitstream header of a ``channels``-channel signal records for the decoder (the container
        names the codec besides)."""
        return self.params()

    def quantiser_steps(self, rate: float) -> Tensor:
        """The 8-bit-scale quantiser step of each block-DCT band at ``rate``, for :meth:`estimated_bits`;
        codecs that are not block-DCT based have none."""
        raise NotImplementedError(
            f"codec {self.name!r} has no block-DCT rate estimate; train it with stages.end_to_end.module.rate_weight=0"
        )

    def estimated_bits(self, y: Tensor, rate: float | Tensor | list[float] | None = None) -> Tensor:
        """A differentiable estimate of the bits of each signal of a (B, C, H, W) batch (see
        :mod:`vcnlit.codecs.rate_proxy`); bitrates are always measured on real bitstreams."""
        rates = _per_image(rate if rate is not None else self.rate, y.shape[0])
        steps = torch.stack([self.quantiser_steps(r) for r in rates])
        return dct_bits(y, steps)

    def _round_trip_one(self, y: Tensor, rate: float) -> tuple[Tensor, bytes]:
        payload = self.encode(y, rate)
        return self.decode(payload, tuple(y.shape), rate), payload

    def map_images(self, y: Tensor, rate: float | Tensor | list[float] | None,
                   fn: Callable[[Tensor, float], Any]) -> list[Any]:
        """``fn(image, rate)`` for each (C, H, W) image of a batch on the CPU, in ``threads`` threads;
        ``rate`` may be one value or one per image (None: the codec's own)."""
        if y.dim() != 4:
            raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(y.shape)}")
        rates = _per_image(rate if rate is not None else self.rate, y.shape[0])
        y_cpu = y.detach().float().cpu()
        if self.threads > 1 and y.shape[0] > 1:
            with ThreadPoolExecutor(self.threads) as pool:
                return list(pool.map(fn, y_cpu, rates))
        return [fn(yi, r) for yi, r in zip(y_cpu, rates)]

    @torch.no_grad()
    def round_trip(self, y: Tensor, rate: float | Tensor | list[float] | None = None) -> CodecResult:
        """Encode and decode a batch for real.

        Args:
            y: (B, C, H, W) signals in [0, 1].
            rate: one rate, one per image, or None (the codec's own).

        Returns:
            The decoded batch and each image's payload.
        """
        out = self.map_images(y, rate, self._round_trip_one)
        decoded = torch.stack([o[0] for o in out]).to(device=y.device, dtype=y.dtype)
        return CodecResult(decoded, [o[1] for o in out])


def _per_image(rate: float | Tensor | list[float], b: int) -> list[float]:
    if isinstance(rate, Tensor):
        rate = rate.flatten().tolist()
    if isinstance(rate, (list, tuple)):
        if len(rate) != b:
            raise ValueError(f"got {len(rate)} rates for a batch of {b}")
        return [float(r) for r in rate]
    return [float(rate)] * b
