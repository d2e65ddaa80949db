"""Lossless recompression of baseline JPEG streams: their quantised DCT coefficients, context coded.

A JPEG stream is its coefficients plus how they are written down; the Huffman code of baseline
JPEG spends 13-22 % more bytes on the same coefficients than the context-adaptive arithmetic coder
of the DNNC codec (:mod:`vcnlit.codecs.entropy.context`) -- the idea of JPEG XL's and Lepton's JPEG
recompression. :func:`transcode` reads the coefficients of a stream written by libjpeg (through
jpeglib) and codes them; :func:`rebuild` writes them back as a baseline JPEG of the same quality,
size and sampling (quantisation tables rebuilt from the quality and table set, the standard's Huffman
tables, or with ``optimize`` the optimal ones for the coefficients: :mod:`vcnlit.codecs.jpeg_huffman`).
The rebuilt stream holds the same coefficients, so any JPEG decoder decodes it to the same pixels
as the original, which :func:`transcode` checks with Pillow before it returns.

Layout: layout code u8 (:data:`~vcnlit.codecs.jpeg_stream.LAYOUTS`), height and width (varints),
then the coded planes (luma, and Cb, Cr in colour) of :func:`~vcnlit.codecs.entropy.encode_planes`.
"""

from __future__ import annotations

import io
import os
import tempfile
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from PIL import Image

from vcnlit.codecs.byteio import BitWriter, ByteReader, bit_length
from vcnlit.codecs.entropy import decode_planes, encode_planes
from vcnlit.codecs.jpeg_huffman import codes, optimal_table
from vcnlit.codecs.jpeg_stream import (
    LAYOUTS,
    ZIGZAG,
    frame_headers,
    layout_of,
    read_frame,
    segment,
    write_frame,
)
from vcnlit.errors import BitstreamError

#: largest |coefficient| a baseline stream holds (DC values themselves, so that DC differences fit too)
MAX_AC, MAX_DC = 1023, 1023


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def plane_shapes(layout: int, height: int, width: int) -> list[tuple[int, int]]:
    """Block rows and columns of each component of a stream (libjpeg's ``height/width_in_blocks``)."""
    nf, luma = LAYOUTS[layout]
    if nf == 1:
        return [(_ceil(height, 8), _ceil(width, 8))]
    h, v = luma >> 4, luma & 15
    chroma = (_ceil(_ceil(height, v), 8), _ceil(_ceil(width, h), 8))
    return [(_ceil(height, 8), _ceil(width, 8)), chroma, chroma]


@lru_cache(maxsize=1)
def standard_tables() -> list[bytes]:
    """The DHT segment bodies of the standard's Huffman tables (ITU-T T.81 Annex K.3): DC0, AC0, DC1, AC1,
    as libjpeg writes them when it does not optimise its tables."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG", quality=50, optimize=False)
    data, i, out = buf.getvalue(), 2, []
    while data[i + 1] != 0xDA:
        n = int.from_bytes(data[i + 2 : i + 4], "big")
        if data[i + 1] == 0xC4:
            out.append(data[i + 4 : i + 2 + n])
        i += 2 + n
    return sorted(out, key=lambda t: (t[0] & 15, t[0] >> 4))


def _magnitude(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """JPEG's size category of each value and its appended bits (ones' complement for negatives)."""
    size = bit_length(np.abs(v))
    return size, np.where(v >= 0, v, v + (1 << size) - 1)


def _scan_order(planes: list[np.ndarray], layout: int) -> tuple[np.ndarray, np.ndarray]:
    """Blocks (N, 64, natural order) in the order of a baseline scan and each one's component (0 Y, 1 Cb, 2 Cr).

    Gray: one component, blocks in raster order. Colour: interleaved MCUs of ``h x v`` luma blocks, one Cb
    and one Cr, over whole MCUs; blocks past the image edge repeat the DC of their row's last block."""
    nf, luma = LAYOUTS[layout]
    if nf == 1:
        return planes[0].reshape(-1, 64).astype(np.int32, copy=False), np.zeros(planes[0].shape[0] * planes[0].shape[1], np.int64)
    h, v = luma >> 4, luma & 15
    my, mx = _ceil(planes[0].shape[0], v), _ceil(planes[0].shape[1], h)

    def pad(p: np.ndarray, rows: int, cols: int) -> np.ndarray:
        out = np.zeros((rows, cols, 64), np.int32)  # baseline values fit
        out[: p.shape[0], : p.shape[1]] = p
        out[: p.shape[0], p.shape[1] :, 0] = p[:, -1:, 0]
        out[p.shape[0] :, :, 0] = out[p.shape[0] - 1 : p.shape[0], :, 0]
        return out

    y = pad(planes[0], my * v, mx * h).reshape(my, v, mx, h, 64).transpose(0, 2, 1, 3, 4).reshape(my, mx, v * h, 64)
    cb, cr = (pad(p, my, mx)[:, :, None] for p in planes[1:])
    blocks = np.concatenate([y, cb, cr], axis=2)
    components = np.array([0] * (v * h) + [1, 2])
    return blocks.reshape(-1, 64), np.tile(components, my * mx)


class ScanSymbols(NamedTuple):
    """Every Huffman-coded symbol of a baseline scan, in stream order."""

    table: np.ndarray  # the table that codes it: 0 DC luma, 1 AC luma, 2 DC chroma, 3 AC chroma
    symbol: np.ndarray  # 0-255
    bits: np.ndarray  # the bits appended after its code (the value's magnitude bits; 0 for ZRL and EOB)
    nbits: np.ndarray  # how many


def scan_symbols(blocks: np.ndarray, components: np.ndarray) -> ScanSymbols:
    """The symbols of a baseline scan of ``blocks`` (N, 64, natural order), each of a component (0 luma,
    coded with tables DC0/AC0; 1 and 2 chroma, DC1/AC1)."""
    chroma = (components > 0).astype(np.int64) * 2
    zz = blocks[:, list(ZIGZAG)]
    n = len(zz)
    dc = zz[:, 0].copy()
    diff = dc.copy()
    for c in np.unique(components):  # DC predicted from the previous block of the same component
        idx = np.flatnonzero(components == c)
        diff[idx[1:]] = dc[idx[1:]] - dc[idx[:-1]]
    parts: list[tuple[np.ndarray, ...]] = []  # (key, table, symbol, bits, nbits); the key orders the stream

    def emit(key: np.ndarray, table: np.ndarray, symbol, bits=0, nbits=0) -> None:
        parts.append(tuple(np.broadcast_to(np.asarray(v, np.int64), key.shape) for v in (key, table, symbol, bits, nbits)))

    size, bits = _magnitude(diff)
    emit(np.arange(n) * 1024, chroma, size, bits, size)
    b, k = np.nonzero(zz[:, 1:])
    k = k + 1
    first = np.r_[True, b[1:] != b[:-1]] if len(b) else np.zeros(0, bool)
    prev = np.where(first, 0, np.r_[0, k[:-1]])
    run = k - prev - 1
    ac_table = chroma[b] + 1
    for j in range(3):  # a run of 16+ zeros: ZRL (0xF0) codes first
        zrl = run >= 16 * (j + 1)
        emit(b[zrl] * 1024 + k[zrl] * 8 + j, ac_table[zrl], 0xF0)
    size, bits = _magnitude(zz[b, k])
    emit(b * 1024 + k * 8 + 4, ac_table, (run % 16) * 16 + size, bits, size)
    last = np.zeros(n, np.int64)
    if len(b):
        last[b] = k  # the last write per block wins: k ascends within a block
    eob = np.flatnonzero(last < 63)
    emit(eob * 1024 + 1023, chroma[eob] + 1, 0)
    order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
    return ScanSymbols(*(np.concatenate([p[i] for p in parts])[order] for i in range(1, 5)))


def _entropy_coded(symbols: ScanSymbols, tables: list[bytes]) -> bytes:
    """The entropy-coded segment of a scan's symbols, coded with ``tables`` (DC0, AC0, DC1, AC1 DHT bodies)."""
    code = np.stack([codes(t)[0] for t in tables])[symbols.table, symbols.symbol]
    length = np.stack([codes(t)[1] for t in tables])[symbols.table, symbols.symbol]
    w = BitWriter()
    w.put(np.stack([code, symbols.bits], 1).ravel(), np.stack([length, symbols.nbits], 1).ravel())
    pad = -w.nbits() % 8
    if pad:
        w.put((1 << pad) - 1, pad)  # the last byte is padded with 1 bits
    return w.getvalue().replace(b"\xff", b"\xff\x00")


def rebuild(layout: int, height: int, width: int, quality: int, planes: list[np.ndarray], qtables: str = "standard",
            optimize: bool = False) -> bytes:
    """A baseline JPEG of coefficient planes ``(rows, cols, 64)``, natural order: with the standard's Huffman
    tables, or (``optimize``) the optimal ones for these coefficients (:func:`~vcnlit.codecs.jpeg_huffman.optimal_table`)."""
    nf = LAYOUTS[layout][0]
    for p in planes:
        if np.abs(p[..., 1:]).max(initial=0) > MAX_AC or np.abs(p[..., 0]).max(initial=0) > MAX_DC:
            raise BitstreamError("coefficient out of the range of a baseline JPEG")
    symbols = scan_symbols(*_scan_order(planes, layout))
    if optimize:
        counts = np.zeros((4, 256), np.int64)
        np.add.at(counts, (symbols.table, symbols.symbol), 1)
        tables = [optimal_table(tid, counts[i]) if counts[i].any() else b""
                  for i, tid in enumerate((0x00, 0x10, 0x01, 0x11))]
    else:
        tables = standard_tables()
    used = tables[:2] if nf == 1 else tables
    head, sos = frame_headers(layout, height, width, quality, qtables)
    dht = b"".join(segment(0xC4, t) for t in used)
    return head + dht + sos + _entropy_coded(symbols, tables) + b"\xff\xd9"


def _read_coefficients(stream: bytes) -> list[np.ndarray]:
    import jpeglib

    fd, path = tempfile.mkstemp(suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(stream)
        d = jpeglib.read_dct(path)
        planes = [d.Y] + ([d.Cb, d.Cr] if d.Cb is not None else [])
        return [np.ascontiguousarray(p).reshape(p.shape[0], p.shape[1], 64).astype(np.int32) for p in planes]
    finally:
        os.unlink(path)


def _pixels(stream: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(stream)) as im:
        return np.asarray(im)


def coefficients(stream: bytes) -> tuple[int, int, int, list[np.ndarray]] | None:
    """(layout, height, width, coefficient planes ``(rows, cols, 64)`` in natural order) of a baseline JPEG
    of a layout :data:`~vcnlit.codecs.jpeg_stream.LAYOUTS` knows, else None."""
    found = layout_of(stream)
    if found is None:
        return None
    layout, height, width = found
    try:
        planes = _read_coefficients(stream)
    except Exception:
        return None
    shapes = plane_shapes(layout, height, width)
    if len(planes) != len(shapes) or any(p.shape[0] < r or p.shape[1] < c for p, (r, c) in zip(planes, shapes)):
        return None
    return layout, height, width, [p[:r, :c] for p, (r, c) in zip(planes, shapes)]


def transcode(stream: bytes, quality: int, qtables: str = "standard") -> bytes | None:
    """The recompressed form of a baseline JPEG written by libjpeg at ``quality`` with the quantisation table
    set ``qtables``; None when the stream has another layout or its rebuilt form would not decode to the same
    pixels."""
    found = coefficients(stream)
    if found is None:
        return None
    layout, height, width, planes = found
    try:
        same = np.array_equal(_pixels(rebuild(layout, height, width, quality, planes, qtables)), _pixels(stream))
    except (BitstreamError, OSError, ValueError):
        return None
    if not same:
        return None
    return bytes(write_frame(layout, height, width)) + encode_planes(planes, [0] + [1] * (len(planes) - 1))


def untranscode(data: bytes, quality: int, max_size: tuple[int, int] = (1 << 16, 1 << 16), qtables: str = "standard") -> bytes:
    """The baseline JPEG of a recompressed stream coded at ``quality`` with the table set ``qtables``
    (BitstreamError if malformed; a size over ``max_size`` (height, width) is refused before anything is
    allocated)."""
    r = ByteReader(data, "recompressed JPEG stream")
    layout, height, width = read_frame(r, quality, max_size)
    shapes = plane_shapes(layout, height, width)
    planes = decode_planes(data[r.pos :], [(rows, cols, 64) for rows, cols in shapes], [0] + [1] * (len(shapes) - 1))
    return rebuild(layout, height, width, quality, planes, qtables)
