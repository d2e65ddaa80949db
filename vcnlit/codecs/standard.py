"""SCIC: standard codecs through Pillow (JPEG, JPEG2000, WebP, AVIF), real bitstreams."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, features
from torch import Tensor

from vcnlit.codecs.base import Codec
from vcnlit.codecs.dct import ENCODER_ONLY, rounding_offsets
from vcnlit.codecs.jpeg_encoder import encode_jpeg
from vcnlit.codecs.rate_proxy import JPEG_TABLES, jpeg_quant_table
from vcnlit.errors import ConfigError, check_choice
from vcnlit.pixels import from_uint8, to_uint8

#: Pillow format name and the (min, max) of each codec's rate knob
_FORMATS: dict[str, tuple[str, float, float]] = {
    "jpeg": ("JPEG", 1, 95),
    "jpeg2000": ("JPEG2000", 1, 400),  # compression ratio (higher = smaller file)
    "webp": ("WEBP", 0, 100),
    "avif": ("AVIF", 0, 100),
}


def _room_for(im: Image.Image) -> None:
    """Let libjpeg hold a whole Huffman-optimised JPEG of ``im`` in one buffer: Pillow sizes it at one byte
    per pixel (two at quality 95), which a noisy 4:4:4 image at high quality overflows ("Suspension not
    allowed here", an OSError). Raising Pillow's floor only grows; the bytes written do not change."""
    from PIL import ImageFile

    need = 3 * im.size[0] * im.size[1] + 65536
    if ImageFile.MAXBLOCK < need:
        ImageFile.MAXBLOCK = need


class StandardCodec(Codec):
    """A standard image codec whose bitstream any viewer can open.

    ``quality`` is the rate knob: JPEG quality (1-95), WebP/AVIF quality (0-100),
    or for JPEG2000 the compression ratio (higher means fewer bytes).

    Args:
        format: ``jpeg``, ``jpeg2000``, ``webp`` or ``avif`` (through Pillow).
        quality: the default rate.
        optimize: JPEG only: Huffman-optimised tables (the same standard stream, fewer bytes).
        subsampling: JPEG only, RGB: 2 = 4:2:0 chroma, 0 = 4:4:4.
        tables: JPEG only: quantisation tables, ``standard`` (the standard's, scaled by libjpeg's quality
            rule) or ``psnr`` (:data:`~vcnlit.codecs.rate_proxy.PSNR_TABLE`, the same scaling); either way
            the stream is baseline JPEG that any viewer opens.
        deadzone: JPEG only: None codes through libjpeg (Pillow), which rounds each DCT coefficient to the
            nearest step; a value in (0, 0.5] codes through vcnlit's own encoder
            (:mod:`~vcnlit.codecs.jpeg_encoder`) with this rounding offset at DC, ``floor(|c| / q + offset)``:
            a dead zone, fewer bits for little squared error. The stream is baseline JPEG either way (with the
            standard's Huffman tables: ``optimize`` does not apply; a ``.vcn`` file recompresses them anyway).
        deadzone_hf: the offset at the highest band, linear in ``u + v`` in between (None: ``deadzone``
            everywhere). Both are encoder settings: a decoder needs neither.
        threads: images of a batch coded in parallel.
    """

    mode = "scic"
    rate_key = "quality"

    def __init__(
        self,
        format: str = "jpeg",
        quality: float = 20,
        optimize: bool = True,
        subsampling: int = 2,
        tables: str = "standard",
        deadzone: float | None = None,
        deadzone_hf: float | None = None,
        threads: int = 1,
    ) -> None:
        fmt = format.lower()
        check_choice("codec.format", fmt, sorted(_FORMATS))
        check_choice("codec.tables", tables, sorted(JPEG_TABLES))
        if tables != "standard" and fmt != "jpeg":
            raise ConfigError(f"codec.tables={tables} is a JPEG setting; {fmt} has no quantisation tables")
        if fmt != "jpeg" and (deadzone is not None or deadzone_hf is not None):
            raise ConfigError(f"codec.deadzone is a setting of vcnlit's JPEG encoder; {fmt} has none")
        if deadzone is None and deadzone_hf is not None:
            raise ConfigError("codec.deadzone_hf needs codec.deadzone (the offset at DC)")
        pil_name = _FORMATS[fmt][0]
        feature = {"jpeg2000": "jpg_2000", "webp": "webp", "avif": "avif"}.get(fmt)
        if feature and not features.check(feature):
            raise ConfigError(f"this Pillow build cannot encode {fmt}; install a Pillow with {feature}")
        super().__init__(quality, threads)
        self.name = fmt
        self.format = pil_name
        self.optimize = bool(optimize)
        self.subsampling = int(subsampling)
        self.tables = tables
        #: Pillow's ``qtables`` (base tables in natural order; libjpeg scales them by the quality), or None
        self._qtables = None if tables == "standard" else [[v for row in t for v in row] for t in JPEG_TABLES[tables]]
        self.lo, self.hi = _FORMATS[fmt][1:]
        self.deadzone = None if deadzone is None else float(deadzone)
        self.deadzone_hf = None if deadzone_hf is None else float(deadzone_hf)
        #: the dead-zone quantiser's per-band offsets (checked here, before any coding), or None: libjpeg
        self._offsets = None if self.deadzone is None else rounding_offsets(self.deadzone, self.deadzone_hf)

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"format": self.name}
        if self.name == "jpeg":
            p.update(optimize=self.optimize, subsampling=self.subsampling, **self.header_params())
            p.update({k: getattr(self, k) for k in ENCODER_ONLY if getattr(self, k) is not None})
        return p

    def header_params(self, channels: int | None = None) -> dict[str, Any]:
        """A decoder of these formats reads every setting from the stream itself; the table set is kept
        only so that a compact JPEG payload can be rebuilt (and only when it is not the standard's)."""
        return {"tables": self.tables} if self.tables != "standard" else {}

    def rate_to_unit(self, rate: float) -> float:
        u = (float(rate) - self.lo) / (self.hi - self.lo)
        return 1.0 - u if self.name == "jpeg2000" else u

    def quantiser_steps(self, rate: float) -> Tensor:
        if self.name != "jpeg":
            return super().quantiser_steps(rate)
        return jpeg_quant_table(rate, tables=self.tables)

    def _save_kwargs(self, rate: float) -> dict[str, Any]:
        q = float(rate)
        if not self.lo <= q <= self.hi:
            raise ConfigError(f"{self.name} codec.quality must be in [{self.lo}, {self.hi}], got {rate}")
        if self.name == "jpeg":
            kw: dict[str, Any] = {"quality": round(q), "optimize": self.optimize, "subsampling": self.subsampling}
            if self._qtables is not None:
                kw["qtables"] = self._qtables
            return kw
        if self.name == "jpeg2000":
            return {"quality_mode": "rates", "quality_layers": [q], "irreversible": True}
        if self.name == "webp":
            return {"quality": round(q), "method": 4}
        return {"quality": round(q)}  # avif

    def encode(self, y: Tensor, rate: float | None = None) -> bytes:
        if self._offsets is not None:
            kw = self._save_kwargs(self.rate if rate is None else rate)
            return encode_jpeg(y, kw["quality"], self._offsets, self.tables, self.subsampling)
        buf = io.BytesIO()
        im = Image.fromarray(to_uint8(y))
        if self.name == "jpeg" and self.optimize:
            _room_for(im)
        im.save(buf, format=self.format, **self._save_kwargs(self.rate if rate is None else rate))
        return buf.getvalue()

    def decode(self, payload: bytes, shape: tuple[int, int, int], rate: float | None = None) -> Tensor:
        with Image.open(io.BytesIO(payload)) as im:
            im.load()
            want = "L" if shape[0] == 1 else "RGB"
            a = np.asarray(im.convert(want) if im.mode != want else im)
        out = from_uint8(a)
        if tuple(out.shape) != tuple(shape):
            raise ValueError(f"decoded {self.name} image has shape {tuple(out.shape)}, expected {tuple(shape)}")
        return out
