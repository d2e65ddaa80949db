"""The probability model of the entropy coder: per-band histograms, binned and sent as side info.

The encoder fits one static model per (channel, band) column (:func:`choose_model`) and writes it
as a deflated side-info blob; the decoder reads it back (:func:`read_model`) and both derive the
same integer frequencies (integer arithmetic only). Format: see :mod:`vcnlit.codecs.entropy`.
"""

from __future__ import annotations

import math
import zlib
from typing import NamedTuple

import numpy as np

from vcnlit.codecs.byteio import InflateReader, put_varint, unzigzag, zigzag
from vcnlit.errors import BitstreamError

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
INT32 = (-(1 << 31), (1 << 31) - 1)
#: most symbols (C * n_blocks * n_bands) a stream may hold
MAX_SYMBOLS = 1 << 30


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


class Model(NamedTuple):
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


def virtual_bands(sizes: np.ndarray) -> list[tuple[int, int, int, int]]:
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


def vband_values(sym: np.ndarray, mins, sizes, vbands) -> list[np.ndarray]:
    """Offsets (symbol - min) of each virtual band, split into digits where needed."""
    out = []
    for c, b, j, _ in vbands:
        d = _digits(int(sizes[c, b]))
        u = sym[c, :, b] - mins[c, b]
        out.append((u // KMAX ** (d - 1 - j)) % KMAX if d > 1 else u)
    return out


def histograms(sym: np.ndarray):
    """Column ranges, virtual bands, their centres and symbol histograms."""
    c, n, nb = sym.shape
    if n == 0:
        zeros = np.zeros((c, nb), dtype=np.int64)
        return zeros, zeros + 1, [], [], []
    mins, maxs = sym.min(axis=1), sym.max(axis=1)
    sizes = maxs - mins + 1
    vbands = virtual_bands(sizes)
    values = vband_values(sym, mins, sizes, vbands)
    hists = [np.bincount(v, minlength=vb[3]) for v, vb in zip(values, vbands)]
    centres = [_centre(mins, sizes, vb) for vb in vbands]
    return mins, sizes, vbands, centres, hists


def code_bits(hist: np.ndarray, freqs: np.ndarray) -> float:
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


def _side_blob(model: Model) -> bytes:
    raw = bytearray([model.preset])
    for v in model.mins.reshape(-1).tolist():
        put_varint(raw, zigzag(int(v)))
    for v in model.sizes.reshape(-1).tolist():
        put_varint(raw, int(v) - 1)
    raw += bytes(model.tails)
    for q in model.codes:
        raw += q.astype(np.uint8).tobytes()
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return z.compress(bytes(raw)) + z.flush()


def choose_model(sym: np.ndarray) -> tuple[Model, bytes, float]:
    """The model with the fewest side-info + ideal payload bits, its side info and ideal bits.

    Each band picks its binning against a code-length estimate of the side info; presets
    compare by real deflated size, and the best one refits once with code lengths
    estimated from the codes it actually chose.
    """
    mins, sizes, vbands, centres, hists = histograms(sym)
    exact_only = [_digits(int(sizes[c, b])) > 1 for c, b, _, _ in vbands]

    cands = [_candidates(*a) for a in zip(hists, centres, exact_only)]

    def build(p: int, cost: np.ndarray) -> tuple[float, Model, bytes, float]:
        fits = [_fit(c, p, cost) for c in cands]
        tails = [c.tails[i] for c, (i, _) in zip(cands, fits)]
        codes = [q for _, q in fits]
        freqs = [_binned_freqs(c.bins[i], q, p) for c, (i, q) in zip(cands, fits)]
        model = Model(p, mins, sizes, vbands, tails, codes, freqs)
        blob = _side_blob(model)
        ideal = sum(code_bits(h, f) for h, f in zip(hists, freqs))
        return ideal + 8 * len(blob), model, blob, ideal

    cost = np.full(256, 5.0)
    cost[0] = 1.5
    best = min((build(p, cost) for p in range(len(PRESETS))), key=lambda r: r[0])
    used = np.bincount(np.concatenate([np.zeros(1, np.int64), *best[1].codes]), minlength=256)
    refit = build(best[1].preset, -np.log2((used + 0.25) / (used.sum() + 64.0)))
    best = min(best, refit, key=lambda r: r[0])
    return best[1], best[2], best[3]


def read_model(side: InflateReader, shape: tuple[int, int, int]) -> Model:
    """The model the encoder chose, read from its side info (the decoder's half of :func:`choose_model`)."""
    c, n, nb = shape
    preset = side.read(1)[0]
    if preset >= len(PRESETS):
        raise BitstreamError(f"side info is corrupt (unknown preset {preset})")
    lo = [unzigzag(side.varint()) for _ in range(c * nb)]
    hi = [m + side.varint() for m in lo]
    if lo and (min(lo) < INT32[0] or max(hi) > INT32[1]):
        raise BitstreamError("side info is corrupt (symbol range out of int32)")
    mins = np.asarray(lo, dtype=np.int64).reshape(c, nb)
    sizes = np.asarray(hi, dtype=np.int64).reshape(c, nb) - mins + 1
    vbands = virtual_bands(sizes) if n else []
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
    return Model(preset, mins, sizes, vbands, tails, codes, freqs)
