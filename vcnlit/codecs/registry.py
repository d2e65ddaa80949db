"""Rebuild a codec from plain values (model files and bitstream headers), from a whitelist only."""

from __future__ import annotations

from typing import Any

from vcnlit.codecs.base import Codec
from vcnlit.codecs.standard import StandardCodec

#: DnncCodec settings a spec or header may hold besides its step
DNNC_KEYS = ("block_size", "qmatrix", "entropy", "colour", "deadzone", "deadzone_hf", "qmatrix_power",
             "context_revision")


def codec_spec(codec: Codec) -> dict[str, Any]:
    """Plain values that rebuild ``codec``: its parameters plus its rate."""
    return {**codec.params(), codec.rate_key: float(codec.rate)}


def build_codec(spec: dict[str, Any], rate: float | None = None) -> Codec:
    """Inverse of :func:`codec_spec`; ``rate`` overrides the stored one."""
    spec = dict(spec)
    fmt = str(spec.pop("format", ""))
    if fmt == "dct":
        from vcnlit.codecs.dnnc import DnncCodec

        step = rate if rate is not None else spec.pop("step", 8.0)
        spec.pop("step", None)
        return DnncCodec(step=float(step), **_only(spec, DNNC_KEYS))
    if fmt == "jpegxl":
        from vcnlit.codecs.jpegxl import JpegXlCodec

        distance = rate if rate is not None else spec.pop("distance", 1.0)
        return JpegXlCodec(distance=float(distance), **_only(spec, ("effort",)))
    quality = rate if rate is not None else spec.pop("quality", 20)
    spec.pop("quality", None)
    return StandardCodec(format=fmt, quality=float(quality), **_only(spec, ("optimize", "subsampling", "tables", "deadzone", "deadzone_hf")))


def _only(spec: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: spec[k] for k in keys if k in spec}
