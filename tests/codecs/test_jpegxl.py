"""JPEG XL (libjxl through imagecodecs): real streams that libjxl decodes by itself, the rate knob, the registry."""

import imagecodecs
import numpy as np
import pytest
from conftest import natural_crop

from vcnlit.codecs.jpegxl import JpegXlCodec
from vcnlit.codecs.registry import build_codec, codec_spec
from vcnlit.errors import ConfigError
from vcnlit.pixels import from_uint8


@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_is_a_standard_stream(channels):
    a = natural_crop("astronaut", (40, 56), rgb=channels == 3)
    x = from_uint8(a).unsqueeze(0)
    codec = JpegXlCodec(2.0)
    res = codec.round_trip(x)
    assert res.decoded.shape == x.shape
    payload = res.payloads[0]
    assert payload[:2] == b"\xff\x0a"  # a bare codestream
    ref = imagecodecs.jpegxl_decode(payload)  # libjxl alone gives the same pixels
    assert ref.shape == a.shape
    assert np.array_equal(from_uint8(ref), res.decoded[0])
    err = (res.decoded[0] - x[0]).abs().mean().item()
    assert 0 < err < 0.05


def test_distance_is_the_rate_knob():
    x = from_uint8(natural_crop("camera", (48, 64))).unsqueeze(0)
    codec = JpegXlCodec()
    sizes = [codec.round_trip(x, d).nbytes[0] for d in (8.0, 2.0, 0.5)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert codec.rate_to_unit(25) == 0 and codec.rate_to_unit(0.1) == pytest.approx(1)
    with pytest.raises(ConfigError, match="distance"):
        codec.encode(x[0], 30)
    with pytest.raises(ConfigError, match="effort"):
        JpegXlCodec(effort=0)


def test_registry_rebuilds_it():
    codec = build_codec({"format": "jpegxl", "effort": 5}, rate=3)
    assert isinstance(codec, JpegXlCodec) and codec.effort == 5 and codec.rate == 3
    assert codec_spec(codec) == {"format": "jpegxl", "effort": 5, "distance": 3.0}
    assert build_codec(codec_spec(codec)).rate == 3
