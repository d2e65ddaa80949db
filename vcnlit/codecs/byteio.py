"""Byte-level reading and writing shared by the bitstream formats: varints and bounded readers.

Every read is bounds-checked and raises :class:`BitstreamError` (one line) on malformed input.
"""

from __future__ import annotations

import zlib

import numpy as np

from vcnlit.errors import BitstreamError


def put_varint(out: bytearray, v: int) -> None:
    if v < 0:
        raise ValueError("varint must be >= 0")
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def unzigzag(z: int) -> int:
    return z >> 1 if not z & 1 else -((z + 1) >> 1)


class ByteReader:
    """Reads bytes with bounds checks.

    Args:
        data: the bytes.
        what: names the data in error messages (``"<what> is truncated"``).
        overrun: the message for a read past the end instead, where the length is known to be
            right (a checksummed header whose fields claim more than it holds).
    """

    def __init__(self, data: bytes, what: str, overrun: str | None = None) -> None:
        self.data, self.pos, self.what = data, 0, what
        self.overrun = overrun or f"{what} is truncated"

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise BitstreamError(self.overrun)
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


class InflateReader(ByteReader):
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


_POW2 = np.int64(1) << np.arange(63, dtype=np.int64)


def bit_length(x: np.ndarray) -> np.ndarray:
    """Exact ``int.bit_length`` of non-negative int64 values, vectorised."""
    return np.searchsorted(_POW2, np.asarray(x, dtype=np.int64), side="right")


class BitWriter:
    """Collects MSB-first bit fields and Exp-Golomb codes; :meth:`getvalue` packs them (zero-padded)."""

    def __init__(self) -> None:
        self._values: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []

    def put(self, values, lengths) -> None:
        """Write each value in its number of bits (< 64), MSB first."""
        v = np.atleast_1d(np.asarray(values, dtype=np.int64))
        n = np.broadcast_to(np.asarray(lengths, dtype=np.int64), v.shape)
        if v.size and (v.min() < 0 or np.any(v >> n)):
            raise ValueError("bit field value out of range")
        self._values.append(v)
        self._lengths.append(n)

    def put_eg(self, values, k: int = 0) -> None:
        """Exp-Golomb codes of order ``k`` of non-negative values (< 2**31)."""
        x = np.atleast_1d(np.asarray(values, dtype=np.int64)) + (1 << k)
        self.put(x, 2 * bit_length(x) - k - 1)

    def put_se(self, values) -> None:
        """Order-0 Exp-Golomb codes of signed values (zigzag mapped)."""
        v = np.atleast_1d(np.asarray(values, dtype=np.int64))
        self.put_eg(np.where(v >= 0, 2 * v, -2 * v - 1))

    def nbits(self) -> int:
        return int(sum(int(n.sum()) for n in self._lengths))

    def getvalue(self) -> bytes:
        if not self._values:
            return b""
        v, n = np.concatenate(self._values), np.concatenate(self._lengths)
        ends = np.cumsum(n)
        owner = np.repeat(np.arange(len(v)), n)
        shift = ends[owner] - 1 - np.arange(int(ends[-1]) if len(ends) else 0)
        return np.packbits(((v[owner] >> shift) & 1).astype(np.uint8)).tobytes()


class BitReader:
    """Reads what :class:`BitWriter` wrote; every read past the end raises :class:`BitstreamError`."""

    def __init__(self, data: bytes, what: str = "side info") -> None:
        self.bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        self.pos, self.what = 0, what
        self._next1: list[int] | None = None

    def _need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.bits):
            raise BitstreamError(f"{self.what} is truncated")

    def get(self, n: int) -> int:
        self._need(n)
        v = 0
        for b in self.bits[self.pos : self.pos + n].tolist():
            v = (v << 1) | b
        self.pos += n
        return v

    def _starts(self, count: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and length of the value field of ``count`` consecutive Exp-Golomb codes."""
        if self._next1 is None:
            # position of the next 1 bit at or after each position (len(bits) if none)
            idx = np.where(self.bits == 1, np.arange(len(self.bits)), len(self.bits))
            self._next1 = [*np.minimum.accumulate(idx[::-1])[::-1].tolist(), len(self.bits)]
        self._need(count * (k + 1))
        nxt, pos, end = self._next1, self.pos, len(self.bits)
        starts, lens = [], []
        for _ in range(count):
            z = nxt[pos] - pos
            if z > 31 or pos + 2 * z + k + 1 > end:
                raise BitstreamError(f"{self.what} is corrupt (bad Exp-Golomb code)")
            starts.append(pos + z)
            lens.append(z + k + 1)
            pos += 2 * z + k + 1
        self.pos = pos
        return np.asarray(starts, dtype=np.int64), np.asarray(lens, dtype=np.int64)

    def get_eg(self, count: int, k: int = 0) -> np.ndarray:
        """``count`` Exp-Golomb codes of order ``k`` (int64 array)."""
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        starts, lens = self._starts(count, k)
        ends = np.cumsum(lens)
        owner = np.repeat(np.arange(count), lens)
        offset = np.arange(int(ends[-1])) - (ends - lens)[owner]
        bits = self.bits[starts[owner] + offset].astype(np.int64) << (lens[owner] - 1 - offset)
        return np.add.reduceat(bits, ends - lens) - (1 << k)

    def finish(self) -> None:
        """Check that only the zero padding of the last byte is left."""
        if len(self.bits) - self.pos >= 8 or self.bits[self.pos :].any():
            raise BitstreamError(f"{self.what} has trailing data")

    def get_se(self, count: int = 1) -> np.ndarray:
        z = self.get_eg(count)
        return np.where(z & 1, -((z + 1) >> 1), z >> 1)
