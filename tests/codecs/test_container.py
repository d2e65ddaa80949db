"""The vcnlit bitstream container: round trips and strict validation of malformed files."""

import dataclasses
import struct
import zlib

import numpy as np
import pytest
import torch

from vcnlit.codecs import BitstreamError, DnncCodec, Header, model_fingerprint, pack, unpack
from vcnlit.codecs.container import FORMAT_VERSION, MAGIC, MAX_SAMPLES


def _header(**kw) -> Header:
    base = Header("dnnc", "dct", 3, 48, 40, 8.0, {"block_size": 8, "qmatrix": None}, b"12345678")
    return dataclasses.replace(base, **kw)


def _raises(data: bytes, match: str | None = None) -> None:
    with pytest.raises(BitstreamError, match=match) as e:
        unpack(data)
    assert "\n" not in str(e.value)


def _repack_body(payload: bytes, body: bytes, version: int = FORMAT_VERSION) -> bytes:
    """Rebuild a stream around a hand-made header body, with valid CRCs."""
    head = MAGIC + bytes([version]) + struct.pack(">H", len(body)) + body
    crc = struct.pack(">I", zlib.crc32(payload)) if version >= 2 else b""
    return head + struct.pack(">I", zlib.crc32(head)) + struct.pack(">I", len(payload)) + crc + payload


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
    body = pack(_header(), b"")[7:-12]  # between hdr_len and the header CRC
    ok = _repack_body(b"", body)
    assert unpack(ok)[0] == _header()
    i = 1 + 4 + 1 + 3  # offset of channels: after "dnnc" and "dct" with their lengths
    assert body[i] == 3
    too_big = body[:i] + struct.pack(">BII", 1, MAX_SAMPLES, 2) + body[i + 9 :]
    _raises(_repack_body(b"", too_big), "exceeds")
    zero = body[:i] + struct.pack(">BII", 1, 0, 2) + body[i + 9 :]
    _raises(_repack_body(b"", zero), "height")
    _raises(_repack_body(b"", body[:-1]), "corrupt")
    _raises(_repack_body(b"", body + b"\0"), "corrupt")
    nested = b"\4dnnc\3dct" + struct.pack(">BIId", 1, 8, 8, 1.0)
    deep = b"[" * 20000
    _raises(_repack_body(b"", nested + struct.pack(">H", len(deep)) + deep + bytes(8)), "params")


def test_payload_crc_catches_every_flipped_bit():
    payload = bytes(range(200))
    good = pack(_header(), payload)
    start = len(good) - len(payload)
    for i in range(start * 8, len(good) * 8):
        bad = bytearray(good)
        bad[i // 8] ^= 1 << (i % 8)
        _raises(bytes(bad), "payload is corrupt")
    for i in range((start - 4) * 8, start * 8):  # the payload CRC itself
        bad = bytearray(good)
        bad[i // 8] ^= 1 << (i % 8)
        _raises(bytes(bad), "payload is corrupt")


def test_version_1_streams_still_decode():
    body = pack(_header(), b"")[7:-12]
    assert unpack(_repack_body(b"abc", body, version=1)) == (_header(), b"abc")
    assert unpack(_repack_body(b"abc", body)) == (_header(), b"abc")
    _raises(_repack_body(b"abc", body, version=1)[:-1], "truncated")


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
