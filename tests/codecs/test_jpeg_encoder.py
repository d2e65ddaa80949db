"""vcnlit's own JPEG encoder: baseline streams any decoder opens; the dead zone trades a little error for bits."""

import io

import numpy as np
import pytest
from conftest import natural_crop
from PIL import Image

from vcnlit.codecs import Header, StandardCodec, pack, unpack
from vcnlit.codecs.dct import rounding_offsets
from vcnlit.codecs.jpeg_encoder import encode_jpeg
from vcnlit.codecs.jpeg_stream import layout_of
from vcnlit.codecs.registry import build_codec, codec_spec
from vcnlit.evaluate import with_encoder
from vcnlit.pixels import from_uint8


def _decoded(stream: bytes, rgb: bool) -> np.ndarray:
    with Image.open(io.BytesIO(stream)) as im:
        return np.asarray(im.convert("RGB" if rgb else "L")).astype(np.float64)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.mark.parametrize("rgb,subsampling", [(False, 2), (True, 0), (True, 1), (True, 2)])
def test_plain_rounding_matches_libjpeg(rgb, subsampling):
    """Offset 0.5 everywhere is libjpeg's quantiser: same layout, PSNR within 0.1 dB, size within 3 %
    (odd sizes: partial blocks and MCUs)."""
    a = natural_crop("astronaut", (77, 61), rgb=rgb)
    ours = encode_jpeg(from_uint8(a), 60, rounding_offsets(0.5), "psnr", subsampling)
    theirs = StandardCodec("jpeg", 60, optimize=False, subsampling=subsampling, tables="psnr").encode(from_uint8(a))
    assert layout_of(ours) == layout_of(theirs)
    assert _psnr(a, _decoded(ours, rgb)) == pytest.approx(_psnr(a, _decoded(theirs, rgb)), abs=0.1)
    assert len(ours) == pytest.approx(len(theirs), rel=0.03)


@pytest.mark.parametrize("rgb", [False, True])
def test_dead_zone_codes_fewer_bytes_in_the_container(rgb):
    """The dead zone's stream: fewer bytes, a little less PSNR; the .vcn container recompresses it and
    gives back a stream of the same pixels (the very stream: it has the standard's Huffman tables)."""
    a = natural_crop("coffee", (96, 128), rgb=rgb)
    x = from_uint8(a)
    plain = StandardCodec("jpeg", 50, tables="psnr")
    dead = StandardCodec("jpeg", 50, tables="psnr", deadzone=0.45, deadzone_hf=0.2)
    sizes, quality = [], []
    for codec in (plain, dead):
        stream = codec.encode(x)
        header = Header(mode="scic", codec="jpeg", channels=x.shape[0], height=96, width=128, rate=50.0,
                        params=codec.header_params(x.shape[0]), fingerprint=bytes(8))
        packed = pack(header, stream)
        assert np.array_equal(_decoded(unpack(packed)[1], rgb), _decoded(stream, rgb))
        sizes.append(len(packed))
        quality.append(_psnr(a, _decoded(stream, rgb)))
    assert unpack(packed)[1] == stream
    assert sizes[1] < 0.95 * sizes[0]
    assert quality[0] - 1.0 < quality[1] < quality[0]


def test_encoder_settings_are_recorded_not_sent():
    codec = StandardCodec("jpeg", 30, tables="psnr", deadzone=0.4)
    assert "deadzone" not in codec.header_params(1)  # a decoder needs none of it
    again = build_codec(codec_spec(codec))
    assert (again.deadzone, again.deadzone_hf, again.tables) == (0.4, None, "psnr")
    x = from_uint8(natural_crop("camera", (40, 40))).unsqueeze(0)
    assert again.round_trip(x).payloads == codec.round_trip(x).payloads
    assert with_encoder(codec, {"deadzone": None}) is codec
    changed = with_encoder(StandardCodec("jpeg", 30), {"deadzone": 0.45, "deadzone_hf": 0.2})
    assert (changed.deadzone, changed.deadzone_hf) == (0.45, 0.2)


def test_bad_encoder_settings_are_clear():
    with pytest.raises(ValueError, match=r"codec.deadzone must be in \(0, 0.5\]"):
        StandardCodec("jpeg", deadzone=0.7)
    with pytest.raises(ValueError, match=r"setting of vcnlit's JPEG encoder; webp has none"):
        StandardCodec("webp", deadzone=0.4)
    with pytest.raises(ValueError, match=r"deadzone_hf needs codec.deadzone"):
        StandardCodec("jpeg", deadzone_hf=0.2)


def test_offsets_run_from_dc_to_the_highest_band():
    off = rounding_offsets(0.45, 0.1)
    assert off[0] == pytest.approx(0.45) and off[63] == pytest.approx(0.1)
    assert off[1] == pytest.approx(off[8])  # by u + v
    assert bool((rounding_offsets(0.3) == 0.3).all())
