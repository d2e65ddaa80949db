"""DNNC codec: real bitstreams that decode exactly to the dequantised symbols."""

import dataclasses
import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import pack_v3
from skimage import data

from vcnlit.codecs import BitstreamError, Codec, DnncCodec, pack, unpack
from vcnlit.codecs.registry import build_codec, codec_spec
from vcnlit.compressor import Compressor
from vcnlit.nets import ResamplingSystem


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
    ref = codec.dequantize_planes(codec.quantize_planes(y, step), tuple(y.shape), step)
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


NEW = {"entropy": "context", "colour": "ycbcr420", "deadzone": 0.45, "deadzone_hf": 0.1}


@pytest.mark.parametrize("entropy", ["band", "context"])
@pytest.mark.parametrize("colour", ["rgb", "ycbcr", "ycbcr420"])
@pytest.mark.parametrize("extra", [{}, {"deadzone": 0.3, "qmatrix": "jpeg", "qmatrix_power": 0.5}])
def test_every_option_round_trips_exactly(entropy, colour, extra):
    codec = DnncCodec(entropy=entropy, colour=colour, **extra)
    for y, step in [(_rgb(32), 4.0), (_rgb(32), 40.0), (torch.rand(3, 24, 40), 12.0), (_gray(16), 8.0),
                    (torch.zeros(3, 8, 8), 8.0)]:
        _check(codec, y, step)
        planes = codec.quantize_planes(y, step)
        assert [tuple(p.shape) for p in planes] == [(r, c, 64) for r, c, _ in codec.plane_shapes(tuple(y.shape))]
        assert torch.equal(codec.reconstruct(y[None], step)[0], codec.decode(codec.encode(y, step), tuple(y.shape), step))


def test_colour_planes():
    codec = DnncCodec(colour="ycbcr420")
    assert codec.plane_shapes((3, 24, 40)) == [(3, 5, 0), (2, 3, 1), (2, 3, 1)]  # 12x20 chroma padded to 16x24
    assert codec.plane_shapes((1, 24, 40)) == [(3, 5, 0)]  # one channel: colour does not apply
    assert DnncCodec(colour="ycbcr").plane_shapes((3, 8, 8)) == [(1, 1, 0), (1, 1, 1), (1, 1, 1)]
    with pytest.raises(ValueError, match="quantize_planes"):
        codec.quantize(torch.rand(3, 16, 16))
    gray = torch.full((3, 16, 16), 0.4)  # neutral grey: no chroma at all
    planes = codec.quantize_planes(gray)
    assert all(int(p.abs().sum()) == 0 for p in planes[1:])


def test_new_options_cost_fewer_bytes_at_equal_coefficients_and_quality():
    y = _rgb(128)
    for step in (8.0, 32.0):
        legacy, ctx = DnncCodec(step), DnncCodec(step, entropy="context")
        assert torch.equal(legacy.quantize(y), ctx.quantize(y))
        assert len(ctx.encode(y)) < 0.9 * len(legacy.encode(y))
    # YCbCr 4:2:0 and a dead zone at half the step: fewer bytes and a higher PSNR (RGB) than plain RGB

    def coded(codec):
        payload = codec.encode(y)
        return len(payload), float(-10 * torch.log10(((codec.decode(payload, tuple(y.shape)) - y) ** 2).mean()))

    for step in (8.0, 16.0):
        (n_new, psnr_new), (n_rgb, psnr_rgb) = coded(DnncCodec(step, **NEW)), coded(DnncCodec(2 * step, entropy="context"))
        assert n_new < 0.6 * n_rgb and psnr_new > psnr_rgb


def test_deadzone_zeroes_small_coefficients():
    y = _gray(64)
    plain, dz = DnncCodec(8.0), DnncCodec(8.0, deadzone=0.25)
    a, b = plain.quantize(y), dz.quantize(y)
    assert (b == 0).sum() > (a == 0).sum() and (b.abs() <= a.abs()).all()
    assert len(dz.encode(y)) < len(plain.encode(y))
    sloped = DnncCodec(8.0, deadzone=0.5, deadzone_hf=0.1).quantize(y)  # plain rounding at DC, less and less above
    assert torch.equal(sloped[..., 0], a[..., 0]) and (sloped[..., 1:] == 0).sum() > (a[..., 1:] == 0).sum()


def test_params_and_header_params():
    legacy = DnncCodec(8.0)
    assert legacy.header_params() == {} and DnncCodec(block_size=4).header_params() == {"block_size": 4}
    codec = DnncCodec(8.0, qmatrix="jpeg", qmatrix_power=0.5, **NEW)
    assert codec.params() == {"format": "dct", "block_size": 8, "qmatrix": "jpeg", **NEW, "qmatrix_power": 0.5}
    head = codec.header_params()
    assert head == {"qmatrix": "jpeg", "entropy": "context", "colour": "ycbcr420", "qmatrix_power": 0.5}
    assert codec.header_params(1) == {k: v for k, v in head.items() if k != "colour"}
    again = build_codec({**head, "format": "dct"}, rate=8.0)  # what a decoder rebuilds
    y = _rgb(32)
    assert torch.equal(again.decode(codec.encode(y), tuple(y.shape)), codec.decode(codec.encode(y), tuple(y.shape)))
    assert build_codec(codec_spec(codec)).params() == codec.params()  # model files keep the encoder's choices
    for bad in ({"entropy": "x"}, {"colour": "lab"}, {"deadzone": 0.0}, {"deadzone": 0.7}, {"deadzone_hf": -0.1},
                {"qmatrix": "mpeg"}, {"qmatrix": "jpeg", "block_size": 4}):
        with pytest.raises(ValueError):
            DnncCodec(**bad)


def _compressor(codec: DnncCodec, channels: int = 3) -> Compressor:
    torch.manual_seed(0)
    system = ResamplingSystem(channels=channels, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3).eval()
    return Compressor(system, codec)


def test_version_2_streams_still_decode():
    """A stream of the first DNNC format (container version 2, per-band model, RGB) decodes with a model
    whose codec is configured for the new format: the header decides."""
    x = _rgb(48)
    old = _compressor(DnncCodec(16.0)).compress(x)
    hdr, payload = unpack(old)
    assert hdr.params == {}
    v2 = pack_v3(dataclasses.replace(hdr, params={"block_size": 8, "format": "dct", "qmatrix": None}), payload, 2)
    assert unpack(v2)[0].params == {"block_size": 8, "format": "dct", "qmatrix": None}
    new = _compressor(DnncCodec(16.0, **NEW))
    assert torch.equal(new.decompress(v2), new.decompress(old))
    bad = pack(dataclasses.replace(hdr, params={"block_size": 8, "entropy": "lzma"}), payload)
    with pytest.raises(BitstreamError, match="bad codec parameters in header") as e:
        new.decompress(bad)
    assert "\n" not in str(e.value)


_ENCODE_SCRIPT = """
import sys, hashlib, torch
from skimage import data
from vcnlit.codecs import DnncCodec
y = torch.from_numpy(data.astronaut()[:64, 100:164].transpose(2, 0, 1).copy()).float() / 255
out = []
new = {"entropy": "context", "colour": "ycbcr420", "deadzone": 0.45, "deadzone_hf": 0.1}
for kw in ({}, {"entropy": "context"}, new):
    for step in (4.0, 40.0):
        out.append(hashlib.sha256(DnncCodec(step, **kw).encode(y)).hexdigest())
print(" ".join(out))
"""


def test_bytes_are_identical_across_processes():
    runs = [subprocess.run([sys.executable, "-c", _ENCODE_SCRIPT], capture_output=True, text=True, timeout=300,
                           check=True).stdout.strip().splitlines()[-1].split() for _ in range(2)]  # torchac may print first
    assert len(runs[0]) == 6 and runs[0] == runs[1]
    y = torch.from_numpy(data.astronaut()[:64, 100:164].transpose(2, 0, 1).copy()).float() / 255
    here = hashlib.sha256(DnncCodec(40.0, **NEW).encode(y)).hexdigest()
    assert here == runs[0][-1]
