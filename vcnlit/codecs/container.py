"""The one bitstream container of every vcnlit mode (SCIC and DNNC).

Layout (integers big-endian)::

    magic      4   b"VCNL"
    version    1   FORMAT_VERSION
    hdr_len    2   length of the header fields below
    header         mode (u8 len + ascii), codec (u8 len + ascii), channels u8,
                   height u32, width u32, rate f64, params (u16 len + compact JSON),
                   fingerprint 8 bytes
    crc32      4   CRC32 of everything above (magic .. header)
    pay_len    4   payload length
    pay_crc    4   CRC32 of the payload (since version 2)
    payload        codec bytes

``unpack`` checks all of it (both CRCs, every length, the declared image size against
``MAX_SAMPLES``) before anything is decoded or allocated, and raises
:class:`BitstreamError` (one-line message) on any malformed input: a flipped bit anywhere
is reported, never decoded to a wrong image. Version 1 streams (no payload CRC) still decode.

Version 3 has the layout of version 2; its DNNC params may name the entropy model (``entropy``)
and the colour coding (``colour``), and hold only the settings that differ from DnncCodec's
defaults (``format`` is the codec field). Streams of versions 1 and 2 name neither: they are
per-band histograms over RGB, which is what a header without those keys still means. A vcnlit that reads only versions 1
and 2 refuses version 3 streams in one line instead of misreading them.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from vcnlit.codecs.byteio import ByteReader
from vcnlit.errors import BitstreamError

MAGIC = b"VCNL"
FORMAT_VERSION = 3
#: versions ``unpack`` reads (1: no payload CRC; 3: DNNC params may name the entropy model and colour coding)
READABLE_VERSIONS = (1, 2, 3)
#: largest channels * height * width a stream (or an input image) may have: about 89 megapixels
#: in RGB, Pillow's own decompression-bomb limit
MAX_SAMPLES = 1 << 28
MODES = ("scic", "dnnc")

_PRE = struct.Struct(">4sBH")  # magic, version, header length
_DIMS = struct.Struct(">BIId")  # channels, height, width, rate
_U32 = struct.Struct(">I")




@dataclass
class Header:
    """What a decoder needs besides the payload."""

    mode: str  # "scic" or "dnnc"
    codec: str  # e.g. "jpeg", "dct"
    channels: int  # 1 or 3
    height: int  # of the original image
    width: int
    rate: float  # the codec's quality or step
    params: dict[str, Any] = field(default_factory=dict)
    fingerprint: bytes = bytes(8)  # short hash of the model weights (model_fingerprint)


def check_size(shape: tuple[int, ...], err: type[ValueError] = ValueError) -> None:
    """Refuse a (C, H, W) size over ``MAX_SAMPLES`` before anything of that size is allocated."""
    c, h, w = (int(v) for v in shape[-3:])
    if c * h * w > MAX_SAMPLES:
        raise err(f"image of {c}x{h}x{w} exceeds {MAX_SAMPLES} samples (about 89 megapixels in RGB)")


def _check_header(h: Header, err: type[ValueError]) -> None:
    if h.mode not in MODES:
        raise err(f"unknown mode {h.mode!r}; expected one of {MODES}")
    if not h.codec or len(h.codec) > 255 or not h.codec.isascii() or not h.codec.isprintable():
        raise err(f"bad codec name {h.codec!r}")
    if h.channels not in (1, 3):
        raise err(f"channels must be 1 or 3, got {h.channels}")
    for name, v in (("height", h.height), ("width", h.width)):
        if not 0 < v < 1 << 32:
            raise err(f"{name} must be in [1, 2^32), got {v}")
    check_size((h.channels, h.height, h.width), err)
    if not math.isfinite(h.rate):
        raise err(f"rate must be finite, got {h.rate}")
    if not isinstance(h.params, dict):
        raise err("params must be a dict")
    if not isinstance(h.fingerprint, (bytes, bytearray)) or len(h.fingerprint) != 8:
        raise err("fingerprint must be 8 bytes")


def pack(header: Header, payload: bytes) -> bytes:
    """Serialise ``header`` and ``payload`` into one self-checking bitstream."""
    _check_header(header, ValueError)
    params = json.dumps(header.params, separators=(",", ":"), sort_keys=True, allow_nan=False)
    pj = params.encode("utf-8")
    mode, codec = header.mode.encode("ascii"), header.codec.encode("ascii")
    if len(pj) > 0xFFFF - 64:
        raise ValueError("codec params are too long for a header")
    body = b"".join(
        [
            bytes([len(mode)]) + mode,
            bytes([len(codec)]) + codec,
            _DIMS.pack(header.channels, header.height, header.width, float(header.rate)),
            struct.pack(">H", len(pj)) + pj,
            bytes(header.fingerprint),
        ]
    )
    if len(payload) >= 1 << 32:
        raise ValueError("payload is too long (>= 4 GiB)")
    head = _PRE.pack(MAGIC, FORMAT_VERSION, len(body)) + body
    payload = bytes(payload)
    return head + _U32.pack(zlib.crc32(head)) + _U32.pack(len(payload)) + _U32.pack(zlib.crc32(payload)) + payload


def _text(r: ByteReader) -> str:
    """A u8-length-prefixed ascii name."""
    raw = r.read(r.read(1)[0])
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise BitstreamError("header is corrupt (non-ascii name)") from None


def unpack(data: bytes) -> tuple[Header, bytes]:
    """Inverse of :func:`pack`: validate ``data`` and split it into (header, payload)."""
    data = bytes(data)
    if len(data) < _PRE.size:
        if data and MAGIC.startswith(data[:4]):
            raise BitstreamError("file is truncated")
        raise BitstreamError("not a vcnlit file")
    magic, version, hlen = _PRE.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError("not a vcnlit file")
    if version not in READABLE_VERSIONS:
        raise BitstreamError(f"unsupported version {version} (this vcnlit reads {READABLE_VERSIONS})")
    end = _PRE.size + hlen
    framing = 12 if version >= 2 else 8  # header CRC, payload length[, payload CRC]
    if len(data) < end + framing:
        raise BitstreamError("file is truncated")
    (crc,) = _U32.unpack_from(data, end)
    if zlib.crc32(data[:end]) != crc:
        raise BitstreamError("header is corrupt (CRC mismatch)")
    r = ByteReader(data[_PRE.size : end], "header", "header is corrupt (field overruns the header)")
    mode, codec = _text(r), _text(r)
    channels, height, width, rate = _DIMS.unpack(r.read(_DIMS.size))
    (plen,) = struct.unpack(">H", r.read(2))
    try:
        params = json.loads(r.read(plen).decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BitstreamError("header is corrupt (bad params)") from None
    fingerprint = r.read(8)
    if r.pos != len(r.data):
        raise BitstreamError("header is corrupt (unexpected header length)")
    header = Header(mode, codec, channels, height, width, rate, params, fingerprint)
    _check_header(header, BitstreamError)
    (n,) = _U32.unpack_from(data, end + 4)
    start = end + framing
    if len(data) < start + n:
        raise BitstreamError("file is truncated")
    if len(data) > start + n:
        raise BitstreamError(f"{len(data) - start - n} bytes of trailing garbage after the payload")
    payload = data[start:]
    if version >= 2 and zlib.crc32(payload) != _U32.unpack_from(data, end + 8)[0]:
        raise BitstreamError("payload is corrupt (CRC mismatch)")
    return header, payload


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def model_fingerprint(state_dict: Mapping[str, Any]) -> bytes:
    """8-byte deterministic hash of model weights (names, dtypes, shapes and raw bytes)."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        v = state_dict[name]
        h.update(name.encode("utf-8") + b"\0")
        if isinstance(v, torch.Tensor):
            t = v.detach().to("cpu").contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode() + b"\0")
            if t.numel():
                h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            h.update(repr(v).encode("utf-8"))
        h.update(b"\1")
    return h.digest()[:8]
