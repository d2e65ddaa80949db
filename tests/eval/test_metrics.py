import math

import numpy as np
import pytest
import torch
from conftest import natural_crop
from skimage.metrics import structural_similarity

from vcnlit.codecs import StandardCodec
from vcnlit.codecs.standard import from_uint8
from vcnlit.eval.metrics import distortion, ms_ssim_per_image, psnr, quantize8, ssim_per_image


def test_psnr_by_hand():
    x = torch.zeros(1, 1, 2, 2)
    y = x.clone()
    y[0, 0, 0, 0] = 10 / 255  # one pixel off by 10 levels: MSE = 100/4 (in 8-bit units)
    expected = 10 * math.log10(255**2 / 25)
    assert psnr(y, x).item() == pytest.approx(expected, abs=1e-4)


def test_psnr_rounds_to_8_bit():
    x = torch.full((1, 1, 4, 4), 0.5)
    assert psnr(x + 0.0001, x).item() == 100.0  # same 8-bit image
    assert torch.equal(quantize8(x), quantize8(x + 0.0001))


def test_ssim_matches_skimage():
    a = natural_crop("camera", (64, 64))
    b = np.clip(a.astype(int) + np.random.default_rng(0).integers(-20, 20, a.shape), 0, 255).astype(np.uint8)
    ours = ssim_per_image(from_uint8(b)[None], from_uint8(a)[None]).item()
    ref = structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert ours == pytest.approx(ref, abs=2e-3)


def test_ms_ssim_needs_big_images():
    x = torch.rand(1, 1, 64, 64)
    assert math.isnan(ms_ssim_per_image(x, x).item())
    big = from_uint8(natural_crop("camera", (200, 200)))[None]
    assert ms_ssim_per_image(big, big).item() == pytest.approx(1.0, abs=1e-5)


def test_ms_ssim_matches_torchmetrics():
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure as tm_ms_ssim,
    )

    a = natural_crop("camera", (192, 200))
    b = np.clip(a.astype(int) + np.random.default_rng(1).integers(-25, 25, a.shape), 0, 255).astype(np.uint8)
    xa, xb = from_uint8(a)[None], from_uint8(b)[None]
    ours = ms_ssim_per_image(xb, xa).item()
    ref = tm_ms_ssim(xb * 255, xa * 255, data_range=255.0, kernel_size=11, sigma=1.5).item()
    assert 0.5 < ours < 1.0
    assert ours == pytest.approx(ref, abs=5e-3)


def test_distortion_is_the_three_metrics_measured_once_per_pixels():
    x = from_uint8(natural_crop("camera", (176, 184)))[None]
    plain = StandardCodec("jpeg", 30, optimize=False).round_trip(x)
    huffman = StandardCodec("jpeg", 30, optimize=True).round_trip(x)
    # Huffman optimisation changes the bytes, not the pixels: one measurement serves both
    assert plain.nbytes[0] != huffman.nbytes[0] and torch.equal(plain.decoded, huffman.decoded)
    d = distortion(plain.decoded, x)
    assert d == (float(psnr(plain.decoded, x)[0]), float(ssim_per_image(plain.decoded, x)[0]),
                 float(ms_ssim_per_image(plain.decoded, x)[0]))
    assert distortion(huffman.decoded, x) == d and not math.isnan(d[2])
    other = StandardCodec("jpeg", 60, optimize=False).round_trip(x).decoded
    assert distortion(other, x)[0] > d[0]
