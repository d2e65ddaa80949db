"""Context-adaptive coding of quantised block-DCT coefficients (torchac, integer CDFs).

Input: planes of ``(n_rows, n_cols, B * B)`` integers (blocks on their grid, band ``u * B + v``),
each with a *kind* (0: luma or a plain channel, 1: chroma), which selects its own contexts.

Order. Coefficients are coded diagonal by diagonal (``d = u + v``), one *pass* per diagonal,
each pass across every block of every plane, so a pass's contexts depend on earlier passes
only and are computed for the whole pass at once (numpy), and the decoder follows the same
order. Pass 0 codes each plane's DC as the residual of the prediction
``(left + up) >> 1`` (left in the first row, up in the first column), rebuilt on the decoder
anti-diagonal by anti-diagonal.

Contexts. A coefficient's context is (kind, frequency class ``min(d, FC_MAX)``, number of
non-zero AC coefficients of its block in earlier passes ``<= NF2 - 1``, activity class).
The activity is ``4 a + n`` with ``a = 2 (m(u-1, v) + m(u, v-1)) + m(u-1, v-1)`` from the
magnitudes ``m`` of its block (``4 m`` of the one lower neighbour on the block's edges) and
``n`` the sum of ``a`` over the four neighbouring blocks. In pass 1 the activity is twice the
DC gradient across the block in the coefficient's direction (the DCs of the blocks either
side), whose sign also predicts the coefficient's sign: those coefficients are coded with
the sign flipped so that agreeing is positive, under a sign bias chosen per kind. Classes
are half octaves of the activity (integer arithmetic); magnitudes in contexts are token
magnitudes (at most ``ESC``). Revision 1 of the activity (the first DNNC streams of container
version 3, :data:`REVISION`) had no diagonal term: ``a = m(u-1, v) + m(u, v-1)``, ``2 m`` on the edges.

Model. Each context has a shape of :mod:`~vcnlit.codecs.entropy.shapes` (``p0``, ``theta``)
chosen by the encoder for the fewest payload + side-info bits and sent at its first use,
Exp-Golomb coded as the difference from a shape already sent (:class:`_Prior`). Tokens are
the values clipped to ``+-ESC``; the remainder ``|v| - ESC`` of an escaped value is an
Exp-Golomb code of an order chosen per pass.

Byte format::

    varint  n      length of the bit segment
    n bytes        bit segment, read as the passes go:
                     2 bits per kind: sign-bias index of predicted signs
                     per pass: 1 bit "all zero" (nothing else follows for that pass), else
                       per new context (ascending id): signed EG0 p0 and theta differences
                       after its streams: when it has escapes, 4 bits k and the EG(k)
                       remainders in coding order
    per non-empty pass, per stream (at most BUDGET CDF entries each): varint length, bytes

Trailing zero bytes of each arithmetic-coded stream are dropped (torchac's decoder reads
zeros past the end).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from vcnlit.codecs.byteio import BitReader, BitWriter, ByteReader, bit_length, put_varint
from vcnlit.codecs.entropy.coder import load_torchac
from vcnlit.codecs.entropy.model import BUDGET, MAX_SYMBOLS
from vcnlit.codecs.entropy.shapes import (
    BIASES,
    BIT_SCALE,
    ESC,
    LP,
    N_P0,
    N_TH,
    K,
    bits_table,
    cdf_table,
)
from vcnlit.errors import BitstreamError

#: frequency classes: diagonals 0 .. FC_MAX - 1 each, FC_MAX and beyond together
FC_MAX = 4
#: classes of the number of non-zero AC coefficients the block has in earlier passes (the last: "or more")
NF2 = 3
#: activity classes (half octaves; the last: "or more")
NMU = 16
#: plane kinds: 0 luma or a plain channel, 1 chroma
KINDS = 2
N_CONTEXTS = KINDS * (FC_MAX + 1) * NF2 * NMU
#: coefficients must stay below this in magnitude (their DC residuals then fit in int32)
LIMIT = 1 << 30
#: weight of a coefficient's own lower neighbours against those of the four blocks around
_OWN = 4
#: weight of the DC gradient in pass 1's activity
_GRADIENT = 2
#: shape (p0, theta index) the first context of a kind is coded against
_DEFAULT = (40, 6)
_CAP = 1 << 20  # activity values are capped here before classing
#: revisions of the activity: 1 without the diagonal parent (container version 3 as first shipped), 2 with it
REVISIONS = (1, 2)
#: the revision coded now
REVISION = 2


def _ctx_id(kind: int, fc: int, f2: np.ndarray, mu: np.ndarray) -> np.ndarray:
    return ((kind * (FC_MAX + 1) + fc) * NF2 + f2) * NMU + mu


def _mu_class(x: np.ndarray) -> np.ndarray:
    """0 for 0, else ``1 + floor(2 log2 x)`` capped at NMU - 1 (exact integer arithmetic)."""
    x = np.minimum(np.asarray(x, dtype=np.int64), _CAP)
    b = bit_length(x) - 1
    half = (x * x >= (np.int64(1) << np.maximum(2 * b + 1, 0))).astype(np.int64)
    return np.where(x > 0, np.minimum(1 + 2 * b + half, NMU - 1), 0)


#: :func:`_mu_class` of the activities of diagonals 2 and beyond (all below ``_OWN * 80 + 4 * 80``)
_MU_SMALL = _mu_class(np.arange(1024)).astype(np.int16)


def _diagonal(b: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    u = np.arange(max(0, d - b + 1), min(d, b - 1) + 1)
    return u, d - u


def _dc_predict(dc: np.ndarray) -> np.ndarray:
    """Prediction of each DC from its left and upper neighbours (the encoder knows them all)."""
    p = np.zeros_like(dc)
    p[0, 1:] = dc[0, :-1]
    p[1:, 0] = dc[:-1, 0]
    p[1:, 1:] = (dc[1:, :-1] + dc[:-1, 1:]) >> 1
    return p


def _dc_rebuild(res: np.ndarray) -> np.ndarray:
    """Inverse of ``res = dc - _dc_predict(dc)``, one anti-diagonal at a time."""
    h, w = res.shape
    dc = np.zeros_like(res)
    for s in range(h + w - 1):
        i = np.arange(max(0, s - w + 1), min(s, h - 1) + 1)
        j = s - i
        left = dc[i, np.maximum(j - 1, 0)]
        up = dc[np.maximum(i - 1, 0), j]
        pred = np.where((i > 0) & (j > 0), (left + up) >> 1, np.where(j > 0, left, up))
        dc[i, j] = res[i, j] + np.where((i == 0) & (j == 0), 0, pred)
    return dc


def _neighbours(a: np.ndarray) -> np.ndarray:
    """Sum of the four neighbours of every entry over the last two axes, the edges repeated outwards."""
    n = np.empty_like(a)
    n[..., 1:, :] = a[..., :-1, :]
    n[..., :1, :] = a[..., :1, :]
    n[..., :-1, :] += a[..., 1:, :]
    n[..., -1:, :] += a[..., -1:, :]
    n[..., :, 1:] += a[..., :, :-1]
    n[..., :, :1] += a[..., :, :1]
    n[..., :, :-1] += a[..., :, 1:]
    n[..., :, -1:] += a[..., :, -1:]
    return n


class _Plane:
    """What both sides know of one plane while the passes go: token magnitudes, DC, non-zero counts.

    Magnitudes are kept band by band (``mag[u, v]`` a (rows, cols) plane) in small integers; a pass's
    contexts come out block by block (rows, cols, n), the coding order.
    """

    def __init__(self, rows: int, cols: int, b: int, kind: int, revision: int = REVISION) -> None:
        self.b, self.kind, self.revision = b, kind, revision
        self.mag = np.zeros((b, b, rows, cols), dtype=np.int16)
        self.dc = np.zeros((rows, cols), dtype=np.int64)
        self.f2 = np.zeros((rows, cols), dtype=np.int16)  # min(non-zero AC count so far, NF2 - 1)

    def contexts(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Context id and sign prediction (-1, 0, 1) of each coefficient of diagonal ``d``, (rows, cols, n)."""
        u, v = _diagonal(self.b, d)
        rows, cols = self.dc.shape
        if d == 0:
            zero = np.zeros((rows, cols, 1), dtype=np.int16)
            return _ctx_id(self.kind, 0, zero, zero), zero
        if d == 1:
            p = np.pad(np.clip(self.dc, -_CAP, _CAP), 1, mode="edge")
            gx = p[1:-1, 2:] - p[1:-1, :-2]  # grows with the column: the (0, 1) band's direction
            gy = p[2:, 1:-1] - p[:-2, 1:-1]
            g = np.stack([gy if ui else gx for ui in u], -1)
            mu = _mu_class(_GRADIENT * np.abs(g)).astype(np.int16)
            return _ctx_id(self.kind, 1, np.int16(0), mu), (-np.sign(g)).astype(np.int16)
        m = self.mag
        # a = wl m(u, v-1) + wu m(u-1, v) (+ the diagonal parent): 2x the one lower neighbour on the edges
        wl = np.where(u == 0, 2, (v > 0).astype(np.int64)).astype(np.int16)[:, None, None]
        wu = np.where(v == 0, 2, (u > 0).astype(np.int64)).astype(np.int16)[:, None, None]
        a = m[u, np.maximum(v - 1, 0)] * wl
        a += m[np.maximum(u - 1, 0), v] * wu
        if self.revision >= 2:
            a *= 2
            a += m[np.maximum(u - 1, 0), np.maximum(v - 1, 0)] * ((u > 0) & (v > 0)).astype(np.int16)[:, None, None]
        act = _neighbours(a)
        act += _OWN * a
        ctx = _MU_SMALL[act]
        ctx += _ctx_id(self.kind, min(d, FC_MAX), self.f2, np.int16(0))
        return ctx.transpose(1, 2, 0), np.zeros((rows, cols, len(u)), dtype=np.int16)

    def record(self, d: int, values: np.ndarray, dc: np.ndarray | None = None) -> None:
        """Record the coded values of diagonal ``d`` (rows, cols, n), and the DC itself after pass 0."""
        u, v = _diagonal(self.b, d)
        self.mag[u, v] = np.minimum(np.abs(values), ESC).transpose(2, 0, 1)
        if d > 0:
            self.f2 = np.minimum(self.f2 + (values != 0).sum(-1), NF2 - 1).astype(np.int16)
        if dc is not None:
            self.dc = dc


class _Pass(NamedTuple):
    ctx: np.ndarray  # (N,) context id of every coefficient of the pass, all planes
    pred: np.ndarray  # (N,) sign prediction
    kinds: np.ndarray  # (N,) kind


def _gather(states: list[_Plane], d: int) -> tuple[_Pass, list[tuple[int, int]]]:
    """The pass's contexts over all planes, and where each plane's part lies in it."""
    parts, spans, pos = [], [], 0
    for st in states:
        if d > 2 * st.b - 2:
            spans.append((pos, pos))
            continue
        c, p = st.contexts(d)
        parts.append((c.reshape(-1), p.reshape(-1), np.full(c.size, st.kind, dtype=np.int16)))
        spans.append((pos, pos + c.size))
        pos += c.size
    if not parts:
        e = np.zeros(0, dtype=np.int16)
        return _Pass(e, e, e), spans
    return _Pass(*(np.concatenate(x) for x in zip(*parts))), spans


def _rows(shape_of: np.ndarray, bias_of: np.ndarray, ps: _Pass) -> np.ndarray:
    """Index of every symbol's CDF row in the flattened :func:`cdf_table`."""
    rows = shape_of[ps.ctx]
    if ps.pred.any():  # pass 1 only
        rows += np.where(ps.pred != 0, bias_of[ps.kinds], 0) * (N_P0 * N_TH)
    return rows


def _cdf(rows: np.ndarray) -> torch.Tensor:
    """(n, LP) int16 CDF rows (one torchac call's worth)."""
    return torch.from_numpy(np.take(cdf_table().reshape(-1, LP), rows, axis=0))


def _chunks(n: int) -> list[tuple[int, int]]:
    step = max(1, BUDGET // LP)
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def _n_passes(states: list[_Plane]) -> int:
    return max((2 * st.b - 1 for st in states), default=0)


def _eg_bits(r: np.ndarray, k: int) -> int:
    return int((2 * bit_length(r + (1 << k)) - k - 1).sum())


def _split(cid: int) -> tuple[int, int, int, int]:
    """(kind, frequency class, non-zero class, activity class) of a context id."""
    rest, mu = divmod(cid, NMU)
    rest, f2 = divmod(rest, NF2)
    kind, fc = divmod(rest, FC_MAX + 1)
    return kind, fc, f2, mu


class _Prior:
    """The shape a new context's difference is taken from, out of the shapes already sent.

    The nearest lower activity class of the same (kind, frequency, non-zero) series, else the
    same activity with the nearest lower non-zero class, else the nearest lower frequency class,
    else the last shape sent for the kind, else ``_DEFAULT``.
    """

    def __init__(self) -> None:
        self.sent: dict[int, tuple[int, int]] = {}
        self.by_kind: dict[int, tuple[int, int]] = {}

    def _find(self, ids) -> tuple[int, int] | None:
        return next((self.sent[i] for i in ids if i in self.sent), None)

    def get(self, cid: int) -> tuple[int, int]:
        kind, fc, f2, mu = _split(cid)
        a = self._find(_ctx_id(kind, fc, f2, m) for m in range(mu - 1, -1, -1))
        b = self._find(_ctx_id(kind, fc, f, mu) for f in range(f2 - 1, -1, -1))
        c = self._find(_ctx_id(kind, f, f2, mu) for f in range(fc - 1, -1, -1))
        return a or b or c or self.by_kind.get(kind, _DEFAULT)

    def set(self, cid: int, shape: tuple[int, int]) -> None:
        self.sent[cid] = self.by_kind[_split(cid)[0]] = shape


def _se_bits(delta: np.ndarray) -> np.ndarray:
    z = np.where(delta >= 0, 2 * delta, -2 * delta - 1)
    return 2 * bit_length(z + 1) - 1


def _choose(order: list[int], hist: np.ndarray, bias_of: np.ndarray) -> np.ndarray:
    """Shape (p0 index * N_TH + theta index) of every context: fewest payload + side bits, in sending order."""
    table = bits_table()
    grid = np.arange(N_P0 * N_TH)
    prior, out = _Prior(), np.zeros(N_CONTEXTS, dtype=np.int64)
    for cid in order:
        cost = table[0] @ hist[cid, 0] + table[bias_of[_split(cid)[0]]] @ hist[cid, 1]
        p, t = prior.get(cid)
        side = (_se_bits(grid // N_TH - p) + _se_bits(grid % N_TH - t)) * BIT_SCALE
        out[cid] = best = int(np.argmin(cost + side))
        prior.set(cid, (best // N_TH, best % N_TH))
    return out


def _check_planes(planes: Sequence[np.ndarray], kinds: Sequence[int]) -> list[np.ndarray]:
    if len(planes) != len(kinds) or not planes:
        raise ValueError("need one kind per plane and at least one plane")
    out = []
    for p, k in zip(planes, kinds):
        a = np.asarray(p)
        if a.ndim != 3 or a.dtype.kind not in "iu":
            raise ValueError(f"planes must be (rows, cols, B * B) integer arrays, got {a.dtype} {a.shape}")
        b = round(a.shape[2] ** 0.5)
        if b * b != a.shape[2] or b < 1:
            raise ValueError(f"band count {a.shape[2]} is not a square")
        if k not in range(KINDS):
            raise ValueError(f"kind must be in 0..{KINDS - 1}, got {k}")
        a = a.astype(np.int64)
        if a.size and np.abs(a).max() >= LIMIT:
            raise ValueError(f"coefficients must be below {LIMIT} in magnitude for the context model")
        out.append(a)
    if sum(a.size for a in out) > MAX_SYMBOLS:
        raise ValueError(f"too many symbols (> {MAX_SYMBOLS})")
    return out


def _check_revision(revision: int) -> None:
    if revision not in REVISIONS:
        raise ValueError(f"context model revision must be one of {REVISIONS}, got {revision}")


def _new(ps: _Pass, sent: set[int]) -> list[int]:
    """Contexts of a pass not sent before, in sending order."""
    return [c for c in np.flatnonzero(np.bincount(ps.ctx, minlength=N_CONTEXTS)).tolist() if c not in sent]


def _coded_passes(arrays: list[np.ndarray], states: list[_Plane]) -> list[tuple[_Pass, np.ndarray]]:
    """Every pass's contexts and coded values (DC residuals; predicted signs flipped): the encoder's half."""
    grids = [a.reshape(a.shape[0], a.shape[1], st.b, st.b) for a, st in zip(arrays, states)]
    out = []
    for d in range(_n_passes(states)):
        ps, spans = _gather(states, d)
        vals = []
        for g, st, (lo, hi) in zip(grids, states, spans):
            if hi == lo:
                continue
            u, v = _diagonal(st.b, d)
            part = g[:, :, u, v]
            if d == 0:
                dc = part[:, :, 0]
                part = (dc - _dc_predict(dc))[:, :, None]
            st.record(d, part, dc if d == 0 else None)
            vals.append(part.reshape(-1))
        x = np.concatenate(vals)
        out.append((ps, np.where(ps.pred < 0, -x, x) if d == 1 else x))
    return out


def _sign_bias(passes: list[tuple[_Pass, np.ndarray]]) -> np.ndarray:
    """Index into BIASES per kind: the best for the predicted signs (agreeing = positive)."""
    out = np.zeros(KINDS, dtype=np.int64)
    for kind in range(KINDS):
        agree = total = 0
        for ps, x in passes:
            sel = (ps.pred != 0) & (ps.kinds == kind) & (x != 0)
            agree += int((x[sel] > 0).sum())
            total += int(sel.sum())
        if total and agree > total - agree:
            bits = [-(agree * np.log2(b / 8) + (total - agree) * np.log2(1 - b / 8)) for b in BIASES]
            out[kind] = int(np.argmin(bits))
    return out


def _histograms(passes: list[tuple[_Pass, np.ndarray]]) -> tuple[list[int], np.ndarray]:
    """Contexts in sending order and their token histograms, (N_CONTEXTS, 2, K): plain and sign-predicted."""
    counts = np.zeros(N_CONTEXTS * 2 * K, dtype=np.int64)
    order: list[int] = []
    for ps, x in passes:
        order += _new(ps, set(order))
        idx = (ps.ctx.astype(np.int32) * 2 + (ps.pred != 0)) * K + (np.clip(x, -ESC, ESC) + ESC)
        counts += np.bincount(idx, minlength=counts.size)
    return order, counts.reshape(N_CONTEXTS, 2, K).astype(np.float64)


def encode_planes(planes: Sequence[np.ndarray], kinds: Sequence[int], revision: int = REVISION) -> bytes:
    """Losslessly code planes of quantised coefficients; format in the module doc.

    Args:
        planes: ``(n_rows, n_cols, B * B)`` integer arrays, |values| < ``LIMIT``.
        kinds: per plane, 0 (luma or a plain channel) or 1 (chroma).
        revision: of the activity (:data:`REVISIONS`).

    Returns:
        The bytes (the decoder needs the plane shapes and kinds besides).
    """
    arrays = _check_planes(planes, kinds)
    _check_revision(revision)
    states = [_Plane(a.shape[0], a.shape[1], round(a.shape[2] ** 0.5), k, revision) for a, k in zip(arrays, kinds)]
    passes = _coded_passes(arrays, states)
    live = [bool(np.any(x)) for _, x in passes]
    bias_of = _sign_bias([p for p, lv in zip(passes, live) if lv])
    order, hist = _histograms([p for p, lv in zip(passes, live) if lv])
    chosen = _choose(order, hist, bias_of)
    bits = BitWriter()
    bits.put(bias_of, 2)
    out = bytearray()
    tac = load_torchac()
    prior = _Prior()
    for (ps, x), lv in zip(passes, live):
        bits.put(int(not lv), 1)
        if not lv:
            continue
        for cid in _new(ps, set(prior.sent)):
            p, th = prior.get(cid)
            bits.put_se([chosen[cid] // N_TH - p, chosen[cid] % N_TH - th])
            prior.set(cid, (chosen[cid] // N_TH, chosen[cid] % N_TH))
        t = np.clip(x, -ESC, ESC)
        rows = _rows(chosen, bias_of, ps)
        sym = torch.from_numpy((t + ESC).astype(np.int16))
        for a, b in _chunks(len(t)):
            stream = tac.encode_int16_normalized_cdf(_cdf(rows[a:b]), sym[a:b]).rstrip(b"\0")
            put_varint(out, len(stream))
            out += stream
        rem = np.abs(x[np.abs(t) == ESC]) - ESC
        if rem.size:
            k = min(range(16), key=lambda k: _eg_bits(rem, k))
            bits.put(k, 4)
            bits.put_eg(rem, k)
    seg = bits.getvalue()
    head = bytearray()
    put_varint(head, len(seg))
    return bytes(head) + seg + bytes(out)


def decode_planes(data: bytes, shapes: Sequence[tuple[int, int, int]], kinds: Sequence[int],
                  revision: int = REVISION) -> list[np.ndarray]:
    """Inverse of :func:`encode_planes`; raises BitstreamError on malformed data.

    Args:
        data: the bytes.
        shapes: ``(n_rows, n_cols, B * B)`` of every plane.
        kinds: the kind of every plane.
        revision: of the activity the encoder used.

    Returns:
        The planes, int64.
    """
    shapes = [tuple(int(v) for v in s) for s in shapes]
    _check_planes([np.zeros((0, 0, s[2]), dtype=np.int64) for s in shapes], kinds)
    _check_revision(revision)
    if any(min(s) < 1 for s in shapes) or sum(s[0] * s[1] * s[2] for s in shapes) > MAX_SYMBOLS:
        raise ValueError(f"bad plane shapes {shapes}")
    rd = ByteReader(bytes(data), "entropy-coded data")
    bits = BitReader(rd.read(rd.varint()))
    states = [_Plane(r, c, round(n**0.5), k, revision) for (r, c, n), k in zip(shapes, kinds)]
    values = [np.zeros((r, c, st.b, st.b), dtype=np.int64) for (r, c, _), st in zip(shapes, states)]
    bias_of = np.asarray([bits.get(2) for _ in range(KINDS)], dtype=np.int64)
    shape_of = np.zeros(N_CONTEXTS, dtype=np.int64)
    prior = _Prior()
    for d in range(_n_passes(states)):
        ps, spans = _gather(states, d)
        x = np.zeros(len(ps.ctx), dtype=np.int64)
        if not bits.get(1):
            for cid in _new(ps, set(prior.sent)):
                p, th = (a + b for a, b in zip(prior.get(cid), bits.get_se(2).tolist()))
                if not (0 <= p < N_P0 and 0 <= th < N_TH):
                    raise BitstreamError("side info is corrupt (shape out of range)")
                shape_of[cid] = p * N_TH + th
                prior.set(cid, (p, th))
            rows = _rows(shape_of, bias_of, ps)
            for a, b in _chunks(len(x)):
                s = load_torchac().decode_int16_normalized_cdf(_cdf(rows[a:b]), rd.read(rd.varint()))
                x[a:b] = s.numpy().astype(np.int64) - ESC
            if np.any(x > ESC):
                raise BitstreamError("arithmetic-coded stream is corrupt")
            hit = np.abs(x) == ESC
            if hit.any():
                k = bits.get(4)
                x[hit] += np.sign(x[hit]) * bits.get_eg(int(hit.sum()), k)
            if d == 1:
                x = np.where(ps.pred < 0, -x, x)
        for val, st, (lo, hi) in zip(values, states, spans):
            if hi == lo:
                continue
            u, v = _diagonal(st.b, d)
            part = x[lo:hi].reshape(*st.dc.shape, len(u))
            dc = _dc_rebuild(part[:, :, 0]) if d == 0 else None
            st.record(d, part, dc)
            val[:, :, u, v] = part if dc is None else dc[:, :, None]
    if rd.pos != len(rd.data):
        raise BitstreamError(f"{len(rd.data) - rd.pos} bytes of trailing garbage in entropy-coded data")
    bits.finish()
    return [v.reshape(v.shape[0], v.shape[1], -1) for v in values]
