"""Compact JPEG streams: every byte left out comes back, for every quality and layout libjpeg writes."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vcnlit.codecs import StandardCodec
from vcnlit.codecs.jpeg_stream import compact, expand
from vcnlit.errors import BitstreamError


def _jpeg(a: np.ndarray, quality: int, optimize: bool, subsampling: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality, optimize=optimize, subsampling=subsampling)
    return buf.getvalue()


@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_is_exact(channels):
    rng = np.random.default_rng(0)
    for size in ((1, 1), (7, 13), (40, 24)):
        a = rng.integers(0, 256, (*size, 3) if channels == 3 else size, dtype=np.uint8)
        for quality in (*range(1, 101, 7), 100):
            for optimize in (True, False):
                for subsampling in (0, 1, 2):
                    stream = _jpeg(a, quality, optimize, subsampling)
                    small = compact(stream, quality)
                    assert small is not None and expand(small, quality) == stream
                    assert len(stream) - len(small) >= 110


@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_with_psnr_tables(channels):
    rng = np.random.default_rng(1)
    img = torch.from_numpy(rng.random((channels, 24, 40), dtype=np.float32))
    for quality in (1, 5, 20, 70, 95):
        for subsampling in (0, 2):
            stream = StandardCodec("jpeg", tables="psnr", subsampling=subsampling).encode(img, quality)
            small = compact(stream, quality, "psnr")
            assert small is not None and expand(small, quality, qtables="psnr") == stream
            assert quality == 1 or compact(stream, quality) is None  # not the standard's tables (at 1 both are all 255)


def test_other_streams_are_not_compacted():
    stream = _jpeg(np.zeros((16, 16), np.uint8), 50, True, 2)
    assert compact(stream, 51) is None  # the quantisation tables are not quality 51's
    assert compact(b"", 50) is None and compact(b"abc", 50) is None
    assert compact(stream[:-2], 50) is None
    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(buf, "JPEG", quality=50, progressive=True)
    assert compact(buf.getvalue(), 50) is None


def test_malformed_compact_streams_raise():
    small = compact(_jpeg(np.zeros((16, 16, 3), np.uint8), 50, True, 2), 50)
    for bad in (b"", b"\x09", small[:3], small[:9], b"\x01\x00\x01\x01", bytes([1, 8, 8, 1, 0]) + b"\xff" * 16):
        with pytest.raises(BitstreamError):
            expand(bad, 50)
    with pytest.raises(BitstreamError, match="quality"):
        expand(small, 0)
