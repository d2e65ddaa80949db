"""Block DCT: orthonormality, exact inverse, layout of frequency bands."""

import numpy as np
import pytest
import torch
from scipy.fft import dctn

from vcnlit.codecs.dct import (
    block_dct,
    block_idct,
    dct_bands,
    dct_matrix,
    from_bands,
    idct_bands,
    to_bands,
)


@pytest.mark.parametrize("n", [1, 4, 8, 16])
def test_dct_matrix_is_orthonormal(n):
    d = dct_matrix(n)
    assert torch.allclose(d @ d.T, torch.eye(n, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("block", [4, 8, 16])
@pytest.mark.parametrize("shape", [(1, 16, 32), (3, 32, 16), (2, 3, 16, 48)])
def test_inverse_is_exact(block, shape):
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    c = block_dct(x, block)
    assert c.shape == x.shape
    assert torch.allclose(block_idct(c, block), x, atol=1e-10)
    bands = dct_bands(x, block)
    assert torch.allclose(idct_bands(bands, *shape[-2:], block=block), x, atol=1e-10)


def test_float32_round_trip():
    x = torch.rand(3, 64, 64) * 255 - 128
    assert torch.allclose(block_idct(block_dct(x)), x, atol=1e-3)


def test_matches_scipy_per_block():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 16, 24))
    c = block_dct(torch.from_numpy(x)).numpy()
    for i in range(0, 16, 8):
        for j in range(0, 24, 8):
            ref = dctn(x[:, i : i + 8, j : j + 8], type=2, norm="ortho", axes=(1, 2))
            np.testing.assert_allclose(c[:, i : i + 8, j : j + 8], ref, atol=1e-10)


def test_band_layout():
    x = torch.rand(2, 16, 24, dtype=torch.float64)
    bands = dct_bands(x)
    assert bands.shape == (2, 6, 64)
    # band 0 is DC = 8 * block mean; blocks in raster order
    means = x.reshape(2, 2, 8, 3, 8).mean(dim=(2, 4)).reshape(2, 6)
    assert torch.allclose(bands[..., 0], 8 * means, atol=1e-12)
    c = block_dct(x)
    assert torch.allclose(bands[:, 4, 8 * 2 + 5], c[:, 8 + 2, 8 + 5])  # block (1, 1), u=2, v=5
    assert torch.equal(to_bands(c), bands)
    assert torch.equal(from_bands(bands, 16, 24), c)


def test_single_block_and_batch():
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    bands = dct_bands(x)
    assert bands.shape == (4, 1, 1, 64)
    assert torch.allclose(idct_bands(bands, 8, 8), x, atol=1e-12)


def test_bad_sizes():
    with pytest.raises(ValueError, match="multiples"):
        block_dct(torch.zeros(1, 12, 16))
    with pytest.raises(ValueError):
        from_bands(torch.zeros(1, 3, 64), 16, 16)
    with pytest.raises(ValueError):
        block_dct(torch.zeros(16, 16))
