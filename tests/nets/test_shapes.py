import pytest
import torch
import torch.nn.functional as F
from conftest import natural_crop

from vcnlit.errors import ConfigError
from vcnlit.nets import ResamplingSystem
from vcnlit.nets.resampling import ResidualBlock
from vcnlit.nets.system import flip_ensemble


@pytest.mark.parametrize("scale", [1, 2])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("preset", [
    {"width": 8, "rsn_depth": 1, "idn_depth": 1},
    {"width": 8, "rsn_depth": 1, "idn_depth": 1, "residual": False, "conditioned": False, "outer_kernel": 3},
    {"width": 8, "rsn_depth": 1, "idn_depth": 2, "block": "residual", "upsample": "pixel_shuffle"},
])
def test_shapes(scale, channels, preset):
    s = ResamplingSystem(channels=channels, scale=scale, **preset)
    x = torch.rand(2, channels, 32, 48)
    y = s.rsn(x)
    assert y.shape == (2, channels, 32 // scale, 48 // scale)
    assert 0 <= y.min() and y.max() <= 1
    rate = torch.rand(2) if s.idn.conditioned else None
    assert s.idn(y, rate).shape == x.shape
    assert s.vcn(y, rate).shape == x.shape


def test_paper_preset_sizes():
    s = ResamplingSystem(channels=1, scale=2, width=128, rsn_depth=4, idn_depth=6, residual=False, conditioned=False)
    convs = [m for m in s.rsn.body.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [9, 3, 3, 3, 3, 3, 9]
    assert convs[1].stride == (2, 2)
    assert isinstance(s.idn.out, torch.nn.ConvTranspose2d) and s.idn.out.stride == (2, 2)


def test_residual_nets_start_near_bicubic():
    """At initialisation the RSN is close to antialiased bicubic down-sampling of its input and the
    IDN to bicubic up-sampling of its input. Measured (mean absolute difference, seed 0): RSN 0.039,
    IDN 0.062; a constant 0.5 output is 0.34 away, the same nets without the residual path 0.42 / 0.89."""
    torch.manual_seed(0)
    s = ResamplingSystem(channels=1, scale=2, width=8, rsn_depth=1, idn_depth=1)
    x = torch.from_numpy(natural_crop("camera", (32, 40))).float()[None, None] / 255
    with torch.no_grad():
        y = s.rsn(x)
        down = F.interpolate(x, size=(16, 20), mode="bicubic", align_corners=False, antialias=True)
        assert (y - down).abs().mean().item() < 0.1
        up = F.interpolate(y, size=(32, 40), mode="bicubic", align_corners=False)
        assert (s.idn(y, torch.ones(1)) - up).abs().mean().item() < 0.15


def test_capacity_options_build_what_they_say():
    s = ResamplingSystem(channels=1, scale=2, width=8, rsn_depth=2, idn_depth=3, block="residual",
                         upsample="pixel_shuffle")
    assert sum(isinstance(m, ResidualBlock) for m in s.idn.body) == 3
    assert sum(isinstance(m, ResidualBlock) for m in s.rsn.body) == 2
    assert isinstance(s.idn.body[-1], torch.nn.PixelShuffle) and s.idn.out.out_channels == 4
    assert s.hparams["block"] == "residual" and s.hparams["upsample"] == "pixel_shuffle"
    with pytest.raises(ConfigError, match=r"model\.block"):
        ResamplingSystem(block="dense")
    with pytest.raises(ConfigError, match=r"model\.idn_dilation"):
        ResamplingSystem(idn_depth=2, idn_dilation=[1, 0])
    with pytest.raises(ConfigError, match=r"model\.upsample"):
        ResamplingSystem(upsample="nearest")


def test_dilation_widens_the_decoder_and_survives_the_checkpoint(tmp_path):
    """``idn_dilation`` dilates the first convolution of each IDN/VCN residual block (a plain layer: itself);
    the checkpoint carries it, so the reloaded decoder is the same function."""
    from vcnlit.checkpoint import load_model, save_model
    from vcnlit.codecs import StandardCodec
    from vcnlit.nets.receptive import receptive_radius

    kw = dict(channels=1, scale=2, width=8, rsn_depth=1, idn_depth=3, block="residual", upsample="pixel_shuffle")
    torch.manual_seed(0)
    s = ResamplingSystem(**kw, idn_dilation=[1, 2, 4]).eval()
    assert [m.conv1.dilation[0] for m in ResamplingSystem(**kw, idn_dilation=[1, 2]).idn.body
            if isinstance(m, ResidualBlock)] == [1, 2, 1]  # repeated in turn
    plain = ResamplingSystem(**kw)
    blocks = [m for m in s.idn.body if isinstance(m, ResidualBlock)]
    assert [b.conv1.dilation[0] for b in blocks] == [1, 2, 4] and {b.conv2.dilation[0] for b in blocks} == {1}
    assert [m.conv1.dilation[0] for m in s.vcn.body if isinstance(m, ResidualBlock)] == [1, 2, 4]
    assert receptive_radius(s.idn) == receptive_radius(plain.idn) + 4
    assert "idn_dilation" not in plain.hparams  # the models trained before the option keep their hparams
    path = save_model(tmp_path / "model.ckpt", s, StandardCodec("jpeg", 50), "scic_lowres")
    loaded = load_model(path).system
    assert loaded.hparams["idn_dilation"] == [1, 2, 4]
    y, u = torch.rand(1, 1, 12, 16), torch.tensor([0.5])
    with torch.no_grad():
        assert torch.equal(loaded.idn(y, u), s.idn(y, u))


def test_bad_channels():
    with pytest.raises(ValueError, match="channels must be 1"):
        ResamplingSystem(channels=2)


@pytest.mark.parametrize("scale", [1, 2])
def test_self_ensemble_averages_the_flipped_decoder(scale):
    torch.manual_seed(0)
    s = ResamplingSystem(channels=1, scale=scale, width=8, rsn_depth=1, idn_depth=1, self_ensemble=4).eval()
    z, rate = torch.rand(1, 1, 16, 24), torch.full((1,), 0.5)
    with torch.no_grad():
        by_hand = (s.idn(z, rate) + s.idn(z.flip(-1), rate).flip(-1) + s.idn(z.flip(-2), rate).flip(-2)
                   + s.idn(z.flip(-2, -1), rate).flip(-2, -1)) / 4
        assert torch.allclose(s.restore(z, rate), by_hand, atol=1e-6)
        assert not torch.allclose(s.restore(z, rate), s.idn(z, rate), atol=1e-4)  # the flips do differ
        # a flip-symmetric input gives a flip-symmetric output under the full ensemble of 8 (square input)
        sym = torch.rand(1, 1, 16, 16)
        sym = sym + sym.flip(-1) + sym.flip(-2) + sym.flip(-2, -1)
        sym = (sym + sym.transpose(-1, -2)) / 8
        out = flip_ensemble(lambda t: s.idn(t, rate), sym, 8)
        assert torch.allclose(out, out.flip(-1), atol=1e-5) and torch.allclose(out, out.transpose(-1, -2), atol=1e-5)
    assert s.hparams["self_ensemble"] == 4
    s.set_self_ensemble(1)
    with torch.no_grad():
        assert torch.equal(s.restore(z, rate), s.idn(z, rate))
    for bad in (lambda: ResamplingSystem(channels=1, self_ensemble=3), lambda: s.set_self_ensemble(0)):
        with pytest.raises(ValueError, match=r"self_ensemble=.*choose one of"):
            bad()
