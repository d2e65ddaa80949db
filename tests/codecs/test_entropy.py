"""Arithmetic coding of integer symbols: bit-exact round trips, efficiency, malformed input."""

import numpy as np
import pytest
import torch
from skimage import data

from vcnlit.codecs.container import BitstreamError
from vcnlit.codecs.dct import dct_bands
from vcnlit.codecs.entropy import (
    KMAX,
    decode_symbols,
    encode_symbols,
    entropy_bits,
    ideal_bits,
    split_sizes,
)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _round_trip(sym: torch.Tensor) -> bytes:
    data = encode_symbols(sym)
    assert encode_symbols(sym) == data  # deterministic
    out = decode_symbols(data, tuple(sym.shape))
    assert out.dtype == torch.int64 and out.shape == sym.shape
    assert torch.equal(out, sym.to(torch.int64))
    return data


def _image_symbols(img: np.ndarray, step: float) -> torch.Tensor:
    x = torch.from_numpy(img.astype(np.float64))[None] - 128
    return torch.round(dct_bands(x) / step).long()


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.laplace(0, 3, size=(1, 50, 64)).round(),
        lambda r: r.laplace(0, 40, size=(3, 20, 64)).round(),
        lambda r: r.integers(-1000, 1000, size=(2, 30, 16)),
        lambda r: r.integers(0, 2, size=(1, 200, 4)),
        lambda r: np.zeros((3, 40, 64)),
        lambda r: np.full((1, 5, 64), -7),
        lambda r: r.laplace(0, 2, size=(1, 1, 64)).round(),  # a single 8x8 block
        lambda r: np.concatenate([np.zeros((1, 99, 64)), r.integers(-3, 4, size=(1, 1, 64))], 1),
    ],
)
def test_round_trip_random(make):
    _round_trip(torch.from_numpy(np.asarray(make(_rng()), dtype=np.int64)))


def test_round_trip_wide_alphabets():
    r = _rng(1)
    sym = r.integers(-30000, 30000, size=(1, 64, 3))
    sym[0, :, 1] = r.integers(-(2**31), 2**31, size=64)  # several base-KMAX digits
    sym[0, 0, 2], sym[0, 1, 2] = -KMAX, KMAX  # alphabet just over KMAX
    _round_trip(torch.from_numpy(sym))


def test_int32_limits_and_dtypes():
    sym = torch.tensor([[[-(2**31), 2**31 - 1, 0]]], dtype=torch.int64).repeat(1, 3, 1)
    _round_trip(sym)
    _round_trip(torch.randint(-5, 5, (1, 8, 4), dtype=torch.int16))
    with pytest.raises(ValueError, match="int32"):
        encode_symbols(torch.tensor([[[2**31]]]))
    with pytest.raises(ValueError):
        encode_symbols(torch.zeros(1, 2, 3))  # floats
    with pytest.raises(ValueError):
        encode_symbols(torch.zeros(2, 3, dtype=torch.int64))


def test_empty_and_constant_bands_are_cheap():
    assert len(_round_trip(torch.zeros(3, 1024, 64, dtype=torch.int64))) < 16
    assert len(_round_trip(torch.zeros(1, 0, 64, dtype=torch.int64))) < 16


@pytest.mark.parametrize("step", [8, 16])
def test_payload_close_to_ideal_on_natural_image(step):
    sym = _image_symbols(data.camera()[128:384, 128:384], step)
    enc = _round_trip(sym)
    sizes = split_sizes(enc, tuple(sym.shape))
    ideal = ideal_bits(sym) / 8
    assert sizes.side + sizes.payload == len(enc)
    assert ideal <= sizes.payload <= 1.01 * ideal
    assert entropy_bits(sym) / 8 <= ideal
    assert sizes.side < 0.1 * len(enc)


def test_rgb_natural_image():
    img = data.astronaut()[:128, 128:256].transpose(2, 0, 1)
    x = torch.from_numpy(img.astype(np.float64)) - 128
    sym = torch.round(dct_bands(x) / 4).long()
    enc = _round_trip(sym)
    assert split_sizes(enc, tuple(sym.shape)).payload <= 1.01 * ideal_bits(sym) / 8


def _small_stream() -> tuple[bytes, tuple[int, int, int]]:
    sym = torch.from_numpy(_rng(2).laplace(0, 4, size=(2, 6, 16)).round().astype(np.int64))
    return encode_symbols(sym), tuple(sym.shape)


def _decode_or_error(data: bytes, shape) -> None:
    try:
        out = decode_symbols(data, shape)
    except BitstreamError as e:
        assert "\n" not in str(e)
    else:
        assert out.shape == shape


def test_truncated_streams_raise():
    enc, shape = _small_stream()
    for n in range(len(enc)):
        with pytest.raises(BitstreamError):
            decode_symbols(enc[:n], shape)
    with pytest.raises(BitstreamError, match="trailing"):
        decode_symbols(enc + b"\0", shape)


def test_random_bytes_and_bit_flips_never_crash():
    enc, shape = _small_stream()
    r = _rng(3)
    for _ in range(200):
        _decode_or_error(r.bytes(int(r.integers(0, 80))), shape)
    bits = np.concatenate([np.arange(128), r.choice(np.arange(128, len(enc) * 8), 200, False)])
    for i in bits:
        bad = bytearray(enc)
        bad[i // 8] ^= 1 << (i % 8)
        _decode_or_error(bytes(bad), shape)
    # a huge declared side-info length or alphabet must fail fast, not allocate
    _decode_or_error(b"\xff\xff\xff\xff\x0f", shape)
    _decode_or_error(b"\x05" + bytes([0xFF] * 5), shape)


def test_bad_shape():
    enc, _ = _small_stream()
    with pytest.raises(ValueError):
        decode_symbols(enc, (0, 6, 16))
    with pytest.raises(ValueError):
        decode_symbols(enc, (2, 6))
