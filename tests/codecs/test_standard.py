import io

import pytest
import torch
from conftest import natural_crop
from PIL import Image

from vcnlit.codecs import StandardCodec
from vcnlit.eval.metrics import bpp
from vcnlit.pixels import from_uint8, to_uint8


@pytest.mark.parametrize("fmt,q", [("jpeg", 25), ("jpeg2000", 30), ("webp", 60), ("avif", 60)])
@pytest.mark.parametrize("channels", [1, 3])
def test_byte_count_is_the_file_size(fmt, q, channels, tmp_path):
    x = from_uint8(natural_crop("astronaut", (40, 56), rgb=channels == 3)).unsqueeze(0)
    codec = StandardCodec(fmt, q)
    res = codec.round_trip(x)
    payload = codec.encode(x[0])
    f = tmp_path / f"img.{fmt}"
    f.write_bytes(payload)
    assert res.nbytes == [f.stat().st_size]
    assert res.decoded.shape == x.shape
    with Image.open(f) as im:  # a real, standard bitstream that Pillow opens by itself
        assert im.size == (56, 40)


def test_jpeg_decodes_like_pillow():
    a = natural_crop("camera", (32, 48))
    codec = StandardCodec("jpeg", 30, optimize=False)
    dec = codec.round_trip(from_uint8(a).unsqueeze(0)).decoded[0]
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=30, optimize=False)
    ref = from_uint8(__import__("numpy").asarray(Image.open(buf)))
    assert torch.equal(dec, ref)


def test_rates_per_image_and_more_quality_more_bytes():
    x = from_uint8(natural_crop("camera", (48, 48))).unsqueeze(0).repeat(2, 1, 1, 1)
    res = StandardCodec("jpeg", 50).round_trip(x, [10, 90])
    assert res.nbytes[0] < res.nbytes[1]


def test_bpp_counts_original_pixels():
    assert bpp(100, 10, 20) == pytest.approx(100 * 8 / 200)
    with pytest.raises(ValueError):
        bpp(1, 0, 5)


def test_uint8_roundtrip_is_exact():
    a = natural_crop("astronaut", (8, 9), rgb=True)
    assert (to_uint8(from_uint8(a)) == a).all()


def test_bad_settings_are_clear():
    with pytest.raises(ValueError, match=r"codec.format=.*choose one of"):
        StandardCodec("bpg")
    with pytest.raises(ValueError, match=r"codec.tables=.*choose one of"):
        StandardCodec("jpeg", tables="fancy")
    with pytest.raises(ValueError, match=r"codec.tables=psnr is a JPEG setting"):
        StandardCodec("webp", tables="psnr")
    with pytest.raises(ValueError, match=r"quality must be in \[1, 95\]"):
        StandardCodec("jpeg", 20).encode(torch.rand(1, 8, 8), 200)


@pytest.mark.parametrize("q", [90, 95])
def test_optimised_jpeg_of_a_noisy_444_image_is_written(q, monkeypatch):
    """Pillow sizes libjpeg's buffer at a byte (two at 95) per pixel; a noisy 4:4:4 file at high quality is
    larger and used to fail with "broken data stream"."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "MAXBLOCK", 65536)
    x = torch.rand(1, 3, 320, 320, generator=torch.Generator().manual_seed(0))
    codec = StandardCodec("jpeg", q, subsampling=0, tables="psnr")
    res = codec.round_trip(x)
    assert res.nbytes[0] > 320 * 320 * (2 if q >= 95 else 1)  # past Pillow's own guess
    assert res.decoded.shape == x.shape
