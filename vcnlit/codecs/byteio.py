"""Byte-level reading and writing shared by the bitstream formats: varints and bounded readers.

Every read is bounds-checked and raises :class:`BitstreamError` (one line) on malformed input.
"""

from __future__ import annotations

import zlib

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
