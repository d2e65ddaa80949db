"""Codecs with no gradient: standard (SCIC) and block-DCT + arithmetic coding (DNNC)."""

from vcnlit.codecs.base import Codec, CodecResult
from vcnlit.codecs.container import BitstreamError, Header, model_fingerprint, pack, unpack
from vcnlit.codecs.dnnc import DnncCodec
from vcnlit.codecs.standard import StandardCodec

__all__ = [
    "BitstreamError",
    "Codec",
    "CodecResult",
    "DnncCodec",
    "Header",
    "StandardCodec",
    "model_fingerprint",
    "pack",
    "unpack",
]
