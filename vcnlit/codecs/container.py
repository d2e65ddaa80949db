"""The one bitstream container of every vcnlit mode (SCIC and DNNC).

Layout of versions 4 to 6, the ones written (varints are LEB128, other integers big-endian)::

    magic      4   b"VCNL"
    version    1   4, 5 for a JPEG stream whose table set version 5 added, 6 for a stream with an output
                   size (:func:`stream_version`)
    hdr_len    varint, length of the header fields below
    header         mode u8 (0 scic, 1 dnnc), codec (u8 len + ascii), channels u8, height varint,
                   width varint, rate (u8 0 + varint for a whole number, u8 1 + f64 otherwise),
                   params (varint len + compact JSON; 0 for none), payload coding u8, fingerprint 8 bytes,
                   and in version 6 the output height and width (varints): the decoder resizes the
                   image it restores at height x width (the coded image's size) to them
    pay_len    varint
    payload        codec bytes (payload coding 0); for a JPEG stream, the stream without the segments its
                   quality, size and sampling rebuild (1, :mod:`vcnlit.codecs.jpeg_stream`) or its
                   coefficients context coded (2, :mod:`vcnlit.codecs.jpeg_transcode`), whichever is smaller
    crc32      4   CRC32 of everything above

``unpack`` checks all of it (lengths, the CRC, the declared image size against ``MAX_SAMPLES``)
before anything is decoded or allocated, and raises :class:`BitstreamError` (one-line message) on any
malformed input: a flipped bit anywhere is reported, never decoded to a wrong image. It returns the
codec's own payload: for coding 1 byte for byte what the codec wrote, for coding 2 a baseline JPEG
with the same coefficients, which decodes to the same pixels (:func:`pack` checks that).

Versions 1-3 (still read) framed a fixed-width header (u32 sizes, f64 rate, JSON params) and the
payload, each with a CRC (version 1: the header's only). Version 3's DNNC params may name the entropy
model (``entropy``) and the colour coding (``colour``) and hold only the settings that differ from
DnncCodec's defaults; streams of versions 1 and 2 name neither: they are per-band histograms over RGB,
which is what params without those keys still mean. The first version 3 streams (written at
ceaf2cf) coded the context model's revision 1 (:data:`~vcnlit.codecs.entropy.context.REVISIONS`) and
always named ``block_size``; from the next commit on, headers leave out a ``block_size`` of 8, so a
version 3 context-model header that names ``block_size: 8`` is read as ``context_revision: 1``. (One of
another block size cannot be told apart: such streams of ceaf2cf do not decode.)
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

from vcnlit.codecs.byteio import ByteReader, put_varint
from vcnlit.codecs.jpeg_stream import compact as compact_jpeg
from vcnlit.codecs.jpeg_stream import expand as expand_jpeg
from vcnlit.codecs.jpeg_transcode import transcode as transcode_jpeg
from vcnlit.codecs.jpeg_transcode import untranscode as untranscode_jpeg
from vcnlit.codecs.rate_proxy import JPEG_TABLES, TABLES_SINCE
from vcnlit.errors import BitstreamError

MAGIC = b"VCNL"
#: the newest version written (a stream is written as the oldest version that holds it: :func:`stream_version`)
FORMAT_VERSION = 6
#: versions ``unpack`` reads (1: no payload CRC; 3: DNNC params may name the entropy model and colour coding;
#: 4: compact header, compact JPEG payloads; 5: version 4's layout, a JPEG table set of
#: :data:`~vcnlit.codecs.rate_proxy.TABLES_SINCE` (psnr_rgb); 6: version 5's + an output size)
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6)
#: the version that added :attr:`Header.out_size`
OUT_SIZE_SINCE = 6
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
    height: int  # of the coded image (the original image, unless out_size is set)
    width: int
    rate: float  # the codec's quality or step
    params: dict[str, Any] = field(default_factory=dict)
    fingerprint: bytes = bytes(8)  # short hash of the model weights (model_fingerprint)
    #: (height, width) of the original image when the coded image was resized from it: the decoder resizes
    #: what it restores back to this size (version 6); None: the coded size
    out_size: tuple[int, int] | None = None

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the decoded image."""
        return self.out_size or (self.height, self.width)


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
    out = h.out_size or (h.height, h.width)
    if len(out) != 2:
        raise err(f"out_size must be (height, width), got {out}")
    for name, v in (("height", h.height), ("width", h.width), ("output height", out[0]), ("output width", out[1])):
        if not 0 < v < 1 << 32:
            raise err(f"{name} must be in [1, 2^32), got {v}")
    check_size((h.channels, h.height, h.width), err)
    check_size((h.channels, *out), err)
    if not math.isfinite(h.rate):
        raise err(f"rate must be finite, got {h.rate}")
    if not isinstance(h.params, dict):
        raise err("params must be a dict")
    if not isinstance(h.fingerprint, (bytes, bytearray)) or len(h.fingerprint) != 8:
        raise err("fingerprint must be 8 bytes")


def _params_json(params: dict[str, Any]) -> bytes:
    pj = json.dumps(params, separators=(",", ":"), sort_keys=True, allow_nan=False).encode("utf-8") if params else b""
    if len(pj) > 0xFFFF - 64:
        raise ValueError("codec params are too long for a header")
    return pj


def jpeg_tables(header: Header) -> tuple[int, str] | None:
    """(quality, table set) of a SCIC/JPEG header (the codec rounds its rate the same way), else None
    (also for a table set this version does not know: such a payload is stored whole)."""
    tables = header.params.get("tables", "standard")
    if header.mode != "scic" or header.codec != "jpeg" or not 1 <= header.rate <= 100:
        return None
    if not isinstance(tables, str) or tables not in JPEG_TABLES:
        return None
    return round(header.rate), tables


def stream_version(header: Header) -> int:
    """The version a stream of ``header`` is written as: 4, or the version that added its JPEG table set or
    its output size, so that a vcnlit too old to read them says "unsupported version" instead of misreading."""
    tables = header.params.get("tables") if header.mode == "scic" and header.codec == "jpeg" else None
    version = max(4, TABLES_SINCE.get(tables, 4)) if isinstance(tables, str) else 4
    return max(version, OUT_SIZE_SINCE) if header.out_size is not None else version


def pack(header: Header, payload: bytes) -> bytes:
    """Serialise ``header`` and ``payload`` into one self-checking bitstream (version 4, 5 or 6:
    :func:`stream_version`)."""
    _check_header(header, ValueError)
    pj = _params_json(header.params)
    payload = bytes(payload)
    jpeg = jpeg_tables(header)
    coding = 0
    if jpeg is not None:
        quality, tables = jpeg
        for code, form in ((1, compact_jpeg(payload, quality, tables)), (2, transcode_jpeg(payload, quality, tables))):
            if form is not None and len(form) < len(payload):
                coding, payload = code, form
    body = bytearray([MODES.index(header.mode), len(header.codec)]) + header.codec.encode("ascii")
    body.append(header.channels)
    put_varint(body, header.height)
    put_varint(body, header.width)
    rate = float(header.rate)
    if rate.is_integer() and 0 <= rate < 1 << 53:
        body.append(0)
        put_varint(body, int(rate))
    else:
        body += b"\1" + struct.pack(">d", rate)
    put_varint(body, len(pj))
    body += pj + bytes([coding]) + bytes(header.fingerprint)
    for v in header.out_size or ():
        put_varint(body, v)
    out = bytearray(MAGIC) + bytes([stream_version(header)])
    put_varint(out, len(body))
    out += body
    put_varint(out, len(payload))
    out += payload
    return bytes(out) + _U32.pack(zlib.crc32(out))


def _text(r: ByteReader) -> str:
    """A u8-length-prefixed ascii name."""
    raw = r.read(r.read(1)[0])
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise BitstreamError("header is corrupt (non-ascii name)") from None


def _params(raw: bytes) -> dict[str, Any]:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BitstreamError("header is corrupt (bad params)") from None


def unpack(data: bytes) -> tuple[Header, bytes]:
    """Inverse of :func:`pack`: validate ``data`` and split it into (header, the codec's payload)."""
    data = bytes(data)
    if len(data) < 5:
        if data and MAGIC.startswith(data[:4]):
            raise BitstreamError("file is truncated")
        raise BitstreamError("not a vcnlit file")
    if data[:4] != MAGIC:
        raise BitstreamError("not a vcnlit file")
    version = data[4]
    if version not in READABLE_VERSIONS:
        raise BitstreamError(f"unsupported version {version} (this vcnlit reads {READABLE_VERSIONS})")
    return _unpack_v4(data) if version >= 4 else _unpack_v3(data, version)


def _unpack_v4(data: bytes) -> tuple[Header, bytes]:
    r = ByteReader(data, "file")
    r.read(5)
    hlen = r.varint()
    if hlen > len(data):
        raise BitstreamError("file is truncated")
    body = r.read(hlen)
    n = r.varint()
    end = r.pos + n + 4
    if len(data) < end:
        raise BitstreamError("file is truncated")
    if len(data) > end:
        raise BitstreamError(f"{len(data) - end} bytes of trailing garbage after the payload")
    if zlib.crc32(data[: end - 4]) != _U32.unpack_from(data, end - 4)[0]:
        raise BitstreamError("file is corrupt (CRC mismatch)")
    payload = data[r.pos : end - 4]
    h = ByteReader(body, "header", "header is corrupt (field overruns the header)")
    mode = h.read(1)[0]
    if mode >= len(MODES):
        raise BitstreamError(f"header is corrupt (unknown mode {mode})")
    codec = _text(h)
    channels, height, width = h.read(1)[0], h.varint(), h.varint()
    kind = h.read(1)[0]
    if kind not in (0, 1):
        raise BitstreamError("header is corrupt (bad rate)")
    rate = float(h.varint()) if kind == 0 else struct.unpack(">d", h.read(8))[0]
    raw = h.read(h.varint())
    params = _params(raw) if raw else {}
    coding = h.read(1)[0]
    fingerprint = h.read(8)
    out_size = (h.varint(), h.varint()) if data[4] >= OUT_SIZE_SINCE else None
    if h.pos != len(body):
        raise BitstreamError("header is corrupt (unexpected header length)")
    header = Header(MODES[mode], codec, channels, height, width, rate, params, fingerprint, out_size)
    _check_header(header, BitstreamError)
    if stream_version(header) != data[4]:
        raise BitstreamError(f"header is corrupt (a version {data[4]} stream of version {stream_version(header)}'s settings)")
    if coding in (1, 2):
        jpeg = jpeg_tables(header)
        if jpeg is None:
            raise BitstreamError("header is corrupt (a compact JPEG payload in a non-JPEG stream or one of unknown tables)")
        bound = (header.height + 256, header.width + 256)  # a coded signal is at most the padded image
        payload = (expand_jpeg if coding == 1 else untranscode_jpeg)(payload, jpeg[0], bound, jpeg[1])
    elif coding != 0:
        raise BitstreamError(f"header is corrupt (unknown payload coding {coding})")
    return header, payload


def _unpack_v3(data: bytes, version: int) -> tuple[Header, bytes]:
    """Versions 1-3: fixed-width header with its own CRC, payload length and (since 2) payload CRC."""
    if len(data) < _PRE.size:
        raise BitstreamError("file is truncated")
    _, _, hlen = _PRE.unpack_from(data)
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
    params = _params(r.read(plen))
    fingerprint = r.read(8)
    if r.pos != len(r.data):
        raise BitstreamError("header is corrupt (unexpected header length)")
    if version == 3 and mode == "dnnc" and params.get("entropy") == "context" and params.get("block_size") == 8:
        params["context_revision"] = 1  # written at ceaf2cf (module doc)
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
