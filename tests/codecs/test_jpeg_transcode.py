"""JPEG recompression: the context-coded coefficients rebuild a JPEG that decodes to the same pixels."""

import io

import numpy as np
import pytest
import torch
from conftest import natural_crop
from PIL import Image

from vcnlit.codecs import StandardCodec
from vcnlit.codecs.jpeg_stream import compact
from vcnlit.codecs.jpeg_transcode import plane_shapes, rebuild, transcode, untranscode
from vcnlit.errors import BitstreamError


def _jpeg(a: np.ndarray, quality: int, subsampling: int = 2) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality, optimize=True, subsampling=subsampling)
    return buf.getvalue()


def _pixels(stream: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(stream)) as im:
        return np.asarray(im)


@pytest.mark.parametrize("rgb", [False, True])
def test_same_pixels_fewer_bytes(rgb):
    photo = natural_crop("astronaut", (120, 152), rgb=rgb)
    for size in ((1, 1), (9, 17), (120, 152), (33, 8)):
        a = np.ascontiguousarray(photo[: size[0], : size[1]])
        for quality in (1, 5, 20, 70, 95):
            for subsampling in (0, 1, 2):
                stream = _jpeg(a, quality, subsampling)
                small = transcode(stream, quality)
                assert small is not None
                assert np.array_equal(_pixels(untranscode(small, quality)), _pixels(stream))
    stream = _jpeg(photo, 20)
    assert len(transcode(stream, 20)) < 0.9 * len(compact(stream, 20))  # the photo: >10 % fewer bytes


@pytest.mark.parametrize("rgb", [False, True])
def test_psnr_tables_same_pixels(rgb):
    photo = torch.from_numpy(natural_crop("astronaut", (40, 56), rgb=rgb)).float() / 255.0
    photo = photo.permute(2, 0, 1) if rgb else photo[None]
    for quality in (1, 20, 95):
        stream = StandardCodec("jpeg", tables="psnr").encode(photo, quality)
        small = transcode(stream, quality, "psnr")
        assert small is not None and (quality == 1 or transcode(stream, quality) is None)  # 1: both all 255
        assert np.array_equal(_pixels(untranscode(small, quality, qtables="psnr")), _pixels(stream))


def test_rebuilt_stream_is_a_standard_jpeg():
    a = natural_crop("camera", (40, 56), rgb=True)
    stream = _jpeg(a, 30)
    back = untranscode(transcode(stream, 30), 30)
    with Image.open(io.BytesIO(back)) as im:
        assert im.format == "JPEG" and im.size == (56, 40) and im.mode == "RGB"
    assert plane_shapes(6, 40, 56) == [(5, 7), (3, 4), (3, 4)]


def test_bad_input():
    assert transcode(b"", 20) is None and transcode(b"\xff\xd8junk\xff\xd9", 20) is None
    good = transcode(_jpeg(natural_crop("camera", (16, 16)), 20), 20)
    for bad in (b"", b"\x09", good[:2], bytes([3, 200, 200])):
        with pytest.raises(BitstreamError):
            untranscode(bad, 20)
    with pytest.raises(BitstreamError, match="size"):
        untranscode(good, 20, max_size=(8, 8))
    with pytest.raises(BitstreamError, match="range"):
        rebuild(1, 8, 8, 20, [np.full((1, 1, 64), 5000, np.int32)])
