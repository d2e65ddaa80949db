"""The header of a standard image file: the bytes before its coded payload.

JPEG: SOI up to the end of the first SOS segment. JPEG 2000 (JP2 boxes or a bare codestream): up to
the first SOD marker. WebP: the RIFF header and chunks up to the ``VP8 ``/``VP8L`` chunk's data.
AVIF: the ISOBMFF boxes before the data of the ``mdat`` box.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator


def _boxes(data: bytes, start: int = 0) -> Iterator[tuple[bytes, int, int]]:
    """``(type, offset of the box's data, offset of its end)`` of the ISOBMFF / JP2 boxes from ``start``."""
    i = start
    while i + 8 <= len(data):
        size, kind, head = int.from_bytes(data[i:i + 4], "big"), data[i + 4:i + 8], 8
        if size == 1:  # 64-bit size
            size, head = int.from_bytes(data[i + 8:i + 16], "big"), 16
        end = len(data) if size == 0 else i + size
        if end < i + head or end > len(data):
            raise ValueError(f"corrupt box {kind!r} at byte {i}")
        yield kind, i + head, end
        i = end


def _jpeg(data: bytes) -> int:
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file (no SOI)")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError(f"no JPEG marker at byte {i}")
        if data[i + 1] == 0xFF:  # fill byte
            i += 1
            continue
        marker, i = data[i + 1], i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:  # SOS: the entropy-coded data follows
            return i
    raise ValueError("JPEG file without a scan (no SOS)")


def _codestream(data: bytes, start: int) -> int:
    """The end of a JPEG 2000 codestream's headers (main and first tile-part header) at ``start``."""
    if data[start:start + 2] != b"\xff\x4f":
        raise ValueError("not a JPEG 2000 codestream (no SOC)")
    i = start + 2
    while i + 2 <= len(data):
        if data[i] != 0xFF:
            raise ValueError(f"no JPEG 2000 marker at byte {i}")
        if data[i + 1] == 0x93:  # SOD: the packets follow
            return i + 2
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    raise ValueError("JPEG 2000 codestream without a tile (no SOD)")


def _jpeg2000(data: bytes) -> int:
    if data[:2] == b"\xff\x4f":
        return _codestream(data, 0)
    start = next((b for kind, b, _ in _boxes(data) if kind == b"jp2c"), None)
    if start is None:
        raise ValueError("JP2 file without a codestream box (jp2c)")
    return _codestream(data, start)


def _webp(data: bytes) -> int:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP file")
    i = 12
    while i + 8 <= len(data):
        kind, size = data[i:i + 4], int.from_bytes(data[i + 4:i + 8], "little")
        if kind in (b"VP8 ", b"VP8L"):
            return i + 8
        i += 8 + size + size % 2
    raise ValueError("WebP file without an image chunk (VP8 / VP8L)")


def _avif(data: bytes) -> int:
    start = next((b for kind, b, _ in _boxes(data) if kind == b"mdat"), None)
    if start is None:
        raise ValueError("AVIF file without a media data box (mdat)")
    return start


_PARSERS: dict[str, Callable[[bytes], int]] = {"jpeg": _jpeg, "jpeg2000": _jpeg2000, "webp": _webp, "avif": _avif}
#: the formats whose headers :func:`header_bytes` measures (not JPEG XL: its codestream header is bit-packed)
HEADER_FORMATS = frozenset(_PARSERS)


def header_bytes(fmt: str, data: bytes) -> int:
    """Bytes of the file ``data`` (format ``jpeg``, ``jpeg2000``, ``webp`` or ``avif``) before its coded payload.

    Raises:
        ValueError: another format, or a file that is not one of ``fmt``.
    """
    if fmt not in _PARSERS:
        raise ValueError(f"no header parser for {fmt!r}; known: {', '.join(_PARSERS)}")
    return _PARSERS[fmt](data)
