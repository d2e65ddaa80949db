"""The arithmetic coder: symbols and their model's integer CDFs through torchac, and back.

Format: see :mod:`vcnlit.codecs.entropy`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from vcnlit.codecs.byteio import ByteReader, InflateReader, put_varint
from vcnlit.codecs.entropy.backend import load_torchac as _load_torchac
from vcnlit.codecs.entropy.model import (
    BUDGET,
    INT32,
    KMAX,
    MASS,
    MAX_SYMBOLS,
    PRECISION,
    Model,
    choose_model,
    histograms,
    read_model,
    vband_values,
)
from vcnlit.errors import BitstreamError


def load_torchac():
    """The torchac module over the coder built at install (:mod:`vcnlit.codecs.entropy.backend`)."""
    torchac = _load_torchac()
    from torchac import torchac as impl

    if impl.PRECISION != PRECISION:
        raise RuntimeError(f"torchac precision {impl.PRECISION} != {PRECISION}")
    return torchac


def _cdf_rows(freqs: np.ndarray, lp: int) -> np.ndarray:
    row = np.full(lp, MASS, dtype=np.int64)
    row[0] = 0
    row[1 : len(freqs) + 1] = np.cumsum(freqs)
    return row


def _streams(vbands: list[tuple[int, int, int, int]], n: int) -> list[list[tuple[int, int, int]]]:
    """Greedy packing of virtual bands (sorted by alphabet) into torchac calls.

    Returns, per stream, pieces ``(vband index, start, stop)`` over that band's n values.
    """
    order = sorted(range(len(vbands)), key=lambda i: (vbands[i][3], i))
    streams: list[list[tuple[int, int, int]]] = []
    cur: list[tuple[int, int, int]] = []
    used = 0
    for i in order:
        lp = vbands[i][3] + 2
        start = 0
        while start < n:
            room = BUDGET // lp - used
            if room <= 0:
                streams.append(cur)
                cur, used = [], 0
                continue
            stop = min(n, start + room)
            cur.append((i, start, stop))
            used += stop - start
            start = stop
    if cur:
        streams.append(cur)
    return streams


def _stream_cdf(model: Model, pieces: list[tuple[int, int, int]]) -> tuple[Tensor, np.ndarray]:
    """int16 CDF tensor (n, Lp) of one stream and the alphabet size of each of its symbols."""
    lp = max(model.vbands[i][3] for i, _, _ in pieces) + 2
    table = np.stack([_cdf_rows(model.freqs[i], lp) for i, _, _ in pieces])
    lengths = np.asarray([b - a for _, a, b in pieces])
    cdf = np.repeat(table.astype(np.uint16).view(np.int16), lengths, axis=0)
    ks = np.repeat(np.asarray([model.vbands[i][3] for i, _, _ in pieces]), lengths)
    return torch.from_numpy(cdf), ks


def _as_numpy(symbols: Tensor) -> np.ndarray:
    if not isinstance(symbols, Tensor) or symbols.dim() != 3:
        raise ValueError("symbols must be a (C, n_blocks, n_bands) integer tensor")
    if symbols.dtype.is_floating_point or symbols.dtype.is_complex or symbols.dtype == torch.bool:
        raise ValueError(f"symbols must be integers, got {symbols.dtype}")
    if symbols.numel() > MAX_SYMBOLS:
        raise ValueError(f"too many symbols ({symbols.numel()} > {MAX_SYMBOLS})")
    sym = symbols.detach().cpu().to(torch.int64).numpy()
    if sym.size and (sym.min() < INT32[0] or sym.max() > INT32[1]):
        raise ValueError("symbols must fit in int32 to be entropy coded")
    return sym


def encode_symbols(symbols: Tensor) -> bytes:
    """Losslessly code ``(C, n_blocks, n_bands)`` integers; self-contained (see module doc)."""
    sym = _as_numpy(symbols)
    model, blob, _ = choose_model(sym)
    values = vband_values(sym, model.mins, model.sizes, model.vbands)
    tac = load_torchac()
    streams = []
    for pieces in _streams(model.vbands, sym.shape[1]):
        cdf, _ = _stream_cdf(model, pieces)
        s = np.concatenate([values[i][a:b] for i, a, b in pieces]).astype(np.int16)
        streams.append(tac.encode_int16_normalized_cdf(cdf, torch.from_numpy(s)))
    out = bytearray()
    put_varint(out, len(blob))
    out += blob
    for s in streams:
        put_varint(out, len(s))
    return bytes(out) + b"".join(streams)


def ideal_bits(symbols: Tensor) -> float:
    """Code length (bits) of the symbols under the encoder's own integer CDFs, no side info."""
    return choose_model(_as_numpy(symbols))[2]


def entropy_bits(symbols: Tensor) -> float:
    """Empirical entropy (bits) of the per-column histograms: the best any static model does."""
    bits = 0.0
    for h in histograms(_as_numpy(symbols))[4]:
        p = h[h > 0] / h.sum()
        bits -= float(np.sum(h[h > 0] * np.log2(p)))
    return bits


class Sizes(NamedTuple):
    side: int  # framing + side-info bytes
    payload: int  # arithmetic-coded bytes


def split_sizes(data: bytes, shape: tuple[int, int, int]) -> Sizes:
    """Bytes of side info vs arithmetic-coded payload in an ``encode_symbols`` output."""
    total = len(data)
    payload = sum(len(s) for s in _parse(bytes(data), shape)[1])
    return Sizes(total - payload, payload)


def _check_shape(shape) -> tuple[int, int, int]:
    try:
        c, n, nb = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (C, n_blocks, n_bands), got {shape!r}") from None
    if c < 1 or n < 0 or nb < 1 or c * n * nb > MAX_SYMBOLS:
        raise ValueError(f"bad symbol shape {(c, n, nb)}")
    return c, n, nb


def _parse(data: bytes, shape) -> tuple[Model, list[bytes]]:
    c, n, nb = _check_shape(shape)
    rd = ByteReader(data, "entropy-coded data")
    blob = rd.read(rd.varint())
    model = read_model(InflateReader(blob), (c, n, nb))
    lengths = [rd.varint() for _ in _streams(model.vbands, n)]
    streams = [rd.read(m) for m in lengths]
    if rd.pos != len(data):
        raise BitstreamError(
            f"{len(data) - rd.pos} bytes of trailing garbage in entropy-coded data"
        )
    return model, streams


def decode_symbols(data: bytes, shape: tuple[int, int, int]) -> Tensor:
    """Inverse of :func:`encode_symbols`; raises BitstreamError on malformed data."""
    data = bytes(data)
    c, n, nb = _check_shape(shape)
    model, streams = _parse(data, (c, n, nb))
    values = [np.empty(n, dtype=np.int64) for _ in model.vbands]
    tac = load_torchac() if streams else None
    for pieces, stream in zip(_streams(model.vbands, n), streams):
        cdf, ks = _stream_cdf(model, pieces)
        s = tac.decode_int16_normalized_cdf(cdf, stream).numpy().astype(np.int64)
        if np.any(s >= ks):
            raise BitstreamError("arithmetic-coded stream is corrupt")
        pos = 0
        for i, a, b in pieces:
            values[i][a:b] = s[pos : pos + b - a]
            pos += b - a
    out = np.repeat(model.mins[:, None, :], n, axis=1)
    acc: dict[tuple[int, int], np.ndarray] = {}
    for (ci, bi, _, _), v in zip(model.vbands, values):
        acc[ci, bi] = acc[ci, bi] * KMAX + v if (ci, bi) in acc else v
    for (ci, bi), u in acc.items():
        if u.max() >= model.sizes[ci, bi]:
            raise BitstreamError("arithmetic-coded stream is corrupt (symbol out of range)")
        out[ci, :, bi] += u
    return torch.from_numpy(np.ascontiguousarray(out))
