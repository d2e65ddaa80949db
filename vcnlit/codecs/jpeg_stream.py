"""Baseline JPEG streams without the bytes a decoder can rebuild from the quality.

A baseline JPEG as libjpeg (Pillow) writes it carries, besides its Huffman tables and entropy-coded
data, 115 (gray) to 190 (colour) bytes that follow from its quality, size and chroma subsampling:
SOI/EOI, the JFIF APP0 segment, the quantisation tables (libjpeg's scaling of a table set of
:data:`~vcnlit.codecs.rate_proxy.JPEG_TABLES`, :func:`~vcnlit.codecs.rate_proxy.jpeg_quant_table`), the
frame and scan headers. At the rates of the low-resolution models that is up to a tenth of a file. :func:`compact` drops them and :func:`expand`
puts the same bytes back: ``expand(compact(s, q), q) == s`` byte for byte, which :func:`compact` checks
(a stream of any other layout gives None and is stored whole).

Compact layout: layout code u8 (:data:`LAYOUTS`), height and width (varints), the number of Huffman
tables u8, each table as in a DHT segment (class/id u8, 16 code-length counts, the symbols), then the
entropy-coded data.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from vcnlit.codecs.byteio import ByteReader, put_varint
from vcnlit.codecs.rate_proxy import jpeg_quant_table
from vcnlit.errors import BitstreamError

#: layout code -> (number of components, sampling factors h << 4 | v of the first); the chroma components of
#: a colour stream are sampled 1x1 (libjpeg writes a gray stream with the factors it was asked for)
LAYOUTS: dict[int, tuple[int, int]] = {1: (1, 0x11), 2: (1, 0x21), 3: (1, 0x22), 4: (3, 0x11), 5: (3, 0x21), 6: (3, 0x22)}
_JFIF = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
#: natural (row-major) index of each coefficient in zig-zag order
ZIGZAG = (0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,
           7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31,
           39, 46, 53, 60, 61, 54, 47, 55, 62, 63)


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


@lru_cache(maxsize=512)
def frame_headers(layout: int, height: int, width: int, quality: int, qtables: str = "standard") -> tuple[bytes, bytes]:
    """(SOI .. SOF0, SOS) of a baseline stream: what a compact stream leaves out around its tables
    (``qtables``: the quantisation table set, :data:`~vcnlit.codecs.rate_proxy.JPEG_TABLES`)."""
    nf, luma = LAYOUTS[layout]
    gray = nf == 1
    dqt = b"".join(
        segment(0xDB, bytes([t]) + bytes(int(v) for v in jpeg_quant_table(quality, t == 1, qtables)[list(ZIGZAG)]))
        for t in ((0,) if gray else (0, 1))
    )
    comps = [(1, luma, 0)] + ([] if gray else [(2, 0x11, 1), (3, 0x11, 1)])
    sof = segment(0xC0, struct.pack(">BHHB", 8, height, width, len(comps)) + b"".join(bytes(c) for c in comps))
    tables = [(1, 0x00)] + ([] if gray else [(2, 0x11), (3, 0x11)])
    sos = segment(0xDA, bytes([len(tables)]) + b"".join(bytes(t) for t in tables) + b"\x00\x3f\x00")
    return b"\xff\xd8" + _JFIF + dqt + sof, sos


def _dht_tables(body: bytes) -> list[bytes]:
    """The tables of one DHT segment body (class/id, counts, symbols each)."""
    r, out = ByteReader(body, "Huffman table"), []
    while r.pos < len(body):
        start = r.pos
        r.read(1)
        r.read(sum(r.read(16)))
        out.append(body[start : r.pos])
    return out


def _parse(stream: bytes) -> tuple[int, int, int, list[bytes], int] | None:
    """(layout, height, width, Huffman tables, start of the entropy-coded data) of a baseline stream."""
    if stream[:2] != b"\xff\xd8" or stream[-2:] != b"\xff\xd9":
        return None
    i, tables, frame = 2, [], None
    try:
        while i + 4 <= len(stream) and stream[i] == 0xFF:
            marker, n = stream[i + 1], struct.unpack_from(">H", stream, i + 2)[0]
            body = stream[i + 4 : i + 2 + n]
            i += 2 + n
            if marker == 0xC4:
                tables += _dht_tables(body)
            elif marker == 0xC0 and len(body) >= 6:
                frame = body
            elif marker == 0xDA:
                break
        else:
            return None
    except (BitstreamError, struct.error):
        return None
    if frame is None or not tables or len(tables) > 255 or len(frame) < 8:
        return None
    height, width, nf = struct.unpack_from(">HHB", frame, 1)
    layout = next((k for k, v in LAYOUTS.items() if v == (nf, frame[7])), None)
    if layout is None or not height or not width:
        return None
    return layout, height, width, tables, i


def layout_of(stream: bytes) -> tuple[int, int, int] | None:
    """(layout code, height, width) of a baseline JPEG of a layout :data:`LAYOUTS` knows, else None."""
    parsed = _parse(stream)
    return None if parsed is None else parsed[:3]


def compact(stream: bytes, quality: int, qtables: str = "standard") -> bytes | None:
    """The compact form of a baseline JPEG coded at ``quality`` with the quantisation table set ``qtables``,
    or None when it has another layout."""
    parsed = _parse(stream)
    if parsed is None:
        return None
    layout, height, width, huffman, start = parsed
    out = write_frame(layout, height, width)
    out.append(len(huffman))
    out += b"".join(huffman) + stream[start:-2]
    packed = bytes(out)
    return packed if expand(packed, quality, qtables=qtables) == stream else None


def write_frame(layout: int, height: int, width: int) -> bytearray:
    """The start of a compact or recompressed stream: layout code, height and width."""
    out = bytearray([layout])
    put_varint(out, height)
    put_varint(out, width)
    return out


def read_frame(r: ByteReader, quality: int, max_size: tuple[int, int]) -> tuple[int, int, int]:
    """(layout, height, width) read by :func:`write_frame`'s inverse; BitstreamError for a bad quality,
    an unknown layout, or a size over ``max_size`` (height, width), before anything is allocated."""
    if not 1 <= quality <= 100:
        raise BitstreamError(f"JPEG quality {quality} is out of range")
    layout = r.read(1)[0]
    if layout not in LAYOUTS:
        raise BitstreamError(f"{r.what} has an unknown layout {layout}")
    height, width = r.varint(), r.varint()
    if not (0 < height < min(1 << 16, max_size[0] + 1) and 0 < width < min(1 << 16, max_size[1] + 1)):
        raise BitstreamError(f"{r.what} has a bad size {width}x{height}")
    return layout, height, width


def expand(data: bytes, quality: int, max_size: tuple[int, int] = (1 << 16, 1 << 16), qtables: str = "standard") -> bytes:
    """The baseline JPEG stream of a compact one coded at ``quality`` with the quantisation table set
    ``qtables`` (BitstreamError if malformed; a size over ``max_size`` (height, width) is refused before anything is
    allocated)."""
    r = ByteReader(data, "compact JPEG stream")
    layout, height, width = read_frame(r, quality, max_size)
    dht = []
    for _ in range(r.read(1)[0]):
        start = r.pos
        r.read(1)
        counts = r.read(16)
        if sum(counts) > 256:
            raise BitstreamError("compact JPEG stream has a bad Huffman table")
        r.read(sum(counts))
        dht.append(segment(0xC4, data[start : r.pos]))
    head, sos = frame_headers(layout, height, width, quality, qtables)
    return head + b"".join(dht) + sos + data[r.pos :] + b"\xff\xd9"
