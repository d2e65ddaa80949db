"""The differentiable bit estimate the RSN's rate term uses: right tables, tracks real bytes, has a gradient."""

import io

import pytest
import torch
from conftest import natural_crop
from PIL import Image

from vcnlit.codecs import DnncCodec, StandardCodec
from vcnlit.codecs.rate_proxy import jpeg_quant_table


@pytest.mark.parametrize("quality", [1, 5, 20, 50, 70, 95])
def test_jpeg_quant_table_is_the_one_libjpeg_writes(quality):
    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        written = list(im.quantization[0])
    assert jpeg_quant_table(quality).int().tolist() == written
    Image.new("RGB", (16, 16), (128, 60, 200)).save(buf := io.BytesIO(), "JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        assert jpeg_quant_table(quality, chroma=True).int().tolist() == list(im.quantization[1])


@pytest.mark.parametrize("channels", [1, 3])
def test_psnr_tables_are_the_ones_the_codec_writes(channels):
    img = torch.rand(channels, 16, 16)
    for quality in range(1, 96, 2):
        with Image.open(io.BytesIO(StandardCodec("jpeg", tables="psnr").encode(img, quality))) as im:
            for t, table in im.quantization.items():
                assert jpeg_quant_table(quality, chroma=t == 1, tables="psnr").int().tolist() == list(table)
    assert jpeg_quant_table(50, tables="psnr").reshape(8, 8)[[0, 7], [0, 7]].tolist() == [16, 26]  # DC .. highest


def _photo_batch():
    """A (1, 1, 96, 128) natural grayscale crop."""
    return torch.from_numpy(natural_crop("camera", (96, 128))).float()[None, None] / 255.0


@pytest.mark.parametrize("codec,rates", [(StandardCodec("jpeg", 20), [5, 10, 20, 40, 70]),
                                         (DnncCodec(24.0), [96.0, 64.0, 40.0, 24.0, 14.0])])
def test_estimate_follows_the_real_bitstream(codec, rates):
    """Ordered like the real byte counts over the rate points, within a steady factor of them."""
    y = _photo_batch()
    est = [codec.estimated_bits(y, r).item() for r in rates]
    real = [8 * len(codec.encode(y[0], r)) for r in rates]
    assert est == sorted(est) and real == sorted(real)
    ratios = [e / r for e, r in zip(est, real)]
    assert max(ratios) / min(ratios) < 2.0


def test_estimate_has_a_gradient_and_per_image_rates():
    codec = StandardCodec("jpeg", 20)
    y = _photo_batch().repeat(2, 1, 1, 1).requires_grad_(True)
    bits = codec.estimated_bits(y, [10, 70])
    assert bits.shape == (2,) and bits[1] > bits[0]
    bits.sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_codecs_without_a_dct_estimate_say_what_to_do():
    with pytest.raises(NotImplementedError, match="rate_weight=0"):
        StandardCodec("webp", 50).estimated_bits(_photo_batch(), 50)
