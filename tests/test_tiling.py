"""Tiled RSN/IDN: same result as whole images (no seams), deterministic, halo from the receptive field."""

import pytest
import torch
from conftest import natural_crop

from vcnlit.codecs import DnncCodec, StandardCodec
from vcnlit.compressor import Compressor, tiled
from vcnlit.nets import ResamplingSystem
from vcnlit.nets.receptive import receptive_radius
from vcnlit.pixels import from_uint8

NETS = [dict(width=8, rsn_depth=1, idn_depth=1, outer_kernel=3),
        dict(width=8, rsn_depth=2, idn_depth=2, outer_kernel=5, residual=False, conditioned=False, self_ensemble=8),
        dict(width=8, rsn_depth=1, idn_depth=2, outer_kernel=5, block="residual", upsample="pixel_shuffle"),
        dict(width=8, rsn_depth=1, idn_depth=2, outer_kernel=3, idn_dilation=[2, 3])]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
@pytest.mark.parametrize("scale", [1, 2])
@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("codec", [StandardCodec("jpeg", 60), DnncCodec(8.0)], ids=["jpeg", "dct"])
def test_tiled_equals_whole_image(scale, net, codec, bf16):
    """Equal up to float rounding: float32's, or bfloat16's (8 bits of mantissa) in bfloat16 inference."""
    torch.manual_seed(0)
    system = ResamplingSystem(channels=3, scale=scale, **net).eval()
    x = from_uint8(natural_crop("astronaut", (75, 101), rgb=True))
    whole, tiles = Compressor(system, codec, tile_size=0, bf16=bf16), Compressor(system, codec, tile_size=32, bf16=bf16)
    atol = 2e-2 if bf16 else 1e-5
    xp = whole.pad(x[None])
    y0, y1 = whole.rsn(xp), tiles.rsn(xp)
    assert torch.allclose(y0, y1, atol=atol)
    units = whole.rate_units([codec.rate])
    assert torch.allclose(whole.idn(y0, units), tiles.idn(y0, units), atol=atol)
    stream = whole.compress(x)
    a, b = whole.decompress(stream), tiles.decompress(stream)
    assert (a - b).abs().max() <= 1 / 255
    assert torch.equal(tiles.decompress(stream), b)  # deterministic
    assert tiles.compress(x) == tiles.compress(x)
    rt0, rt1 = whole.round_trip(x[None], codec.rate), tiles.round_trip(x[None], codec.rate)
    assert (rt0.x_hat - rt1.x_hat).abs().mean() <= 1 / 255 and rt1.x_hat.shape == x[None].shape


def test_halo_is_needed():
    """Tiles without the halo show seams: the equality above is not vacuous."""
    torch.manual_seed(0)
    rsn = ResamplingSystem(channels=1, scale=2, **NETS[0]).rsn.eval()
    x = torch.rand(1, 1, 64, 64)
    r = -(-receptive_radius(rsn) // 2) * 2
    with torch.no_grad():
        assert torch.allclose(tiled(rsn, x, 16, r, down=2), rsn(x), atol=1e-5)
        assert (tiled(rsn, x, 16, 0, down=2) - rsn(x)).abs().max() > 1e-3


def test_tile_size_rules():
    system = ResamplingSystem(channels=1, scale=2, **NETS[0])
    assert Compressor(system, StandardCodec("jpeg", 50), tile_size=None).tile == 0
    assert Compressor(system, StandardCodec("jpeg", 50), tile_size=1).tile == 32
    assert Compressor(system, StandardCodec("jpeg", 50), tile_size=101).tile == 102
    with pytest.raises(ValueError, match="tile_size"):
        Compressor(system, StandardCodec("jpeg", 50), tile_size=-1)


def test_tiles_are_equal_and_within_the_size():
    """A 3840-pixel side at tile 512 runs as 8 tiles of 480, not 7 of 512 and one of 256."""
    from vcnlit.compressor import _even

    assert _even(3840, 512, 2) == 480 and _even(2160, 512, 2) == 432 and _even(768, 512, 2) == 384
    for n in range(2, 300, 2):
        for tile in (32, 64, 96):
            t = _even(n, tile, 2)
            assert t <= tile and t % 2 == 0 and -(-n // t) == -(-n // tile)
