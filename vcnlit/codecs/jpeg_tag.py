"""A SCIC stream as a standard JPEG file: the JPEG its codec coded, plus vcnlit's tag.

A SCIC model with a JPEG codec codes the re-sampled image as a baseline JPEG. Written as a ``.jpg``
(:func:`to_jpeg`) that stream is a picture any viewer shows; one application segment, the tag,
holds what a decoder needs besides it -- what the ``.vcn`` header holds: the original size,
channels, rate, codec parameters and the model's fingerprint -- so that ``vcnlit decompress``
restores the full image with the model's decoder.

Tag layout (an APP15 segment, placed after JFIF's APP0)::

    identifier  7   b"vcnlit\\0"
    version     1   TAG_VERSION
    crc32       4   CRC32 of the file without this segment
    header          the .vcn header: a complete vcnlit container with an empty payload
                    (:func:`vcnlit.codecs.container.pack`), its own CRC included

The file is always written in one canonical form: SOI, JFIF APP0, the tag, the quantisation
tables of the header's quality and table set, the frame header, the optimal Huffman tables of the
coefficients (:func:`~vcnlit.codecs.jpeg_huffman.optimal_table`), the scan, EOI. The ``.vcn`` of
the same stream keeps its coefficients (:mod:`vcnlit.codecs.container`), so :func:`to_jpeg` of a
``.vcn`` gives back, byte for byte, the file it was packed from (:func:`to_vcn` checks that), and
both decode to the same pixels.
"""

from __future__ import annotations

import struct
import zlib

from vcnlit.codecs.container import Header, jpeg_tables, pack, unpack
from vcnlit.codecs.jpeg_stream import segment
from vcnlit.codecs.jpeg_transcode import coefficients, rebuild
from vcnlit.errors import BitstreamError

#: the tag's marker: APP15, which no common format uses
TAG_MARKER = 0xEF
IDENTIFIER = b"vcnlit\0"
TAG_VERSION = 1
#: a JPEG file's first bytes: SOI and the first marker's 0xFF
JPEG_MAGIC = b"\xff\xd8\xff"
_SOS, _EOI, _APP0 = 0xDA, 0xD9, 0xE0


class NoStandardFormError(BitstreamError):
    """A stream whose codec writes no standard JPEG (DNNC, or a SCIC codec other than JPEG)."""


def is_jpeg(data: bytes) -> bool:
    """Whether ``data`` starts like a JPEG file."""
    return data[: len(JPEG_MAGIC)] == JPEG_MAGIC


def jpeg_settings(header: Header) -> tuple[int, str]:
    """(quality, quantisation table set) of a SCIC/JPEG stream's header.

    Raises:
        NoStandardFormError: the stream was coded by another codec.
    """
    if header.mode != "scic" or header.codec != "jpeg":
        what = "a DNNC model's" if header.mode == "dnnc" else f"a {header.codec} stream's"
        raise NoStandardFormError(f"{what} coded signal is no standard JPEG; only a SCIC model with a JPEG "
                                  f"codec has a .jpg form (keep .vcn)")
    settings = jpeg_tables(header)
    if settings is None:
        raise BitstreamError(f"header is corrupt (JPEG quality {header.rate:g}, tables {header.params.get('tables')!r})")
    return settings


def to_jpeg(data: bytes) -> bytes:
    """The tagged JPEG file of a SCIC/JPEG ``.vcn`` stream (canonical form; see the module docstring).

    Raises:
        BitstreamError: ``data`` is not a valid stream, or (:class:`NoStandardFormError`) not a JPEG one.
    """
    return jpeg_file(*unpack(data))


def jpeg_file(header: Header, payload: bytes) -> bytes:
    """The tagged JPEG file of a SCIC/JPEG stream given as its header and its codec's payload (a JPEG)."""
    quality, tables = jpeg_settings(header)
    found = coefficients(payload)
    if found is None:
        raise BitstreamError("the stream's payload is not a baseline JPEG of a layout vcnlit writes")
    layout, height, width, planes = found
    stream = rebuild(layout, height, width, quality, planes, tables, optimize=True)
    return _insert(stream, header)


def _insert(stream: bytes, header: Header) -> bytes:
    """``stream`` with the tag of ``header`` after its SOI and APP0."""
    at = 2 + (2 + struct.unpack_from(">H", stream, 4)[0] if stream[3] == _APP0 else 0)
    body = IDENTIFIER + bytes([TAG_VERSION]) + struct.pack(">I", zlib.crc32(stream)) + pack(header, b"")
    return stream[:at] + segment(TAG_MARKER, body) + stream[at:]


def untag(data: bytes) -> tuple[Header, bytes]:
    """Split a tagged JPEG file into (the stream's header, the JPEG without the tag).

    Raises:
        BitstreamError: not a JPEG, no tag (one line that says so), a tag of a newer version, or a
            file changed since it was written (CRC mismatch).
    """
    if not is_jpeg(data):
        raise BitstreamError("not a JPEG file")
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] not in (_SOS, _EOI):
        end = i + 2 + struct.unpack_from(">H", data, i + 2)[0]
        body = data[i + 4 : end]
        if data[i + 1] == TAG_MARKER and body.startswith(IDENTIFIER):
            return _read(body[len(IDENTIFIER) :], data[:i] + data[end:])
        i = end
    raise BitstreamError("this JPEG has no vcnlit tag: it was not written by `vcnlit compress` (it is an "
                         "ordinary picture; there is nothing more to restore)")


def _read(tag: bytes, stream: bytes) -> tuple[Header, bytes]:
    if len(tag) < 5:
        raise BitstreamError("vcnlit tag is truncated")
    if tag[0] != TAG_VERSION:
        raise BitstreamError(f"vcnlit tag version {tag[0]} is not one this vcnlit reads ({TAG_VERSION})")
    if zlib.crc32(stream) != struct.unpack_from(">I", tag, 1)[0]:
        raise BitstreamError("file is corrupt or was changed after vcnlit wrote it (CRC mismatch)")
    header, rest = unpack(tag[5:])
    if rest:
        raise BitstreamError("vcnlit tag is corrupt (a payload in the tag)")
    jpeg_settings(header)
    return header, stream


def to_vcn(data: bytes) -> bytes:
    """The ``.vcn`` stream of a tagged JPEG file: the same coefficients, losslessly recompressed.

    Raises:
        BitstreamError: no tag, a corrupt file, or a file not in the canonical form :func:`to_jpeg`
            writes (re-saved or edited by another program), which the ``.vcn`` could not give back
            byte for byte.
    """
    header, stream = untag(data)
    packed = pack(header, stream)
    if to_jpeg(packed) != data:
        raise BitstreamError("this JPEG is not in the form `vcnlit compress` writes (re-saved or edited since?): "
                             "its .vcn would not give back the same bytes")
    return packed
