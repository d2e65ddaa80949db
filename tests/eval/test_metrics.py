import math

import numpy as np
import pytest
import torch
from conftest import natural_crop
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from vcnlit.codecs import StandardCodec
from vcnlit.eval.metrics import distortion, ms_ssim_per_image, psnr, quantize8, ssim_per_image
from vcnlit.pixels import from_uint8


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


def _noisy(a, amplitude, seed):
    noise = np.random.default_rng(seed).integers(-amplitude, amplitude, a.shape)
    return np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)


def test_psnr_matches_numpy():
    a = natural_crop("camera", (64, 64))
    b = _noisy(a, 20, 0)
    ref = 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2))
    # float32 arithmetic: measured 8.9e-7 dB from the float64 value
    assert psnr(from_uint8(b)[None], from_uint8(a)[None]).item() == pytest.approx(ref, abs=1e-5)


def test_ssim_matches_skimage():
    """Same conventions (Gaussian window 11, sigma 1.5, population covariance, valid region), so only
    float32 rounding separates them: measured 2.1e-6 here (up to 8e-6 on other crops)."""
    a = natural_crop("camera", (64, 64))
    b = _noisy(a, 20, 0)
    ours = ssim_per_image(from_uint8(b)[None], from_uint8(a)[None]).item()
    ref = structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert ours == pytest.approx(ref, abs=2e-5)


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
    xa, xb = from_uint8(a)[None], from_uint8(_noisy(a, 25, 1))[None]
    ours = ms_ssim_per_image(xb, xa).item()
    ref = tm_ms_ssim(xb.double() * 255, xa.double() * 255, data_range=255.0, kernel_size=11, sigma=1.5).item()
    assert 0.5 < ours < 1.0
    # torchmetrics averages the last scale's SSIM over its reflection-padded border too (pytorch_msssim,
    # which vcnlit uses, over the valid region only): measured 1.49e-4 apart on this crop
    assert ours == pytest.approx(ref, abs=2e-4)


def ms_ssim_reference(a, b):
    """MS-SSIM (Wang, Simoncelli and Bovik 2003) of two uint8 images in float64: contrast-structure at
    scales 1-4 and SSIM at scale 5, each averaged over the valid region of an 11-tap Gaussian window
    (sigma 1.5), 2x2 average pooling between scales."""
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(t):
        return gaussian_filter(t, 1.5, truncate=3.5)[5:-5, 5:-5]  # 11 taps; keep the valid region

    def pool(t):
        return t.reshape(t.shape[0] // 2, 2, t.shape[1] // 2, 2).mean((1, 3))

    a, b = a.astype(np.float64), b.astype(np.float64)
    terms = []
    for level in range(len(weights)):
        if level:
            a, b = pool(a), pool(b)
        ma, mb = blur(a), blur(b)
        cs = (2 * (blur(a * b) - ma * mb) + c2) / (blur(a * a) - ma**2 + blur(b * b) - mb**2 + c2)
        terms.append(cs.mean())
    terms[-1] = (cs * (2 * ma * mb + c1) / (ma**2 + mb**2 + c1)).mean()  # SSIM at the coarsest scale
    return float(np.prod(np.array(terms) ** np.array(weights)))


def test_ms_ssim_matches_the_formula():
    """Against the formula with the same conventions, on a crop whose sides halve evenly four times:
    measured 7.2e-7 apart (float32)."""
    a = natural_crop("camera", (192, 208))
    b = _noisy(a, 25, 1)
    ours = ms_ssim_per_image(from_uint8(b)[None], from_uint8(a)[None]).item()
    assert ours == pytest.approx(ms_ssim_reference(a, b), abs=1e-5)


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
