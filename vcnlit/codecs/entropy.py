"""Lossless arithmetic coding of integer symbols with torchac and per-band histogram models.

Symbols come as ``(C, n_blocks, n_bands)`` integers (int32 range). Every (channel, band)
column gets its own static model: a histogram of its values over the alphabet ``[min, max]``
of that column, quantised and sent as side info, so the decoder rebuilds the very same
integer CDFs (integer arithmetic only). Columns whose alphabet is wider than ``KMAX`` are
split into base-``KMAX`` digits, each digit a column of its own ("virtual band"), so alphabets
stay bounded. Constant columns (e.g. all zero) send no symbols at all.

Histogram bins: symbols within ``TAILS[t]`` of the band centre (symbol 0, clipped into the
alphabet) get a bin each; beyond, bins on each side have widths 1, 1, 2, 2, 4, 4, ... and the
model is uniform inside a bin. The encoder picks ``t`` per band (rare tail symbols cost less
side info in wide bins). Each bin count is sent as a one-byte code (preset ``(E, R)``):
``q < E`` is the exact count, ``q >= E`` stands for ``E * 2**((q - E) / R)`` (fixed-point,
exact in integers). The encoder picks the preset and binnings that minimise side info +
ideal payload.

Integer CDFs (torchac, 16-bit precision): a virtual band with alphabet ``K`` has frequencies
``f_i >= 1`` summing to ``MASS = 2**16 - 1``; its CDF row is ``[0, f_0, f_0 + f_1, ...,
MASS]`` padded with ``MASS`` to the stream's width ``Lp >= K + 2``, stored as uint16 bit
patterns in int16 (so the last entry is the maximum, 65535, i.e. int16 -1). torchac fixes the
top of its last symbol ``Lp - 2`` at ``2**16``, so that padding symbol keeps probability
``2**-16`` and is never sent: a decoder that meets it (or any symbol ``>= K``) reports a
corrupt stream. ``p(s) = f_s / 2**16``.

Byte format (varints are unsigned LEB128)::

    varint  n      length of the side-info blob
    n bytes        raw-deflate (zlib, wbits=-15) blob of:
                     u8          count-code preset (index into PRESETS)
                     C*n_bands   zigzag varint: min of each column (channel-major)
                     C*n_bands   varint: max - min of each column (0: constant, nothing sent)
                     V           u8 binning (index into TAILS) of each of the V virtual bands,
                                 in (channel, band, digit) order
                     sum(bins)   u8 count code of every bin of every virtual band
    varints        byte length of each arithmetic-coded stream
    bytes          the streams, back to back

Virtual bands are sorted by alphabet size and packed greedily into torchac calls of at most
``BUDGET`` CDF entries (``n_symbols * Lp``), which bounds memory; small images need one or
two streams. An all-zero band costs its two varints (well under a byte once deflated).
"""

from __future__ import annotations

import math
import zlib
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from vcnlit.codecs.container import BitstreamError

PRECISION = 16
#: probability mass shared by the real symbols of every model (one unit is left to torchac's
#: top padding symbol)
MASS = (1 << PRECISION) - 1
#: widest alphabet coded directly; wider columns are split into base-KMAX digits
KMAX = 4096
#: most CDF entries (n_symbols * Lp) handed to torchac in one call (int16: 2 bytes each)
BUDGET = 1 << 24
#: (exact-below E, log resolution R) count quantisers the encoder chooses from
PRESETS: tuple[tuple[int, int], ...] = ((2, 1), (4, 2), (8, 4), (16, 8))
#: exact (width-1) histogram bins within this distance of the band centre, wider beyond;
#: KMAX means every symbol has its own bin
TAILS: tuple[int, ...] = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, KMAX)
#: largest count a code must reach (2**29 > any number of blocks in a valid stream)
_LOG2_MAX_COUNT = 29
_FRAC = (65536, 71468, 77936, 84990, 92682, 101070, 110218, 120194)  # 2**(b/8) * 2**16
_INT32 = (-(1 << 31), (1 << 31) - 1)
#: most symbols (C * n_blocks * n_bands) a stream may hold
MAX_SYMBOLS = 1 << 30


def _torchac():
    """Import torchac lazily (its first import compiles a C++ extension)."""
    import torchac
    from torchac import torchac as impl

    if impl.PRECISION != PRECISION:
        raise RuntimeError(f"torchac precision {impl.PRECISION} != {PRECISION}")
    return torchac


# ------------------------------------------------------------------------------ varints


def _put_varint(out: bytearray, v: int) -> None:
    if v < 0:
        raise ValueError("varint must be >= 0")
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def _unzigzag(z: int) -> int:
    return z >> 1 if not z & 1 else -((z + 1) >> 1)


class _Bytes:
    """Reads plain bytes with bounds checks."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise BitstreamError(f"{self.what} is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def varint(self) -> int:
        v = 0
        for i in range(10):
            b = self.read(1)[0]
            v |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                return v
        raise BitstreamError(f"{self.what} has an overlong varint")


class _Inflate(_Bytes):
    """Reads a raw-deflate blob on demand, so a bad blob can't inflate more than is asked."""

    def __init__(self, blob: bytes) -> None:
        super().__init__(b"", "side info")
        self._z = zlib.decompressobj(-15)
        self._tail = blob

    def read(self, n: int) -> bytes:
        while len(self.data) - self.pos < n:
            need = n - (len(self.data) - self.pos)
            try:
                chunk = self._z.decompress(self._tail, max(need, 1 << 16))
            except zlib.error:
                raise BitstreamError("side info is corrupt (bad deflate data)") from None
            self._tail = self._z.unconsumed_tail
            if not chunk:
                raise BitstreamError("side info is truncated")
            self.data = self.data[self.pos :] + chunk
            self.pos = 0
        return super().read(n)

    def finish(self) -> None:
        if self.pos != len(self.data) or not self._z.eof or self._tail or self._z.unused_data:
            raise BitstreamError("side info has trailing data")


# ------------------------------------------------------------------------------ models


def _code_counts(counts: np.ndarray, preset: int) -> np.ndarray:
    """Counts -> count codes (encoder side only; rounding in the log domain)."""
    e, r = PRESETS[preset]
    c = np.asarray(counts, dtype=np.float64)
    big = np.minimum(np.rint(r * np.log2(np.maximum(c, e) / e)) + e, _qmax(preset))
    return np.where(c < e, c, big).astype(np.int64)


def _qmax(preset: int) -> int:
    e, r = PRESETS[preset]
    return e + r * (_LOG2_MAX_COUNT - int(math.log2(e)))


def _count_table(preset: int) -> np.ndarray:
    """Approximate count of every code 0..qmax (integer arithmetic only)."""
    e, r = PRESETS[preset]
    q = np.arange(_qmax(preset) + 1, dtype=np.int64)
    a, b = np.divmod(np.maximum(q - e, 0) * (8 // r), 8)
    big = ((e * np.asarray(_FRAC, dtype=np.int64)[b] << a) + (1 << 15)) >> 16
    return np.where(q < e, q, big)


_COUNTS = [_count_table(p) for p in range(len(PRESETS))]


def _decode_counts(q: np.ndarray, preset: int) -> np.ndarray:
    """Count codes (already checked <= qmax) -> approximate counts (int64)."""
    return _COUNTS[preset][q]


def _freqs(approx: np.ndarray) -> np.ndarray:
    """Approximate counts (K,) -> integer frequencies >= 1 summing to MASS (deterministic)."""
    k = len(approx)
    s = int(approx.sum())
    if s <= 0 or k > MASS // 2:
        raise BitstreamError("side info is corrupt (empty histogram)")
    scaled = approx * (MASS - k)
    f = 1 + scaled // s
    rem = MASS - int(f.sum())
    if rem:
        # the largest fractional parts get the leftover units, ties to the lower index
        order = np.lexsort((np.arange(k), -(scaled % s)))
        f[order[:rem]] += 1
    return f


def _tail_starts() -> np.ndarray:
    """Start of each tail bin (distance past the exact zone): widths 1, 1, 2, 2, 4, 4, ..."""
    out, pos, j = [], 0, 0
    while pos <= KMAX:
        out.append(pos)
        pos += 1 << (j // 2)
        j += 1
    return np.asarray(out, dtype=np.int64)


_TAIL_STARTS = _tail_starts()


def _bins(k: int, centre: int, tail: int) -> tuple[np.ndarray, np.ndarray]:
    """Histogram bins of an alphabet of ``k``: (bin of each symbol, width of each bin).

    Symbols within ``TAILS[tail]`` of ``centre`` get a bin each; further out the bins widen.
    """
    t = TAILS[tail]
    u = np.arange(k, dtype=np.int64)
    m = np.abs(u - centre)
    far = t + np.searchsorted(_TAIL_STARTS, np.maximum(m - t - 1, 0), side="right")
    key = np.where(m <= t, m, far)
    signed = np.where(u < centre, -key, key)  # non-decreasing in u
    inv = np.concatenate([[0], np.cumsum(signed[1:] != signed[:-1])])
    return inv, np.bincount(inv)


def _binned_freqs(
    bins: tuple[np.ndarray, np.ndarray], codes: np.ndarray, preset: int
) -> np.ndarray:
    """The model of one virtual band from its bins and count codes: (K,) freqs summing to MASS."""
    inv, widths = bins
    if len(codes) != len(widths):
        raise BitstreamError("side info is corrupt (bin count mismatch)")
    weights = (_decode_counts(codes, preset) << 12)[inv] // widths[inv]
    return _freqs(weights)


class _Model(NamedTuple):
    """Everything both sides derive from the side info."""

    preset: int
    mins: np.ndarray  # (C, n_bands) int64
    sizes: np.ndarray  # (C, n_bands) int64, alphabet K of each column
    vbands: list[tuple[int, int, int, int]]  # (channel, band, digit, alphabet K')
    tails: list[int]  # per virtual band, index into TAILS
    codes: list[np.ndarray]  # per virtual band, one count code per bin
    freqs: list[np.ndarray]  # per virtual band, (K',) int64 summing to MASS


def _digits(k: int) -> int:
    d = 1
    while KMAX**d < k:
        d += 1
    return d


def _virtual_bands(sizes: np.ndarray) -> list[tuple[int, int, int, int]]:
    out = []
    for c in range(sizes.shape[0]):
        for b in range(sizes.shape[1]):
            k = int(sizes[c, b])
            if k <= 1:
                continue
            d = _digits(k)
            top = (k - 1) // KMAX ** (d - 1) + 1
            out += [(c, b, 0, top)] + [(c, b, j, KMAX) for j in range(1, d)]
    return out


def _centre(mins: np.ndarray, sizes: np.ndarray, vband: tuple[int, int, int, int]) -> int:
    """Where the bins are finest: symbol 0 (clipped into the alphabet) of one-digit bands."""
    c, b, _, k = vband
    if _digits(int(sizes[c, b])) > 1:
        return 0
    return int(min(max(-int(mins[c, b]), 0), k - 1))


def _vband_values(sym: np.ndarray, mins, sizes, vbands) -> list[np.ndarray]:
    """Offsets (symbol - min) of each virtual band, split into digits where needed."""
    out = []
    for c, b, j, _ in vbands:
        d = _digits(int(sizes[c, b]))
        u = sym[c, :, b] - mins[c, b]
        out.append((u // KMAX ** (d - 1 - j)) % KMAX if d > 1 else u)
    return out


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


def _stream_cdf(model: _Model, pieces: list[tuple[int, int, int]]) -> tuple[Tensor, np.ndarray]:
    """int16 CDF tensor (n, Lp) of one stream and the alphabet size of each of its symbols."""
    lp = max(model.vbands[i][3] for i, _, _ in pieces) + 2
    table = np.stack([_cdf_rows(model.freqs[i], lp) for i, _, _ in pieces])
    lengths = np.asarray([b - a for _, a, b in pieces])
    cdf = np.repeat(table.astype(np.uint16).view(np.int16), lengths, axis=0)
    ks = np.repeat(np.asarray([model.vbands[i][3] for i, _, _ in pieces]), lengths)
    return torch.from_numpy(cdf), ks


# ------------------------------------------------------------------------------ encoder


def _as_numpy(symbols: Tensor) -> np.ndarray:
    if not isinstance(symbols, Tensor) or symbols.dim() != 3:
        raise ValueError("symbols must be a (C, n_blocks, n_bands) integer tensor")
    if symbols.dtype.is_floating_point or symbols.dtype.is_complex or symbols.dtype == torch.bool:
        raise ValueError(f"symbols must be integers, got {symbols.dtype}")
    if symbols.numel() > MAX_SYMBOLS:
        raise ValueError(f"too many symbols ({symbols.numel()} > {MAX_SYMBOLS})")
    sym = symbols.detach().cpu().to(torch.int64).numpy()
    if sym.size and (sym.min() < _INT32[0] or sym.max() > _INT32[1]):
        raise ValueError("symbols must fit in int32 to be entropy coded")
    return sym


def _histograms(sym: np.ndarray):
    """Column ranges, virtual bands, their centres and symbol histograms."""
    c, n, nb = sym.shape
    if n == 0:
        zeros = np.zeros((c, nb), dtype=np.int64)
        return zeros, zeros + 1, [], [], []
    mins, maxs = sym.min(axis=1), sym.max(axis=1)
    sizes = maxs - mins + 1
    vbands = _virtual_bands(sizes)
    values = _vband_values(sym, mins, sizes, vbands)
    hists = [np.bincount(v, minlength=vb[3]) for v, vb in zip(values, vbands)]
    centres = [_centre(mins, sizes, vb) for vb in vbands]
    return mins, sizes, vbands, centres, hists


def _bits(hist: np.ndarray, freqs: np.ndarray) -> float:
    nz = hist > 0
    return float(np.sum(hist[nz] * (PRECISION - np.log2(freqs[nz]))))


class _Candidates(NamedTuple):
    """All binnings worth trying for one band, bins concatenated for vectorised scoring."""

    tails: list[int]
    bins: list[tuple[np.ndarray, np.ndarray]]  # per tail: (bin of each symbol, widths)
    binned: np.ndarray  # histogram per bin, all tails back to back
    widths: np.ndarray
    starts: np.ndarray  # first bin of each tail
    k: int


def _candidates(hist: np.ndarray, centre: int, exact_only: bool) -> _Candidates:
    k = len(hist)
    reach = max(centre, k - 1 - centre)
    tails = [i for i, t in enumerate(TAILS) if t == KMAX or (t < reach and not exact_only)]
    bins = [_bins(k, centre, t) for t in tails]
    binned = [np.bincount(inv, weights=hist, minlength=len(w)) for inv, w in bins]
    starts = np.cumsum([0] + [len(w) for _, w in bins[:-1]])
    return _Candidates(
        tails, bins, np.concatenate(binned), np.concatenate([w for _, w in bins]), starts, k
    )


def _fit(cand: _Candidates, preset: int, cost: np.ndarray) -> tuple[int, np.ndarray]:
    """Best (position in cand.tails, codes) of one band: payload + estimated side-info bits.

    Payload bits are estimated per bin in floating point (the exact integer model differs
    only by the rounding of frequencies).
    """
    codes = _code_counts(cand.binned, preset)
    counts = _COUNTS[preset][codes]
    seg = np.repeat(np.arange(len(cand.starts)), np.diff(np.append(cand.starts, len(codes))))
    total = np.add.reduceat(counts, cand.starts)
    p = 1.0 + counts / cand.widths * ((MASS - cand.k) / total[seg])
    bits = np.add.reduceat(cand.binned * (PRECISION - np.log2(p)) + cost[codes], cand.starts)
    i = int(np.argmin(bits))
    stop = cand.starts[i + 1] if i + 1 < len(cand.starts) else len(codes)
    return i, codes[cand.starts[i] : stop]


def _side_blob(model: _Model) -> bytes:
    raw = bytearray([model.preset])
    for v in model.mins.reshape(-1).tolist():
        _put_varint(raw, _zigzag(int(v)))
    for v in model.sizes.reshape(-1).tolist():
        _put_varint(raw, int(v) - 1)
    raw += bytes(model.tails)
    for q in model.codes:
        raw += q.astype(np.uint8).tobytes()
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return z.compress(bytes(raw)) + z.flush()


def _choose_model(sym: np.ndarray) -> tuple[_Model, bytes, float]:
    """The model with the fewest side-info + ideal payload bits, its side info and ideal bits.

    Each band picks its binning against a code-length estimate of the side info; presets
    compare by real deflated size, and the best one refits once with code lengths
    estimated from the codes it actually chose.
    """
    mins, sizes, vbands, centres, hists = _histograms(sym)
    exact_only = [_digits(int(sizes[c, b])) > 1 for c, b, _, _ in vbands]

    cands = [_candidates(*a) for a in zip(hists, centres, exact_only)]

    def build(p: int, cost: np.ndarray) -> tuple[float, _Model, bytes, float]:
        fits = [_fit(c, p, cost) for c in cands]
        tails = [c.tails[i] for c, (i, _) in zip(cands, fits)]
        codes = [q for _, q in fits]
        freqs = [_binned_freqs(c.bins[i], q, p) for c, (i, q) in zip(cands, fits)]
        model = _Model(p, mins, sizes, vbands, tails, codes, freqs)
        blob = _side_blob(model)
        ideal = sum(_bits(h, f) for h, f in zip(hists, freqs))
        return ideal + 8 * len(blob), model, blob, ideal

    cost = np.full(256, 5.0)
    cost[0] = 1.5
    best = min((build(p, cost) for p in range(len(PRESETS))), key=lambda r: r[0])
    used = np.bincount(np.concatenate([np.zeros(1, np.int64), *best[1].codes]), minlength=256)
    refit = build(best[1].preset, -np.log2((used + 0.25) / (used.sum() + 64.0)))
    best = min(best, refit, key=lambda r: r[0])
    return best[1], best[2], best[3]


def encode_symbols(symbols: Tensor) -> bytes:
    """Losslessly code ``(C, n_blocks, n_bands)`` integers; self-contained (see module doc)."""
    sym = _as_numpy(symbols)
    model, blob, _ = _choose_model(sym)
    values = _vband_values(sym, model.mins, model.sizes, model.vbands)
    tac = _torchac()
    streams = []
    for pieces in _streams(model.vbands, sym.shape[1]):
        cdf, _ = _stream_cdf(model, pieces)
        s = np.concatenate([values[i][a:b] for i, a, b in pieces]).astype(np.int16)
        streams.append(tac.encode_int16_normalized_cdf(cdf, torch.from_numpy(s)))
    out = bytearray()
    _put_varint(out, len(blob))
    out += blob
    for s in streams:
        _put_varint(out, len(s))
    return bytes(out) + b"".join(streams)


def ideal_bits(symbols: Tensor) -> float:
    """Code length (bits) of the symbols under the encoder's own integer CDFs, no side info."""
    return _choose_model(_as_numpy(symbols))[2]


def entropy_bits(symbols: Tensor) -> float:
    """Empirical entropy (bits) of the per-column histograms: the best any static model does."""
    bits = 0.0
    for h in _histograms(_as_numpy(symbols))[4]:
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


# ------------------------------------------------------------------------------ decoder


def _check_shape(shape) -> tuple[int, int, int]:
    try:
        c, n, nb = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (C, n_blocks, n_bands), got {shape!r}") from None
    if c < 1 or n < 0 or nb < 1 or c * n * nb > MAX_SYMBOLS:
        raise ValueError(f"bad symbol shape {(c, n, nb)}")
    return c, n, nb


def _parse(data: bytes, shape) -> tuple[_Model, list[bytes]]:
    c, n, nb = _check_shape(shape)
    rd = _Bytes(data, "entropy-coded data")
    blob = rd.read(rd.varint())
    side = _Inflate(blob)
    preset = side.read(1)[0]
    if preset >= len(PRESETS):
        raise BitstreamError(f"side info is corrupt (unknown preset {preset})")
    lo = [_unzigzag(side.varint()) for _ in range(c * nb)]
    hi = [m + side.varint() for m in lo]
    if lo and (min(lo) < _INT32[0] or max(hi) > _INT32[1]):
        raise BitstreamError("side info is corrupt (symbol range out of int32)")
    mins = np.asarray(lo, dtype=np.int64).reshape(c, nb)
    sizes = np.asarray(hi, dtype=np.int64).reshape(c, nb) - mins + 1
    vbands = _virtual_bands(sizes) if n else []
    tails = list(side.read(len(vbands)))
    if any(t >= len(TAILS) for t in tails):
        raise BitstreamError("side info is corrupt (bad binning)")
    qmax = _qmax(preset)
    codes, freqs = [], []
    for vb, tail in zip(vbands, tails):
        bins = _bins(vb[3], _centre(mins, sizes, vb), tail)
        q = np.frombuffer(side.read(len(bins[1])), dtype=np.uint8).astype(np.int64)
        if q.max() > qmax:
            raise BitstreamError("side info is corrupt (bad count code)")
        codes.append(q)
        freqs.append(_binned_freqs(bins, q, preset))
    side.finish()
    model = _Model(preset, mins, sizes, vbands, tails, codes, freqs)
    lengths = [rd.varint() for _ in _streams(vbands, n)]
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
    tac = _torchac() if streams else None
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
