"""The context-adaptive coefficient coder: exact round trips, adversarial patterns, malformed input."""

import hashlib

import numpy as np
import pytest
import torch
from skimage import data

from vcnlit.codecs import entropy as ent
from vcnlit.codecs.byteio import BitReader, BitWriter
from vcnlit.codecs.container import BitstreamError
from vcnlit.codecs.dct import dct_bands
from vcnlit.codecs.entropy import shapes
from vcnlit.codecs.entropy.context import LIMIT, decode_planes, encode_planes


def _round_trip(planes: list[np.ndarray], kinds: list[int] | None = None) -> bytes:
    kinds = kinds or [0] * len(planes)
    enc = encode_planes(planes, kinds)
    assert encode_planes(planes, kinds) == enc  # deterministic
    out = decode_planes(enc, [p.shape for p in planes], kinds)
    assert len(out) == len(planes)
    for o, p in zip(out, planes):
        assert o.dtype == np.int64 and np.array_equal(o, p)
    return enc


def _image_planes(step: float, size: int = 128, block: int = 8) -> np.ndarray:
    img = data.camera()[100 : 100 + size, 150 : 150 + size].astype(np.float64)
    q = torch.round(dct_bands(torch.from_numpy(img)[None] - 128, block) / step).long()
    return q.numpy().reshape(size // block, size // block, block * block)


R = np.random.default_rng(0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: [np.zeros((5, 7, 64), np.int64)],  # all zero: every pass empty
        lambda: [R.laplace(0, 2, (6, 4, 64)).round().astype(np.int64)],
        lambda: [R.laplace(0, 60, (3, 5, 64)).round().astype(np.int64)],  # escapes everywhere
        lambda: [np.where(np.indices((4, 4, 64)).sum(0) % 2, 5, -5)],  # alternating signs
        lambda: [np.where(np.indices((4, 4, 64)).sum(0) % 2, 1, -1) * (LIMIT - 1)],  # widest alphabet
        lambda: [np.pad(np.full((1, 1, 1), LIMIT - 1), ((0, 3), (0, 2), (0, 63)))],  # one huge DC
        lambda: [np.pad(np.full((1, 1, 1), -(LIMIT - 1)), ((2, 0), (1, 1), (40, 23)))],  # one huge AC
        lambda: [R.integers(-(LIMIT - 1), LIMIT, (3, 3, 16))],  # uniform over the widest range, 4x4 blocks
        lambda: [R.integers(-3, 4, (1, 1, 64))],  # one block
        lambda: [R.integers(-2, 3, (9, 1, 1))],  # 1x1 blocks: DC only
        lambda: [R.integers(-40, 40, (2, 3, 256))],  # 16x16 blocks
        lambda: [R.laplace(0, 3, (8, 8, 64)).round().astype(np.int64),
                 R.laplace(0, 1, (4, 4, 64)).round().astype(np.int64),
                 np.zeros((4, 4, 64), np.int64)],  # luma + two half-size chroma planes
    ],
)
def test_round_trip_adversarial(make):
    planes = make()
    _round_trip(planes, [0] + [1] * (len(planes) - 1))


def test_round_trip_natural_image_and_block_sizes():
    for block in (2, 4, 8, 16):
        for step in (1, 8, 40):
            _round_trip([_image_planes(step, block=block)])


@pytest.mark.parametrize("step", [24, 64, 96])
def test_fewer_bytes_than_the_per_band_model(step):
    """On a natural image at low rates the context model saves well over 10 % against per-band histograms."""
    plane = _image_planes(step, size=256)
    new = len(_round_trip([plane]))
    old = len(ent.encode_symbols(torch.from_numpy(plane.reshape(1, -1, 64))))
    assert new < 0.85 * old


def test_limits_and_bad_input():
    with pytest.raises(ValueError, match="below"):
        encode_planes([np.full((1, 1, 64), LIMIT)], [0])
    with pytest.raises(ValueError, match="square"):
        encode_planes([np.zeros((2, 2, 10), np.int64)], [0])
    with pytest.raises(ValueError, match="kind"):
        encode_planes([np.zeros((2, 2, 64), np.int64)], [2])
    with pytest.raises(ValueError):
        encode_planes([np.zeros((2, 2, 64))], [0])  # floats
    with pytest.raises(ValueError):
        decode_planes(b"", [(0, 2, 64)], [0])


def test_shape_table_is_fixed():
    """Integer arithmetic only: the same table on every machine (a change here breaks every stream)."""
    f = shapes.freq_table()
    assert f.dtype == np.int64 and f.min() >= 1 and (f.sum(-1) == ent.MASS).all()
    assert hashlib.sha256(f.astype("<i8").tobytes()).hexdigest()[:16] == "9fb55eaffef40df5"
    c = shapes.cdf_table()
    assert c.shape[-1] == shapes.LP and (c.view(np.uint16)[..., -1] == ent.MASS).all()


def test_bit_io_round_trip():
    w = BitWriter()
    w.put([5, 0, 1], [3, 2, 1])
    w.put_eg([0, 1, 2, 1000, 2**31 - 1], 0)
    w.put_se([0, -1, 7, -300])
    w.put_eg([0, 9, 2**20], 5)
    r = BitReader(w.getvalue())
    assert [r.get(3), r.get(2), r.get(1)] == [5, 0, 1]
    assert r.get_eg(5).tolist() == [0, 1, 2, 1000, 2**31 - 1]
    assert r.get_se(4).tolist() == [0, -1, 7, -300]
    assert r.get_eg(3, 5).tolist() == [0, 9, 2**20]
    r.finish()
    with pytest.raises(BitstreamError):
        r.get(8)
    with pytest.raises(BitstreamError):
        BitReader(b"\x00\x00\x00\x00\x00").get_eg(1)  # prefix of 40 zeros


def _decode_or_error(enc: bytes, shapes_, kinds) -> None:
    try:
        out = decode_planes(enc, shapes_, kinds)
    except BitstreamError as e:
        assert "\n" not in str(e)
    else:
        assert [o.shape for o in out] == [tuple(s) for s in shapes_]


def test_malformed_streams():
    planes = [_image_planes(16, size=64), _image_planes(32, size=32)]
    kinds = [0, 1]
    enc = _round_trip(planes, kinds)
    sh = [p.shape for p in planes]
    for n in range(len(enc)):
        with pytest.raises(BitstreamError):
            decode_planes(enc[:n], sh, kinds)
    with pytest.raises(BitstreamError, match="trailing"):
        decode_planes(enc + b"\1", sh, kinds)
    r = np.random.default_rng(4)
    for i in r.choice(len(enc) * 8, 300, replace=False):
        bad = bytearray(enc)
        bad[i // 8] ^= 1 << (i % 8)
        _decode_or_error(bytes(bad), sh, kinds)
    for _ in range(100):
        _decode_or_error(r.bytes(int(r.integers(0, 60))), sh, kinds)
    _decode_or_error(b"\xff\xff\xff\xff\x0f", sh, kinds)
