"""A SCIC stream as a tagged standard JPEG: optimal Huffman tables as libjpeg makes them, the tag's
header, and the lossless round trip JPEG -> .vcn -> JPEG."""

import io

import numpy as np
import pytest
import torch
from conftest import natural_crop
from PIL import Image

from vcnlit.codecs import Header, StandardCodec, pack, unpack
from vcnlit.codecs.jpeg_huffman import codes, optimal_table
from vcnlit.codecs.jpeg_tag import IDENTIFIER, to_jpeg, to_vcn, untag
from vcnlit.codecs.jpeg_transcode import coefficients, rebuild
from vcnlit.errors import BitstreamError


def _pixels(stream: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(stream)) as im:
        return np.asarray(im)


def _signal(rgb: bool, size: tuple[int, int]) -> torch.Tensor:
    a = torch.from_numpy(natural_crop("astronaut", size, rgb=rgb)).float() / 255
    return a.permute(2, 0, 1) if rgb else a[None]


@pytest.mark.parametrize("rgb,subsampling,size", [(False, 2, (37, 51)), (True, 0, (37, 51)), (True, 2, (48, 64))])
def test_optimal_tables_are_libjpegs(rgb, subsampling, size):
    """rebuild(optimize=True) of a stream libjpeg wrote with optimize=True gives back its very bytes (where
    libjpeg has no padding blocks below the image, whose DC it chooses otherwise)."""
    for quality in (5, 20, 70):
        codec = StandardCodec("jpeg", quality, subsampling=subsampling, tables="psnr")
        stream = codec.encode(_signal(rgb, size), quality)
        layout, h, w, planes = coefficients(stream)
        assert rebuild(layout, h, w, quality, planes, "psnr", optimize=True) == stream


def test_optimal_table_limits_code_lengths():
    """Counts that would give codes of up to 40 bits (Fibonacci): all codes at most 16 bits, a prefix code
    that leaves the all-ones code point free."""
    freq = np.zeros(256, np.int64)
    fib = [1, 1]
    while len(fib) < 40:
        fib.append(fib[-1] + fib[-2])
    freq[:40] = fib
    body = optimal_table(0x10, freq)
    counts = np.array(list(body[1:17]))
    assert counts.sum() == 40 and body[0] == 0x10
    _, length = codes(body)
    assert length[:40].max() <= 16 and (2.0 ** -length[:40]).sum() < 1
    assert length[0] >= length[39]  # rarer symbols get codes at least as long


@pytest.mark.parametrize("rgb", [False, True])
@pytest.mark.parametrize("deadzone", [None, 0.3])
def test_jpeg_and_vcn_convert_losslessly(rgb, deadzone):
    codec = StandardCodec("jpeg", 30, tables="psnr", deadzone=deadzone)
    payload = codec.encode(_signal(rgb, (45, 61)), 30)
    header = Header("scic", "jpeg", 3 if rgb else 1, 90, 122, 30.0, {"tables": "psnr"}, bytes(range(8)))
    vcn = pack(header, payload)
    jpeg = to_jpeg(vcn)
    tag_at = jpeg.index(IDENTIFIER)
    assert jpeg[tag_at - 4 : tag_at - 2] == b"\xff\xef"
    got, stream = untag(jpeg)
    assert got == header and np.array_equal(_pixels(stream), _pixels(payload))
    assert np.array_equal(_pixels(jpeg), _pixels(payload))  # a viewer shows the coded image
    again = to_vcn(jpeg)
    assert len(again) < len(jpeg) and unpack(again)[0] == header and to_jpeg(again) == jpeg


def test_bad_tags_are_one_line_errors():
    codec = StandardCodec("jpeg", 30)
    header = Header("scic", "jpeg", 1, 10, 10, 30.0, {}, bytes(8))
    jpeg = to_jpeg(pack(header, codec.encode(_signal(False, (5, 5)), 30)))
    at = jpeg.index(IDENTIFIER) + len(IDENTIFIER)
    newer = jpeg[:at] + b"\x09" + jpeg[at + 1 :]
    cases = {"newer": (newer, "version 9"), "png": (b"\x89PNG\r\n" + bytes(20), "not a JPEG"),
             "truncated tag": (jpeg[: at + 2], "tag is truncated"),
             "dnnc": (pack(Header("dnnc", "dct", 1, 8, 8, 16.0), b"\0" * 8), "DNNC")}
    for name, (data, message) in cases.items():
        with pytest.raises(BitstreamError, match=message):
            (to_jpeg if name == "dnnc" else untag)(data)
