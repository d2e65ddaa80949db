"""DNNC codec: real bitstreams that decode exactly to the dequantised symbols."""

import numpy as np
import pytest
import torch
from skimage import data

from vcnlit.codecs import Codec, DnncCodec


def _gray(size=64, y0=200, x0=200) -> torch.Tensor:
    return (
        torch.from_numpy(data.camera()[y0 : y0 + size, x0 : x0 + size].copy()).float()[None] / 255
    )


def _rgb(size=64) -> torch.Tensor:
    img = data.astronaut()[100 : 100 + size, 200 : 200 + size].transpose(2, 0, 1).copy()
    return torch.from_numpy(img).float() / 255


def _check(codec: DnncCodec, y: torch.Tensor, step: float) -> bytes:
    payload = codec.encode(y, step)
    assert codec.encode(y, step) == payload  # deterministic bytes
    out = codec.decode(payload, tuple(y.shape), step)
    assert out.dtype == torch.float32 and out.shape == y.shape
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    ref = codec.dequantize(codec.quantize(y, step), tuple(y.shape), step)
    assert torch.equal(out, ref)
    again = codec.decode(payload, tuple(y.shape), step)
    assert again.numpy().tobytes() == out.numpy().tobytes()
    return payload


@pytest.mark.parametrize(
    "make, step",
    [
        (_gray, 0.5),
        (_gray, 1),
        (_gray, 8),
        (_gray, 128),
        (_rgb, 2),
        (_rgb, 16),
        (_rgb, 1000),
        (lambda: torch.rand(3, 16, 24), 4),
        (lambda: torch.rand(1, 16, 24), 64),
    ],
)
def test_round_trip_is_exact(make, step):
    _check(DnncCodec(step), make(), step)


def test_symbols_and_special_images():
    codec = DnncCodec(8)
    flat = torch.full((1, 32, 32), 128 / 255)  # DCT of 0: every symbol 0
    assert int(codec.quantize(flat).abs().sum()) == 0
    assert len(_check(codec, flat, 8)) < 16
    one_block = _gray(8)
    assert codec.quantize(one_block).shape == (1, 1, 64)
    _check(codec, one_block, 8)
    _check(codec, torch.zeros(3, 8, 16), 4)
    _check(codec, torch.ones(1, 16, 8), 4)


def test_rate_decreases_with_step_and_quality_is_sane():
    codec = DnncCodec()
    y = _gray(128, 100, 100)
    sizes = [len(codec.encode(y, s)) for s in (2, 8, 32)]
    assert sizes[0] > sizes[1] > sizes[2]
    out = codec.decode(codec.encode(y, 8), tuple(y.shape), 8)
    psnr = -10 * torch.log10(((out - y) ** 2).mean())
    assert psnr > 30


def test_qmatrix_and_block_size():
    q = (1 + np.add.outer(np.arange(4), np.arange(4))).tolist()
    codec = DnncCodec(step=4, block_size=4, qmatrix=q)
    assert codec.block == 4 and codec.params() == {"format": "dct", "block_size": 4, "qmatrix": q}
    y = _rgb(32)
    _check(codec, y, 4)
    flat = DnncCodec(step=4, block_size=4)
    assert len(codec.encode(y)) < len(flat.encode(y))
    with pytest.raises(ValueError, match="4x4"):
        DnncCodec(block_size=4, qmatrix=[[1.0] * 8] * 8)
    with pytest.raises(ValueError):
        DnncCodec(qmatrix=[[0.0] * 8] * 8)


def test_interface():
    codec = DnncCodec(step=8, threads=2)
    assert isinstance(codec, Codec)
    assert (codec.name, codec.mode, codec.rate_key, codec.block) == ("dct", "dnnc", "step", 8)
    assert codec.params() == {"format": "dct", "block_size": 8, "qmatrix": None}
    assert codec.rate_to_unit(1) == 1.0 and codec.rate_to_unit(128) == 0.0
    assert codec.rate_to_unit(0.5) == 1.0 and codec.rate_to_unit(500) == 0.0
    assert codec.rate_to_unit(4) > codec.rate_to_unit(8) > codec.rate_to_unit(16)
    batch = torch.stack([_gray(32), _gray(32, 0, 0)])
    res = codec.round_trip(batch, [4.0, 16.0])
    assert res.decoded.shape == batch.shape and res.nbytes[0] > res.nbytes[1]
    for i, s in enumerate((4.0, 16.0)):
        assert torch.equal(res.decoded[i], codec.decode(codec.encode(batch[i], s), (1, 32, 32), s))


def test_bad_inputs():
    codec = DnncCodec()
    with pytest.raises(ValueError, match="multiples of block_size 8"):
        codec.encode(torch.rand(1, 12, 16))
    with pytest.raises(ValueError, match="multiples"):
        codec.decode(b"", (1, 16, 20))
    with pytest.raises(ValueError):
        DnncCodec(step=0)
    with pytest.raises(ValueError):
        codec.encode(torch.rand(1, 8, 8), float("nan"))
    with pytest.raises(ValueError, match="overflow"):
        codec.encode(torch.rand(1, 8, 8), 1e-9)


@pytest.mark.parametrize("threads", [1, 2])
def test_reconstruct_equals_the_real_decode(threads):
    """Training's shortcut (no arithmetic coder) gives bit for bit what the real bitstream decodes to."""
    gray = torch.stack([_gray(32), _gray(32, 0, 0), torch.rand(1, 32, 32), torch.full((1, 32, 32), 0.5)])
    rgb = torch.stack([_rgb(32), torch.rand(3, 32, 32)])
    q = (torch.arange(64, dtype=torch.float64).reshape(8, 8) / 16 + 1).tolist()
    for codec, batch, steps in [
        (DnncCodec(threads=threads), gray, [96.0, 24.0, 3.0, 0.7]),
        (DnncCodec(threads=threads, qmatrix=q), rgb, [16.0, 5.0]),
    ]:
        real = codec.round_trip(batch, steps).decoded
        assert torch.equal(codec.reconstruct(batch, steps), real)
    assert torch.equal(DnncCodec(8).reconstruct(gray), DnncCodec(8).round_trip(gray).decoded)
