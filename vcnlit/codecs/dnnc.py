"""DNNC: block DCT + dead-zone quantisation + arithmetic coding (torchac), real bitstreams."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from vcnlit.codecs.base import Codec
from vcnlit.codecs.byteio import ByteReader, put_varint
from vcnlit.codecs.dct import ENCODER_ONLY, dct_bands, idct_bands, rounding_offsets
from vcnlit.codecs.entropy import decode_planes, decode_symbols, encode_planes, encode_symbols
from vcnlit.codecs.entropy.context import REVISION, REVISIONS
from vcnlit.codecs.rate_proxy import JPEG_CHROMA_TABLE, JPEG_LUMA_TABLE
from vcnlit.errors import ConfigError, check_choice
from vcnlit.pixels import pad_bottom_right

#: step sizes mapped to rate units 1 (finest) and 0 (coarsest) by ``rate_to_unit``
STEP_RANGE = (1.0, 128.0)
#: entropy models: static per-band histograms (the first format) or the context model
ENTROPY_MODELS = ("band", "context")
#: how 3-channel signals are coded: as they are, as YCbCr, or as YCbCr with chroma at half resolution
COLOURS = ("rgb", "ycbcr", "ycbcr420")
#: 8-bit value coded as 0: mid-grey of luma and plain channels, neutral chroma
CENTRE = (128.0, 127.5)
#: the first format's settings: what a stream whose header names none of these was coded with
LEGACY = {"entropy": "band", "colour": "rgb", "deadzone": 0.5, "deadzone_hf": None, "qmatrix_power": 1.0}


class DnncCodec(Codec):
    """JPEG-like transform codec: quantised ``DCT(255 y - 128) / (step * qmatrix)`` per plane, entropy coded.

    ``step`` is the rate knob (larger step = fewer bytes). Images must have height and width
    that are multiples of ``block_size`` (the pipeline pads). The payload holds no shape or
    step: the container header carries them with :meth:`header_params`.

    Args:
        step: quantisation step in 8-bit units.
        block_size: DCT block side.
        qmatrix: None (flat), ``"jpeg"`` (the JPEG standard's tables divided by their DC entry:
            luminance for luma and plain channels, chrominance for chroma) or a
            block x block matrix (all > 0) scaling the step per frequency.
        threads: images coded at once in a batch.
        entropy: ``"band"`` (one static histogram per band) or ``"context"``
            (:mod:`vcnlit.codecs.entropy.context`).
        colour: for 3-channel signals: ``"rgb"`` (as they are), ``"ycbcr"`` or ``"ycbcr420"``
            (chroma at half resolution, 2x2 means, bilinear upsampling on decoding).
        deadzone: rounding offset of the quantiser at DC (``floor(|c| / q + offset)``); 0.5 is
            plain rounding, smaller values zero more small coefficients (the encoder's
            choice: decoding does not depend on it).
        deadzone_hf: the offset at the highest frequency; in between it runs linearly in
            ``u + v``. None: ``deadzone`` at every frequency.
        qmatrix_power: the matrix is raised to this power (1: as given, 0: flat).
        context_revision: of the context model's activity (:data:`~vcnlit.codecs.entropy.context.REVISIONS`;
            1 only to decode the first streams of container version 3).
    """

    name = "dct"
    mode = "dnnc"
    rate_key = "step"

    def __init__(
        self,
        step: float = 8.0,
        block_size: int = 8,
        qmatrix: list[list[float]] | str | None = None,
        threads: int = 1,
        entropy: str = LEGACY["entropy"],
        colour: str = LEGACY["colour"],
        deadzone: float = LEGACY["deadzone"],
        deadzone_hf: float | None = LEGACY["deadzone_hf"],
        qmatrix_power: float = LEGACY["qmatrix_power"],
        context_revision: int = REVISION,
    ) -> None:
        super().__init__(_check_step(step), threads)
        if int(block_size) != block_size or not 1 <= block_size <= 64:
            raise ConfigError(f"codec.block_size must be an integer in [1, 64], got {block_size}")
        self.block = int(block_size)
        check_choice("codec.entropy", entropy, ENTROPY_MODELS)
        check_choice("codec.colour", colour, COLOURS)
        self.entropy, self.colour = entropy, colour
        self.deadzone = float(deadzone)
        self.deadzone_hf = None if deadzone_hf is None else float(deadzone_hf)
        self._offset = rounding_offsets(self.deadzone, self.deadzone_hf, self.block)  # per band
        self.qmatrix_power = float(qmatrix_power)
        if not math.isfinite(self.qmatrix_power):
            raise ConfigError(f"codec.qmatrix_power must be finite, got {qmatrix_power}")
        check_choice("codec.context_revision", context_revision, REVISIONS)
        self.context_revision = int(context_revision)
        self.qmatrix = qmatrix
        self._q = [q.reshape(-1) ** self.qmatrix_power for q in self._matrices(qmatrix)]  # luma, chroma

    def _matrices(self, qmatrix: list[list[float]] | str | None) -> tuple[Tensor, Tensor]:
        b = self.block
        if qmatrix is None:
            flat = torch.ones(b, b, dtype=torch.float64)
            return flat, flat
        if isinstance(qmatrix, str):
            check_choice("codec.qmatrix", qmatrix, ("jpeg",))
            if b != 8:
                raise ConfigError(f"codec.qmatrix=jpeg needs block_size 8, got {b}")
            luma, chroma = (torch.tensor(t, dtype=torch.float64) for t in (JPEG_LUMA_TABLE, JPEG_CHROMA_TABLE))
            return luma / luma[0, 0], chroma / chroma[0, 0]
        q = torch.as_tensor(qmatrix, dtype=torch.float64)
        if q.shape != (b, b):
            raise ConfigError(f"codec.qmatrix must be {b}x{b}, got {tuple(q.shape)}")
        if not bool(torch.isfinite(q).all()) or bool((q <= 0).any()):
            raise ConfigError("codec.qmatrix entries must be finite and > 0")
        self.qmatrix = q.tolist()
        return q, q

    def params(self) -> dict[str, Any]:
        """Settings besides the rate: the first format's three, and any other that differs from it."""
        p: dict[str, Any] = {"format": "dct", "block_size": self.block, "qmatrix": self.qmatrix}
        for key, legacy in LEGACY.items():
            if getattr(self, key) != legacy:
                p[key] = getattr(self, key)
        if self.context_revision != REVISION:
            p["context_revision"] = self.context_revision
        return p

    def header_params(self, channels: int | None = None) -> dict[str, Any]:
        """What a decoder needs, as few bytes: the settings that differ from the constructor's defaults
        (the header names the format, the dead zone is the encoder's, colour coding does not apply to
        one channel)."""
        defaults = {"block_size": 8, "qmatrix": None, "context_revision": REVISION, **LEGACY}
        p = {k: v for k, v in self.params().items() if k not in ("format", *ENCODER_ONLY) and v != defaults[k]}
        if channels == 1:
            p.pop("colour", None)
        return p

    def rate_to_unit(self, rate: float) -> float:
        lo, hi = STEP_RANGE
        u = 1.0 - (math.log(_check_step(rate)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return min(1.0, max(0.0, u))

    def _steps(self, rate: float | None, kind: int = 0) -> Tensor:
        return _check_step(self.rate if rate is None else rate) * self._q[kind]

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

    def _ycbcr(self, c: int) -> bool:
        return c == 3 and self.colour != "rgb"

    def plane_shapes(self, shape: tuple[int, int, int]) -> list[tuple[int, int, int]]:
        """(block rows, block columns, kind) of every coded plane of a (C, H, W) signal."""
        c, h, w = self._check_shape(tuple(shape))
        b = self.block
        if not self._ycbcr(c):
            return [(h // b, w // b, 0)] * c
        if self.colour == "ycbcr":
            return [(h // b, w // b, 0)] + [(h // b, w // b, 1)] * 2
        hc, wc = (-(-(v // 2) // b) for v in (h, w))
        return [(h // b, w // b, 0)] + [(hc, wc, 1)] * 2

    def _signal_planes(self, y: Tensor) -> list[Tensor]:
        """(C, H, W) in [0, 1] -> the 2-D planes to code, in 8-bit units centred on 0 (differentiable)."""
        x = y.clamp(0, 1)
        if self._ycbcr(x.shape[0]):
            from kornia.color import rgb_to_ycbcr

            x = rgb_to_ycbcr(x)
        planes = [p * 255.0 - CENTRE[k] for p, (_, _, k) in zip(x, self.plane_shapes(tuple(y.shape)))]
        if self._ycbcr(x.shape[0]) and self.colour == "ycbcr420":
            half = F.avg_pool2d(torch.stack(planes[1:]), 2)
            b = self.block
            half = pad_bottom_right(half, -(-half.shape[-2] // b) * b, -(-half.shape[-1] // b) * b)
            planes[1:] = list(half)
        return planes

    def _round(self, c: Tensor) -> Tensor:
        if bool((self._offset == 0.5).all()):
            return torch.round(c)  # the first format's rounding (half to even)
        return torch.sign(c) * torch.floor(c.abs() + self._offset)

    def transform(self, y: Tensor) -> list[Tensor]:
        """(C, H, W) in [0, 1] -> the block-DCT coefficients of every plane, (n_blocks, block * block) each,
        in 8-bit units; differentiable in ``y`` (in its dtype and device). :meth:`quantize_planes` divides
        them by :meth:`plane_steps` and rounds."""
        if y.dim() != 3:
            raise ValueError(f"expected one (C, H, W) image, got shape {tuple(y.shape)}")
        shapes = self.plane_shapes(tuple(y.shape))
        signal = self._signal_planes(y)
        out: list[Tensor] = [torch.empty(0)] * len(shapes)
        for group in _same_size(shapes):
            coeffs = dct_bands(torch.stack([signal[i] for i in group]), self.block)  # (n, n_blocks, block * block)
            for i, ci in zip(group, coeffs):
                out[i] = ci
        return out

    def plane_steps(self, shape: tuple[int, int, int], step: float | None = None) -> list[Tensor]:
        """The quantiser step of each band (block * block), for each plane of a (C, H, W) signal."""
        return [self._steps(step, kind) for _, _, kind in self.plane_shapes(tuple(shape))]

    def quantize_planes(self, y: Tensor, step: float | None = None) -> list[Tensor]:
        """(C, H, W) in [0, 1] -> int64 symbols of every plane, (block rows, block columns, block * block)."""
        coeffs = self.transform(y.detach().to("cpu", torch.float64))
        shape = tuple(y.shape)
        out: list[Tensor] = []
        for c, steps, (rows, cols, _) in zip(coeffs, self.plane_steps(shape, step), self.plane_shapes(shape)):
            q = self._round(c / steps)
            if q.numel() and float(q.abs().max()) >= 2**30:
                raise ValueError("dct codec: step too small, quantised coefficients overflow")
            out.append(q.to(torch.int64).reshape(rows, cols, -1))
        return out

    def dequantize_planes(self, planes: list[Tensor], shape: tuple[int, int, int], step: float | None = None) -> Tensor:
        """Inverse of :meth:`quantize_planes` up to rounding: float32 (C, H, W) clamped to [0, 1]."""
        coeffs = [p.to(torch.float64).reshape(-1, p.shape[-1]) * s
                  for p, s in zip(planes, self.plane_steps(tuple(shape), step))]
        return self.inverse(coeffs, shape).to(torch.float32)

    def inverse(self, coeffs: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
        """Inverse of :meth:`transform`: the (C, H, W) signal, clamped to [0, 1], of every plane's
        coefficients (differentiable, in their dtype)."""
        c, h, w = self._check_shape(tuple(shape))
        shapes = self.plane_shapes((c, h, w))
        b = self.block
        signal: list[Tensor] = [torch.empty(0)] * len(shapes)
        for group in _same_size(shapes):
            rows, cols, _ = shapes[group[0]]
            x = idct_bands(torch.stack([coeffs[i] for i in group]), rows * b, cols * b, b)
            for i, xi in zip(group, x):
                signal[i] = xi
        if self._ycbcr(c) and self.colour == "ycbcr420":
            half = torch.stack(signal[1:])[:, : h // 2, : w // 2]
            signal[1:] = list(F.interpolate(half[None], size=(h, w), mode="bilinear", align_corners=False)[0])
        x = torch.stack([(p + CENTRE[k]) / 255.0 for p, (_, _, k) in zip(signal, shapes)])
        if self._ycbcr(c):
            from kornia.color import ycbcr_to_rgb

            x = ycbcr_to_rgb(x)
        return x.clamp(0, 1)

    def quantize(self, y: Tensor, step: float | None = None) -> Tensor:
        """(C, H, W) in [0, 1] -> int64 symbols (C, n_blocks, block * block), planes of one size only."""
        planes = self.quantize_planes(y, step)
        if len({tuple(p.shape) for p in planes}) != 1:
            raise ValueError("dct codec: the planes differ in size (ycbcr420); use quantize_planes")
        return torch.stack([p.reshape(-1, p.shape[-1]) for p in planes])

    def dequantize(self, symbols: Tensor, shape: tuple[int, int, int], step: float | None = None) -> Tensor:
        """Inverse of :meth:`quantize` up to rounding: float32 (C, H, W) clamped to [0, 1]."""
        shapes = self.plane_shapes(tuple(shape))
        return self.dequantize_planes([s.reshape(r, c, -1) for s, (r, c, _) in zip(symbols, shapes)], shape, step)

    def entropy_encode(self, planes: list[Tensor], shape: tuple[int, int, int]) -> bytes:
        """Losslessly code the planes of a (C, H, W) signal with this codec's entropy model."""
        shapes = self.plane_shapes(tuple(shape))
        if self.entropy == "context":
            return encode_planes([p.numpy() for p in planes], [k for _, _, k in shapes], self.context_revision)
        parts = [encode_symbols(torch.stack([planes[i].reshape(-1, planes[i].shape[-1]) for i in g]))
                 for g in _same_size(shapes)]
        out = bytearray()
        for part in parts[:-1]:  # one group (every plane of one size): the first format exactly
            put_varint(out, len(part))
            out += part
        return bytes(out) + parts[-1]

    def entropy_decode(self, payload: bytes, shape: tuple[int, int, int]) -> list[Tensor]:
        """Inverse of :meth:`entropy_encode`; raises BitstreamError on malformed data."""
        shapes = self.plane_shapes(tuple(shape))
        if self.entropy == "context":
            planes = decode_planes(payload, [(r, c, self.block**2) for r, c, _ in shapes], [k for _, _, k in shapes],
                                   self.context_revision)
            return [torch.from_numpy(p) for p in planes]
        groups = _same_size(shapes)
        rd = ByteReader(bytes(payload), "dct payload")
        parts = [rd.read(rd.varint()) for _ in groups[:-1]]
        parts.append(rd.data[rd.pos :])
        out: list[Tensor] = [torch.empty(0)] * len(shapes)
        for g, part in zip(groups, parts):
            rows, cols, _ = shapes[g[0]]
            for i, s in zip(g, decode_symbols(part, (len(g), rows * cols, self.block**2))):
                out[i] = s.reshape(rows, cols, -1)
        return out

    def encode(self, y: Tensor, rate: float | None = None) -> bytes:
        return self.entropy_encode(self.quantize_planes(y, rate), tuple(y.shape))

    def decode(self, payload: bytes, shape: tuple[int, int, int], rate: float | None = None) -> Tensor:
        return self.dequantize_planes(self.entropy_decode(payload, shape), shape, rate)

    @torch.no_grad()
    def reconstruct(self, y: Tensor, rate: float | Tensor | list[float] | None = None) -> Tensor:
        """What :meth:`round_trip` decodes, without running the arithmetic coder.

        Entropy coding is lossless, so a (B, C, H, W) batch decodes to exactly
        ``dequantize_planes(quantize_planes(y))`` per image: training uses this (it needs the
        decoded signal only); every bitrate still comes from real bitstreams.
        """
        def one(yi: Tensor, r: float) -> Tensor:
            return self.dequantize_planes(self.quantize_planes(yi, r), tuple(yi.shape), r)

        return torch.stack(self.map_images(y, rate, one)).to(device=y.device, dtype=y.dtype)


def _same_size(shapes: list[tuple[int, int, int]]) -> list[list[int]]:
    """Indices of the planes, grouped by (rows, columns) in order of first appearance."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (r, c, _) in enumerate(shapes):
        groups.setdefault((r, c), []).append(i)
    return list(groups.values())


def _check_step(step: float) -> float:
    s = float(step)
    if not math.isfinite(s) or s <= 0:
        raise ConfigError(f"codec.step must be a finite number > 0, got {step}")
    return s

