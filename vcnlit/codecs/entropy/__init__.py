"""Lossless arithmetic coding of integer symbols with torchac: per-band histogram models (this doc).

DNNC's default model is the context-adaptive one of :mod:`vcnlit.codecs.entropy.context`
(:func:`encode_planes` / :func:`decode_planes`), over the parametric distributions of
:mod:`vcnlit.codecs.entropy.shapes`; the per-band model below is the first DNNC format
(``codec.entropy: band``).

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

from vcnlit.codecs.entropy.coder import (
    Sizes,
    decode_symbols,
    encode_symbols,
    entropy_bits,
    ideal_bits,
    split_sizes,
)
from vcnlit.codecs.entropy.context import decode_planes, encode_planes
from vcnlit.codecs.entropy.model import BUDGET, KMAX, MASS, MAX_SYMBOLS, PRECISION

__all__ = [
    "BUDGET",
    "KMAX",
    "MASS",
    "MAX_SYMBOLS",
    "PRECISION",
    "Sizes",
    "decode_planes",
    "decode_symbols",
    "encode_planes",
    "encode_symbols",
    "entropy_bits",
    "ideal_bits",
    "split_sizes",
]
