"""DNNC: block DCT + uniform quantisation + arithmetic coding (torchac), real bitstreams."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from vcnlit.codecs.base import Codec
from vcnlit.codecs.dct import dct_bands, idct_bands
from vcnlit.codecs.entropy import decode_symbols, encode_symbols
from vcnlit.errors import ConfigError

#: step sizes mapped to rate units 1 (finest) and 0 (coarsest) by ``rate_to_unit``
STEP_RANGE = (1.0, 128.0)


class DnncCodec(Codec):
    """JPEG-like transform codec: ``round(DCT(255 y - 128) / (step * qmatrix))``, entropy coded.

    ``step`` is the rate knob (larger step = fewer bytes). ``qmatrix`` (block x block, all
    > 0) scales the step per frequency; None means a flat matrix. Images must have height and
    width that are multiples of ``block_size`` (the pipeline pads). The payload holds no
    shape or step: the container header carries them.
    """

    name = "dct"
    mode = "dnnc"
    rate_key = "step"

    def __init__(
        self,
        step: float = 8.0,
        block_size: int = 8,
        qmatrix: list[list[float]] | None = None,
        threads: int = 1,
    ) -> None:
        super().__init__(_check_step(step), threads)
        if int(block_size) != block_size or not 1 <= block_size <= 64:
            raise ConfigError(f"codec.block_size must be an integer in [1, 64], got {block_size}")
        self.block = int(block_size)
        self.qmatrix: list[list[float]] | None = None
        q = torch.ones(self.block, self.block, dtype=torch.float64)
        if qmatrix is not None:
            q = torch.as_tensor(qmatrix, dtype=torch.float64)
            if q.shape != (self.block, self.block):
                raise ConfigError(
                    f"codec.qmatrix must be {self.block}x{self.block}, got {tuple(q.shape)}"
                )
            if not bool(torch.isfinite(q).all()) or bool((q <= 0).any()):
                raise ConfigError("codec.qmatrix entries must be finite and > 0")
            self.qmatrix = q.tolist()
        self._q = q.reshape(-1)  # per band, index u * block + v

    def params(self) -> dict[str, Any]:
        return {"format": "dct", "block_size": self.block, "qmatrix": self.qmatrix}

    def rate_to_unit(self, rate: float) -> float:
        lo, hi = STEP_RANGE
        u = 1.0 - (math.log(_check_step(rate)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return min(1.0, max(0.0, u))

    def _steps(self, rate: float | None) -> Tensor:
        return _check_step(self.rate if rate is None else rate) * self._q

    def quantiser_steps(self, rate: float) -> Tensor:
        return self._steps(rate)

    def _check_shape(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"expected a (C, H, W) shape, got {tuple(shape)}")
        c, h, w = (int(v) for v in shape)
        if h % self.block or w % self.block:
            raise ValueError(
                f"dct codec: height and width ({h}, {w}) must be multiples of "
                f"block_size {self.block}; pad the image first"
            )
        return c, h, w

    def quantize(self, y: Tensor, step: float | None = None) -> Tensor:
        """(C, H, W) in [0, 1] -> int64 symbols (C, n_blocks, block * block)."""
        if y.dim() != 3:
            raise ValueError(f"expected one (C, H, W) image, got shape {tuple(y.shape)}")
        self._check_shape(tuple(y.shape))
        x = y.detach().to("cpu", torch.float64).clamp(0, 1) * 255.0 - 128.0
        q = torch.round(dct_bands(x, self.block) / self._steps(step))
        if q.numel() and float(q.abs().max()) >= 2**31 - 1:
            raise ValueError("dct codec: step too small, quantised coefficients overflow int32")
        return q.to(torch.int64)

    def dequantize(
        self, symbols: Tensor, shape: tuple[int, int, int], step: float | None = None
    ) -> Tensor:
        """Inverse of :func:`quantize` up to rounding: float32 (C, H, W) clamped to [0, 1]."""
        _, h, w = self._check_shape(tuple(shape))
        coeffs = symbols.to(torch.float64) * self._steps(step)
        x = idct_bands(coeffs, h, w, self.block)
        return ((x + 128.0) / 255.0).clamp(0, 1).to(torch.float32)

    def encode(self, y: Tensor, rate: float | None = None) -> bytes:
        return encode_symbols(self.quantize(y, rate))

    @torch.no_grad()
    def reconstruct(self, y: Tensor, rate: float | Tensor | list[float] | None = None) -> Tensor:
        """What :meth:`round_trip` decodes, without running the arithmetic coder.

        Entropy coding is lossless, so a (B, C, H, W) batch decodes to exactly
        ``dequantize(quantize(y))`` per image: training uses this (it needs the decoded
        signal only); every bitrate still comes from real bitstreams.
        """
        def one(yi: Tensor, r: float) -> Tensor:
            return self.dequantize(self.quantize(yi, r), tuple(yi.shape), r)

        return torch.stack(self.map_images(y, rate, one)).to(device=y.device, dtype=y.dtype)

    def decode(
        self, payload: bytes, shape: tuple[int, int, int], rate: float | None = None
    ) -> Tensor:
        c, h, w = self._check_shape(tuple(shape))
        n_blocks = (h // self.block) * (w // self.block)
        symbols = decode_symbols(payload, (c, n_blocks, self.block * self.block))
        return self.dequantize(symbols, (c, h, w), rate)


def _check_step(step: float) -> float:
    s = float(step)
    if not math.isfinite(s) or s <= 0:
        raise ConfigError(f"codec.step must be a finite number > 0, got {step}")
    return s
