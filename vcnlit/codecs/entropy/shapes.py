"""The parametric distributions of the context model: a fixed table of integer frequency rows.

A *shape* is a distribution over the signed tokens ``-ESC..ESC`` of one coefficient
(``+-ESC`` meaning "magnitude ESC or more", the rest sent apart): ``P(0) = p0``, magnitudes
``k >= 1`` geometric with ratio ``theta`` (``P(|v| = k) ~ theta**(k-1)``, the last bin holding
the whole tail), and the sign of a non-zero value positive with probability ``bias``. ``p0`` and
``theta`` run over fixed logit grids, ``bias`` over ``BIASES``; every row is computed with
integer arithmetic only (fixed-point odds from integer constants, products shifted down,
:func:`normalise`), so encoder and decoder derive the very same frequencies on any machine.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from vcnlit.codecs.entropy.model import MASS, PRECISION

#: tokens -ESC..ESC; |value| >= ESC is coded as +-ESC plus a remainder
ESC = 16
#: alphabet of a token and the CDF row width torchac gets (K + 2, see the package doc)
K = 2 * ESC + 1
LP = K + 2
#: p0 = odds / (1 + odds) with log2(odds) = (i - P0_ZERO) / 4, i = 0 .. N_P0 - 1
N_P0, P0_ZERO = 73, 28
#: theta likewise with log2(odds) = (j - TH_ZERO) / 2, j = 0 .. N_TH - 1
N_TH, TH_ZERO = 20, 8
#: probability of a positive sign, in eighths (1/2 for unpredicted signs)
BIASES = (4, 5, 6, 7)
_ONE = 1 << 30
#: 2**(k/4) in 16-bit fixed point (integer constants: no float in the tables)
_QUARTER = (65536, 77936, 92682, 110218)


def _odds(x4: np.ndarray) -> np.ndarray:
    """2**(x4 / 4) in 16-bit fixed point, for integer x4 (floor of the shifted constant)."""
    whole, frac = np.divmod(x4, 4)
    base = np.asarray(_QUARTER, dtype=np.int64)[frac]
    return np.where(whole >= 0, base << np.maximum(whole, 0), base >> np.maximum(-whole, 0))


def _prob(x4: np.ndarray) -> np.ndarray:
    """odds / (1 + odds) in 30-bit fixed point."""
    r = _odds(x4)
    return (r << 30) // (r + (1 << 16))


def normalise(weights: np.ndarray) -> np.ndarray:
    """Rows of non-negative integer weights -> integer frequencies >= 1 summing to MASS per row.

    Deterministic: each row gets ``1 + w * (MASS - K) // sum(w)`` and the leftover units go to
    the largest remainders, ties to the lower index.
    """
    w = np.asarray(weights, dtype=np.int64)
    k = w.shape[-1]
    s = np.maximum(w.sum(-1, keepdims=True), 1)
    scaled = w * (MASS - k)
    f = 1 + scaled // s
    rem = MASS - f.sum(-1)
    order = np.argsort(-(scaled % s), axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(k)[None].repeat(len(w), 0), axis=-1)
    return f + (rank < rem[:, None])


@cache
def freq_table() -> np.ndarray:
    """Integer frequencies of every shape: (len(BIASES), N_P0, N_TH, K), each row summing to MASS."""
    p0 = _prob(np.arange(N_P0, dtype=np.int64) - P0_ZERO)[:, None]  # (N_P0, 1)
    th = _prob(2 * (np.arange(N_TH, dtype=np.int64) - TH_ZERO))[None, :]  # (1, N_TH)
    mags = [np.broadcast_to(p0, (N_P0, N_TH))]
    tail = _ONE - p0 + 0 * th  # mass of |v| >= k, from k = 1
    for _ in range(1, ESC):
        mags.append((tail * (_ONE - th)) >> 30)
        tail = (tail * th) >> 30
    mags.append(tail)  # the escape bin: |v| >= ESC
    m = np.stack(mags, -1).reshape(-1, ESC + 1)  # (N_P0 * N_TH, ESC + 1)
    rows = []
    for b in BIASES:
        pos = (m[:, 1:] * b) >> 3
        neg = m[:, 1:] - pos
        rows.append(normalise(np.concatenate([neg[:, ::-1], m[:, :1], pos], -1)))
    return np.stack(rows).reshape(len(BIASES), N_P0, N_TH, K)


@cache
def cdf_table() -> np.ndarray:
    """CDF rows of every shape as torchac wants them: (len(BIASES), N_P0, N_TH, LP) int16 bit patterns."""
    f = freq_table()
    c = np.concatenate([np.zeros((*f.shape[:-1], 1), np.int64), np.cumsum(f, -1),
                        np.full((*f.shape[:-1], 1), MASS, np.int64)], -1)
    return c.astype(np.uint16).view(np.int16)


#: code lengths in :func:`bits_table` are integers in units of 1 / BIT_SCALE bit
BIT_SCALE = 4096


@cache
def bits_table() -> np.ndarray:
    """Code length of every token under every shape (encoder side): (len(BIASES), N_P0 * N_TH, K).

    Integers in units of ``1 / BIT_SCALE`` bit, held as float64: a histogram's cost (counts below
    2**30) sums exactly in any order, so the encoder's choices do not depend on the BLAS.
    """
    f = freq_table()
    return np.rint((PRECISION - np.log2(f)) * BIT_SCALE).reshape(len(BIASES), N_P0 * N_TH, K)
