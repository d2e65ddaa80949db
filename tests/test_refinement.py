"""Encoder-side refinement of Y: valid, deterministic streams that never score worse than the RSN's own Y."""

import math

import pytest
import torch
from conftest import natural_crop

from vcnlit.codecs import DnncCodec, StandardCodec, unpack
from vcnlit.compressor import Compressor
from vcnlit.errors import ConfigError
from vcnlit.nets import ResamplingSystem
from vcnlit.pixels import from_uint8
from vcnlit.refinement import Refinement, proxy_name, refine_signal

CODECS = {"jpeg": StandardCodec("jpeg", 30), "dnnc": DnncCodec(12.0)}


pytestmark = pytest.mark.usefixtures("one_thread")


def _system(channels: int, scale: int = 2) -> ResamplingSystem:
    torch.manual_seed(0)
    return ResamplingSystem(channels=channels, scale=scale, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3,
                            self_ensemble=2).eval()


def _score(comp: Compressor, x: torch.Tensor, stream: bytes, rate_weight: float) -> float:
    """The objective refinement lowers, on the real file and its real decode."""
    mse = torch.mean((comp.decompress(stream) - x) ** 2)
    return float(torch.log(mse) + rate_weight * math.log(8 * len(stream)))


@pytest.mark.parametrize("codec", list(CODECS), ids=list(CODECS))
@pytest.mark.parametrize("channels", [1, 3])
def test_refined_streams_decode_and_score_no_worse(codec, channels):
    system, codec = _system(channels), CODECS[codec]
    x = from_uint8(natural_crop("astronaut", (40, 56), rgb=channels == 3))
    plain = Compressor(system, codec, tile_size=0)
    opts = Refinement(steps=4, lr=2e-3)
    refined = Compressor(system, codec, tile_size=0, refinement=opts)
    a, b = plain.compress(x), refined.compress(x)
    assert b == refined.compress(x)  # deterministic for a fixed seed
    assert unpack(b)[0].fingerprint == unpack(a)[0].fingerprint  # same decoder: the plain model decodes it
    assert plain.decompress(b).shape == x.shape
    assert _score(plain, x, b, opts.rate_weight) <= _score(plain, x, a, opts.rate_weight) + 1e-6
    assert [p.requires_grad for p in system.parameters()] == [True] * len(list(system.parameters()))


def test_refinement_moves_y_and_lowers_its_objective():
    system, codec = _system(1), CODECS["jpeg"]
    x = from_uint8(natural_crop("camera", (48, 64)))[None]
    comp = Compressor(system, codec, tile_size=0)
    y0 = comp.rsn(comp.pad(x))
    y1 = refine_signal(system, codec, x, y0, 30.0, Refinement(steps=6, lr=2e-3))
    assert y1.shape == y0.shape and not torch.equal(y0, y1) and 0 <= y1.min() and y1.max() <= 1
    assert refine_signal(system, codec, x, y0, 30.0, Refinement(steps=0)) is y0
    rt = [comp.round_trip(x, 30.0, y=y) for y in (y0, y1)]
    assert all(r.nbytes[0] > 0 for r in rt)


def test_refinement_in_rd_curves_and_size_limits():
    """An RD curve with refinement records it; a size limit still holds."""
    from vcnlit.eval.report import model_results

    system, codec = _system(1), CODECS["jpeg"]
    x = from_uint8(natural_crop("camera", (40, 48)))
    opts = Refinement(steps=2, lr=2e-3)
    rd = model_results(system, codec, [("c.png", x)], [20, 60], "m", progress=False, refinement=opts)
    assert rd["meta"]["refinement"] == {"steps": 2, "lr": 2e-3, "rate_weight": 1.0, "seed": 0}
    assert "refinement" not in model_results(system, codec, [("c.png", x)], [20], "m", progress=False)["meta"]
    comp = Compressor(system, codec, tile_size=0, refinement=opts)
    rates = [float(q) for q in range(10, 71)]
    limit = len(Compressor(system, codec, tile_size=0).compress(x, 40.0))
    data, q = comp.compress_to_size(x, limit, rates)
    assert len(data) <= limit and unpack(data)[0].rate == q


def test_bad_settings_and_codecs_are_refused():
    for bad in (dict(steps=-1), dict(steps=1.5), dict(lr=0.0), dict(lr=math.nan), dict(rate_weight=-1.0)):
        with pytest.raises(ConfigError):
            Refinement(**bad)
    assert proxy_name(CODECS["jpeg"]) == "diffjpeg" and proxy_name(CODECS["dnnc"]) == "noise"
    with pytest.raises(ConfigError, match="stand-in"):
        proxy_name(StandardCodec("webp", 50))
    x = from_uint8(natural_crop("camera", (32, 32)))
    with pytest.raises(ConfigError, match="stand-in"):
        Compressor(_system(1), StandardCodec("webp", 50), refinement=Refinement(steps=1)).compress(x)


@pytest.mark.parametrize("scale", [1, 2])
def test_large_images_are_refined_tile_by_tile(scale):
    """Tiles (with a halo of Y) cover the whole signal: every tile moves, nothing outside Y's shape, same
    result twice; the stream decodes."""
    system, codec = _system(1, scale), CODECS["jpeg"]
    x = from_uint8(natural_crop("camera", (70, 100)))[None]
    comp = Compressor(system, codec, tile_size=0)
    y0 = comp.rsn(comp.pad(x))
    opts = Refinement(steps=3, lr=2e-3)
    tiled = refine_signal(system, codec, x, y0, 30.0, opts, tile=32)
    assert tiled.shape == y0.shape and torch.equal(tiled, refine_signal(system, codec, x, y0, 30.0, opts, tile=32))
    assert not torch.equal(tiled, refine_signal(system, codec, x, y0, 30.0, opts, tile=0))
    step = 32 // scale if scale == 1 else 16
    for r in range(0, y0.shape[-2], step):
        for c in range(0, y0.shape[-1], step):
            assert not torch.equal(tiled[..., r : r + step, c : c + step], y0[..., r : r + step, c : c + step]), (r, c)
    stream = Compressor(system, codec, tile_size=0, refinement=opts).compress(x[0])
    assert comp.decompress(stream).shape == x[0].shape
