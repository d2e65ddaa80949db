"""Anchors state their file headers: the bytes before each real file's coded payload."""

import pytest
from conftest import natural_crop

from vcnlit.codecs import StandardCodec
from vcnlit.codecs.standard import from_uint8
from vcnlit.eval.baselines import CodecBaseline
from vcnlit.eval.headers import header_bytes


def _found(fmt: str, data: bytes) -> int:
    """The payload's start by a plain search for the marker or box that ends the header."""
    if fmt == "jpeg":
        sos = data.index(b"\xff\xda")
        return sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
    if fmt == "jpeg2000":
        return data.index(b"\xff\x93") + 2
    if fmt == "webp":
        return data.index(b"VP8") + 8
    return data.index(b"mdat") + 4


@pytest.mark.parametrize("fmt,quality", [("jpeg", 30), ("jpeg2000", 40), ("webp", 30), ("avif", 30)])
@pytest.mark.parametrize("rgb", [False, True])
def test_header_of_real_files(fmt, quality, rgb):
    data = StandardCodec(fmt, quality).encode(from_uint8(natural_crop("camera", (64, 96), rgb=rgb)))
    assert 0 < header_bytes(fmt, data) == _found(fmt, data) < len(data)


def test_not_a_file_of_the_format():
    jpeg = StandardCodec("jpeg", 30).encode(from_uint8(natural_crop("camera", (32, 32))))
    for fmt in ("jpeg2000", "webp", "avif"):
        with pytest.raises(ValueError):
            header_bytes(fmt, jpeg)
    with pytest.raises(ValueError, match="no header parser"):
        header_bytes("png", jpeg)


def test_anchor_results_state_header_sizes():
    images = [("camera", from_uint8(natural_crop("camera", (40, 56)))),
              ("coffee", from_uint8(natural_crop("coffee", (32, 48))))]
    codec = StandardCodec("avif", 20)
    r = CodecBaseline("avif", {"format": "avif"}, [20, 60]).evaluate(images, progress=False)
    for name, x in images:
        row = r["results_by_image"][name]
        assert row["header_bytes"] == [header_bytes("avif", codec.encode(x, q)) for q in (20, 60)]
        assert row["header_bpp"] == [b * 8 / (x.shape[-2] * x.shape[-1]) for b in row["header_bytes"]]
        assert all(h < b for h, b in zip(row["header_bpp"], row["bpp"]))
    by = r["results_by_image"].values()
    assert r["results"]["header_bytes"] == [sum(v[i] for v in (b["header_bytes"] for b in by)) / 2 for i in (0, 1)]
    # a .vcn file holding the stream: the container's header replaces the file's, nothing to state
    vcn = CodecBaseline("jpeg_vcn", {"format": "jpeg"}, [20], container=True).evaluate(images, progress=False)
    assert "header_bytes" not in vcn["results"]
