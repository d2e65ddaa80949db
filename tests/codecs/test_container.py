"""The vcnlit bitstream container: round trips and strict validation of malformed files."""

import dataclasses
import io
import struct
import zlib

import numpy as np
import pytest
import torch
from conftest import natural_crop, pack_v3, repack_v3
from PIL import Image

from vcnlit.codecs import (
    BitstreamError,
    DnncCodec,
    Header,
    StandardCodec,
    model_fingerprint,
    pack,
    unpack,
)
from vcnlit.codecs.byteio import put_varint
from vcnlit.codecs.container import MAGIC, MAX_SAMPLES


def _header(**kw) -> Header:
    base = Header("dnnc", "dct", 3, 48, 40, 8.0, {"block_size": 8, "qmatrix": None}, b"12345678")
    return dataclasses.replace(base, **kw)


def _raises(data: bytes, match: str | None = None) -> None:
    with pytest.raises(BitstreamError, match=match) as e:
        unpack(data)
    assert "\n" not in str(e.value)


def _frame_v4(body: bytes, payload: bytes = b"") -> bytes:
    """A version 4 stream around a hand-made header body, with a valid CRC."""
    out = bytearray(MAGIC + bytes([4]))
    put_varint(out, len(body))
    out += body
    put_varint(out, len(payload))
    out += payload
    return bytes(out) + struct.pack(">I", zlib.crc32(out))


def _body_v4(mode: int = 1, codec: bytes = b"dct", dims: tuple[int, int, int] = (3, 48, 40), rate: bytes = b"\0\x08",
             params: bytes = b"", coding: int = 0) -> bytes:
    out = bytearray([mode, len(codec)]) + codec + bytes([dims[0]])
    put_varint(out, dims[1])
    put_varint(out, dims[2])
    out += rate
    put_varint(out, len(params))
    return bytes(out + params + bytes([coding]) + b"12345678")


def _jpeg(channels: int, quality: int, size: tuple[int, int] = (24, 40)) -> bytes:
    rng = np.random.default_rng(channels)
    a = rng.integers(0, 256, (*size, 3) if channels == 3 else size, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality, optimize=True, subsampling=2)
    return buf.getvalue()


def test_round_trip():
    h = _header(params={"b": [1, 2.5, None], "a": "x"})
    for payload in (b"", b"abc", bytes(range(256)) * 10):
        h2, p2 = unpack(pack(h, payload))
        assert h2 == h and p2 == payload
    h = Header("scic", "jpeg", 1, 1, 2**16, 37.5)
    assert unpack(pack(h, b"x")) == (h, b"x")


def test_dnnc_end_to_end():
    codec = DnncCodec(8)
    y = torch.rand(3, 48, 40)
    h = _header(params=codec.params(), fingerprint=model_fingerprint({"w": torch.ones(3)}))
    blob = pack(h, codec.encode(y))
    h2, payload = unpack(blob)
    out = codec.decode(payload, (h2.channels, h2.height, h2.width), h2.rate)
    assert torch.equal(out, codec.dequantize(codec.quantize(y), tuple(y.shape)))


def test_pack_rejects_bad_headers():
    for bad in (
        _header(mode="x"),
        _header(channels=2),
        _header(height=0),
        _header(width=2**32),
        _header(height=2**15, width=2**15),  # 3 * 2^30 samples
        _header(rate=float("nan")),
        _header(fingerprint=b"123"),
        _header(params={"x": float("inf")}),
        _header(codec=""),
    ):
        with pytest.raises(ValueError):
            pack(bad, b"")


def test_malformed_headers():
    good = pack(_header(), b"payload")
    _raises(b"", "not a vcnlit")
    _raises(b"PK\x03\x04" + good[4:], "not a vcnlit")
    _raises(good[:2], "truncated")
    _raises(good[:4] + bytes([9]) + good[5:], "unsupported version 9")
    _raises(good + b"\0", "trailing")
    for n in range(len(good)):
        _raises(good[:n])
    header_end = len(good) - len(b"payload")
    for i in range(header_end * 8):
        bad = bytearray(good)
        bad[i // 8] ^= 1 << (i % 8)
        _raises(bytes(bad))
    rng = np.random.default_rng(0)
    for _ in range(300):
        _raises(rng.bytes(int(rng.integers(0, 120))))
        _raises(MAGIC + bytes([1]) + rng.bytes(int(rng.integers(0, 120))))


def test_crafted_headers_with_valid_crc():
    assert unpack(_frame_v4(_body_v4(), b"x")) == (_header(params={}), b"x")
    _raises(_frame_v4(_body_v4(dims=(1, MAX_SAMPLES, 2))), "exceeds")
    _raises(_frame_v4(_body_v4(dims=(1, 0, 2))), "height")
    _raises(_frame_v4(_body_v4(dims=(2, 8, 8))), "channels")
    _raises(_frame_v4(_body_v4(mode=7)), "unknown mode")
    _raises(_frame_v4(_body_v4(rate=b"\2")), "bad rate")
    _raises(_frame_v4(_body_v4(rate=b"\1" + struct.pack(">d", float("inf")))), "finite")
    _raises(_frame_v4(_body_v4(coding=9)), "payload coding")
    _raises(_frame_v4(_body_v4(coding=1)), "non-JPEG")
    _raises(_frame_v4(_body_v4(mode=0, codec=b"jpeg", rate=b"\0\x32", coding=1), b"\1\0"), "compact JPEG")
    _raises(_frame_v4(_body_v4()[:-1]), "corrupt")
    _raises(_frame_v4(_body_v4() + b"\0"), "corrupt")
    _raises(_frame_v4(_body_v4(params=b"[" * 20000)), "params")
    _raises(_frame_v4(_body_v4(params=b"null")), "params must be a dict")


def test_every_flipped_bit_is_caught():
    payload = bytes(range(200))
    good = pack(_header(), payload)
    start = len(good) - len(payload) - 4
    for i in range(len(good) * 8):
        bad = bytearray(good)
        bad[i // 8] ^= 1 << (i % 8)
        if i >= start * 8:
            _raises(bytes(bad), "corrupt")
        else:
            _raises(bytes(bad))


def test_earlier_versions_still_decode():
    h = _header()
    for version in (1, 2, 3):
        assert unpack(pack_v3(h, b"abc", version)) == (h, b"abc")
        _raises(pack_v3(h, b"abc", version)[:-1], "truncated")
        _raises(pack_v3(h, b"abc", version) + b"\0", "trailing")
    bad = bytearray(pack_v3(h, b"abc"))
    bad[-1] ^= 1
    _raises(bytes(bad), "payload is corrupt")
    bad[10] ^= 1
    _raises(bytes(bad), "header is corrupt")
    body = pack_v3(h, b"")[7:-12]
    i = 1 + 4 + 1 + 3  # offset of channels: after "dnnc" and "dct" with their lengths
    assert body[i] == 3
    _raises(repack_v3(b"", body[:i] + struct.pack(">BII", 1, MAX_SAMPLES, 2) + body[i + 9 :]), "exceeds")
    _raises(repack_v3(b"", body[:-1]), "corrupt")


def _pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        return np.asarray(im)


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_payloads_are_stored_small(channels):
    """A SCIC/JPEG stream stores its JPEG recompressed (or without what the quality rebuilds) and gives back
    a JPEG that decodes to the same pixels."""
    for quality in (1, 5, 37, 70, 95):
        jpeg = _jpeg(channels, quality)
        h = Header("scic", "jpeg", channels, 48, 80, float(quality), {}, b"abcdefgh")
        blob = pack(h, jpeg)
        h2, back = unpack(blob)
        assert h2 == h and np.array_equal(_pixels(back), _pixels(jpeg))
        assert len(blob) - len(pack(h, b"")) <= len(jpeg) - (110 if channels == 1 else 180)
    h = Header("scic", "jpeg", 1, 48, 80, 37.0, {}, b"abcdefgh")
    other = _jpeg(1, 50)  # another quality's tables: stored whole
    assert unpack(pack(h, other)) == (h, other) and len(pack(h, other)) > len(other)
    assert unpack(pack(h, b"not a jpeg")) == (h, b"not a jpeg")


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_with_psnr_tables_is_stored_small(channels):
    """The header's table set rebuilds the quantisation tables of a compact or recompressed payload."""
    codec = StandardCodec("jpeg", tables="psnr")
    img = torch.from_numpy(natural_crop("coffee", (40, 56), rgb=channels == 3)).float() / 255.0
    img = img.permute(2, 0, 1) if channels == 3 else img[None]
    for quality in (1, 5, 37, 70, 95):
        jpeg = codec.encode(img, quality)
        h = Header("scic", "jpeg", channels, 80, 112, float(quality), codec.header_params(channels), b"abcdefgh")
        h2, back = unpack(blob := pack(h, jpeg))
        assert h2 == h and h2.params == {"tables": "psnr"} and np.array_equal(_pixels(back), _pixels(jpeg))
        assert len(blob) < len(jpeg)
        standard = dataclasses.replace(h, params={})  # the same stream under the standard's tables: stored whole
        assert quality == 1 or unpack(pack(standard, jpeg)) == (standard, jpeg)  # (at 1 both sets are all 255)
    unknown = dataclasses.replace(h, params={"tables": "future"})  # a set this version does not know: stored whole
    assert unpack(pack(unknown, jpeg)) == (unknown, jpeg)
    # a compact payload under a set this version does not know cannot be rebuilt
    for bad in (b'{"tables":"future"}', b'{"tables":[1]}'):
        _raises(_frame_v4(_body_v4(0, b"jpeg", (channels, 80, 112), b"\0\x5f", bad, coding=2), b"\1\0"), "non-JPEG")


def test_header_is_small():
    """The container costs few bytes: they count in every bitrate at the low rates."""
    h = Header("scic", "jpeg", 3, 512, 768, 5.0, {}, b"abcdefgh")
    assert len(pack(h, b"")) <= 36  # version 3 took 105


def test_model_fingerprint():
    sd = {"a.weight": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([True, False])}
    fp = model_fingerprint(sd)
    assert isinstance(fp, bytes) and len(fp) == 8
    assert model_fingerprint(dict(reversed(list(sd.items())))) == fp
    assert model_fingerprint({**sd, "a.weight": sd["a.weight"] + 1e-6}) != fp
    assert model_fingerprint({**sd, "a.weight": sd["a.weight"].double()}) != fp
    assert model_fingerprint({"c": torch.zeros(2, dtype=torch.bfloat16), "n": 3}) != fp
    net = torch.nn.Linear(3, 2)
    assert model_fingerprint(net.state_dict()) == model_fingerprint(net.state_dict())


def test_an_output_size_is_version_6_and_read_back():
    """A stream coded from a resized image names the original size (version 6); without one it stays 4 or 5."""
    h = _header(out_size=(30, 25))
    data = pack(h, b"payload")
    assert data[4] == 6 and unpack(data) == (h, b"payload") and unpack(data)[0].image_size == (30, 25)
    assert pack(_header(), b"")[4] == 4 and unpack(pack(_header(), b""))[0].image_size == (48, 40)
    for bad in ((0, 25), (30, 2**32), (MAX_SAMPLES, 2)):
        with pytest.raises(ValueError):
            pack(_header(out_size=bad), b"")
    body = _body_v4() + b"\x1e"  # one varint where version 6 has two
    frame = bytearray(_frame_v4(body))
    frame[4] = 6
    frame[-4:] = struct.pack(">I", zlib.crc32(bytes(frame[:-4])))
    _raises(bytes(frame), "corrupt")
    _raises(data[:4] + bytes([5]) + data[5:-4] + struct.pack(">I", zlib.crc32(data[:4] + bytes([5]) + data[5:-4])),
            "corrupt")  # a version 5 stream has no output size
