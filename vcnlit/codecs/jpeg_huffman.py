"""Huffman tables of baseline JPEG: each symbol's code, and the optimal table of a scan (ITU-T T.81 K.2).

A table is held as the body of its DHT entry: class/id u8, 16 code-length counts, the symbols in
code order. :func:`optimal_table` is the procedure of T.81 Annex K.2 (libjpeg's
``jpeg_gen_optimal_table``, what ``optimize=True`` runs): code lengths from the symbol counts, no
code longer than 16 bits, none of all ones. It is deterministic, so a stream written with it is the
same bytes wherever it is written.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: longest code a JPEG Huffman table holds
MAX_CODE_LENGTH = 16


@lru_cache(maxsize=16)
def codes(body: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Code value and length of each symbol (0-255) of one table (canonical codes, T.81 Annex C)."""
    counts, symbols = body[1:17], body[17:]
    code_of, len_of = np.zeros(256, np.int64), np.zeros(256, np.int64)
    code, k = 0, 0
    for length, n in enumerate(counts, 1):
        for _ in range(n):
            code_of[symbols[k]], len_of[symbols[k]] = code, length
            code, k = code + 1, k + 1
        code <<= 1
    return code_of, len_of


def optimal_table(table_id: int, frequencies: np.ndarray) -> bytes:
    """The DHT body of the shortest code for symbols (0-255) counted ``frequencies`` times, T.81 K.2.

    Args:
        table_id: the class/id byte (``0x00`` DC luma, ``0x10`` AC luma, ``0x01``, ``0x11`` chroma).
        frequencies: 256 counts; at least one is nonzero.
    """
    freq = [int(f) for f in frequencies] + [1]  # symbol 256 reserves the all-ones code point
    size, others = [0] * 257, [-1] * 257
    while True:
        c1 = c2 = -1
        v1 = v2 = None
        for i, f in enumerate(freq):  # the two least counts; among equals the highest symbol (as libjpeg)
            if not f:
                continue
            if v1 is None or f <= v1:
                c2, v2, c1, v1 = c1, v1, i, f
            elif v2 is None or f <= v2:
                c2, v2 = i, f
        if c2 < 0:
            break
        freq[c1] += freq[c2]
        freq[c2] = 0
        for c in (c1, c2):
            size[c] += 1
            while others[c] >= 0:
                c = others[c]
                size[c] += 1
        while others[c1] >= 0:
            c1 = others[c1]
        others[c1] = c2
    bits = [0] * (max(size) + 1)
    for s in size:
        if s:
            bits[s] += 1
    for i in range(len(bits) - 1, MAX_CODE_LENGTH, -1):  # move codes longer than 16 bits up the tree
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
    bits += [0] * (MAX_CODE_LENGTH + 1 - len(bits))
    i = MAX_CODE_LENGTH
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1  # drop the reserved code point (one of the longest codes)
    symbols = sorted((s for s in range(256) if size[s]), key=lambda s: (size[s], s))
    return bytes([table_id, *bits[1 : MAX_CODE_LENGTH + 1], *symbols])
