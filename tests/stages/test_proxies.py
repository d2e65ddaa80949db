"""Gradient proxies of the end-to-end stage: each one's gradient reaches the RSN (and no frozen net),
what must come from the real codec does, diffjpeg tracks the real JPEG, wrong pairs are one-line errors."""

import pytest
import pytorch_lightning as pl
import torch
from conftest import ROOT, natural_crop, run_module

from vcnlit.codecs import DnncCodec, StandardCodec
from vcnlit.codecs.dct import dct_bands
from vcnlit.errors import ConfigError
from vcnlit.eval.metrics import psnr
from vcnlit.nets import ResamplingSystem
from vcnlit.stages import EndToEndStage
from vcnlit.stages.proxies import PROXIES, DiffJpegProxy, NoiseProxy, applicable, build_proxy

#: each proxy with a codec it applies to and that codec's one training rate
CASES = {
    "vcn": (lambda: StandardCodec("jpeg", 20), 20.0),
    "straight_through": (lambda: DnncCodec(24.0), 24.0),
    "diffjpeg": (lambda: StandardCodec("jpeg", 20), 20.0),
    "noise": (lambda: DnncCodec(24.0), 24.0),
    "none": (lambda: StandardCodec("jpeg", 20), 20.0),
}


def _photo(size=(32, 48), n=2, name="camera"):
    """(n, 1, H, W) natural grayscale crops in [0, 1]."""
    x = torch.from_numpy(natural_crop(name, size)).float()[None, None] / 255.0
    return torch.cat([x, x.flip(-1)][:n])


def _stage(proxy, seed=0):
    pl.seed_everything(seed)
    system = ResamplingSystem(channels=1, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)
    make_codec, rate = CASES[proxy]
    return EndToEndStage(system, make_codec(), [rate], lr=1e-3, rsn_gradient=proxy), rate


def test_every_proxy_has_a_case():
    assert set(CASES) == set(PROXIES)


@pytest.mark.parametrize("proxy", [p for p in CASES if PROXIES[p].updates_rsn])
def test_proxy_gradient_reaches_the_rsn_and_no_frozen_net(proxy):
    stage, rate = _stage(proxy)
    system, x = stage.system, _photo()
    unit = stage.compressor.rate_units([rate] * 2)
    y = system.rsn(x)
    z = stage.decoded(y.detach(), [rate] * 2)
    x_hat = stage.through_codec(y, z, unit, [rate] * 2)
    if proxy == "straight_through":  # forward: the IDN on the real decoded signal, exactly
        assert torch.equal(x_hat, system.idn(z, unit))
    torch.mean((x_hat - x) ** 2).backward()
    assert all(p.grad is None for p in [*system.vcn.parameters(), *system.idn.parameters()])
    assert all(p.grad is not None for p in system.rsn.parameters())
    assert sum(p.grad.abs().sum() for p in system.rsn.parameters()) > 0
    assert all(p.requires_grad for p in [*system.idn.parameters(), *system.vcn.parameters()])  # unfrozen after


@pytest.mark.parametrize("proxy", list(CASES))
def test_idn_and_vcn_learn_from_the_real_codec(proxy):
    """Whatever the proxy, a step's IDN loss is measured on the real decoded signal and the VCN imitates
    that; `none` leaves the RSN as it was and trains the other two."""
    stage, rate = _stage(proxy)
    system, x = stage.system, _photo()
    stage.use_optimizers(stage.configure_optimizers()[0])
    unit = stage.compressor.rate_units([rate] * 2)
    with torch.no_grad():
        y = system.rsn(x)
        real = stage.codec.round_trip(y, rate).decoded
        expected_idn = torch.mean((system.idn(real, unit) - x) ** 2)
    before = {k: v.clone() for k, v in system.state_dict().items()}
    losses = stage.step(x)
    assert losses["idn_loss"].item() == pytest.approx(expected_idn.item(), rel=1e-5)
    moved = {net: any(not torch.equal(before[k], v) for k, v in system.state_dict().items() if k.startswith(net))
             for net in ("rsn", "idn", "vcn")}
    assert moved == {"rsn": proxy != "none", "idn": True, "vcn": True}
    assert ("rsn_loss" in losses) == (proxy != "none")
    assert stage.trains == (("idn", "vcn") if proxy == "none" else ("idn", "vcn", "rsn"))


@pytest.mark.parametrize("channels,quality,min_db", [(1, 5, 40.0), (1, 20, 44.0), (1, 70, 46.0), (3, 20, 36.0)])
def test_diffjpeg_forward_tracks_the_real_jpeg(channels, quality, min_db):
    """Kornia's JPEG with the encoder's tables stays within a stated PSNR of Pillow's decoded signal
    (measured on the embedded val image: 44.7-50.8 dB grayscale, 35.0-44.8 dB RGB; see DiffJpegProxy)."""
    y = torch.from_numpy(natural_crop("astronaut", (96, 128), rgb=channels == 3)).float() / 255.0
    y = (y[None, None] if channels == 1 else y.permute(2, 0, 1)[None])
    codec = StandardCodec("jpeg", quality)
    real = codec.round_trip(y, quality).decoded
    fake = DiffJpegProxy(codec).decoded(y, [quality])
    assert fake.shape == y.shape
    assert psnr(fake, real).item() >= min_db
    assert psnr(fake, real).item() > psnr(real, y).item() + 8  # far closer to the JPEG than JPEG is to Y


def test_noise_proxy_perturbs_each_dct_coefficient_by_at_most_half_a_step():
    codec = DnncCodec(4.0)
    y = 0.3 + 0.4 * _photo((32, 32), n=1)  # inside (0, 1): nothing clamps
    steps = codec.quantiser_steps(4.0)
    torch.manual_seed(0)
    noisy = NoiseProxy(codec).decoded(y.double(), [4.0])
    err = dct_bands(noisy * 255.0, 8) - dct_bands(y.double() * 255.0, 8)
    assert err.abs().max() <= steps.max() / 2 + 1e-6
    assert err.std().item() == pytest.approx(4.0 / 12**0.5, rel=0.15)  # uniform over one step
    assert abs(err.mean().item()) < 0.1
    exact = codec.reconstruct(y, 4.0)  # the real codec's error has the same bound, but is a rounding
    assert (dct_bands(exact * 255.0, 8) - dct_bands(y * 255.0, 8)).abs().max() <= 2.0 + 1e-3


def test_noise_proxy_codes_colour_in_the_codecs_own_planes():
    """With a step too fine to matter, the noisy signal is the codec's decoded one: YCbCr with chroma at
    half resolution, as the codec sets it, not the RGB channels."""
    codec = DnncCodec(0.01, colour="ycbcr420")
    y = torch.from_numpy(natural_crop("astronaut", (32, 48), rgb=True)).float().permute(2, 0, 1)[None] / 255.0
    y = y.double().requires_grad_(True)
    noisy = NoiseProxy(codec).decoded(y, [0.01])
    exact = codec.reconstruct(y.detach(), 0.01).double()
    assert (noisy - exact).abs().max() < 1e-3 < (exact - y).abs().max()  # 4:2:0 loses detail; both alike
    noisy.sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_proxies_refuse_codecs_they_do_not_imitate():
    jpeg, dct, webp = StandardCodec("jpeg", 20), DnncCodec(24.0), StandardCodec("webp", 50)
    assert applicable(jpeg) == ["vcn", "straight_through", "diffjpeg", "none"]
    assert applicable(dct) == ["vcn", "straight_through", "noise", "none"]
    assert applicable(webp) == ["vcn", "straight_through", "none"]
    for name, codec in (("diffjpeg", dct), ("diffjpeg", webp), ("noise", jpeg)):
        with pytest.raises(ConfigError, match=f"rsn_gradient={name}") as e:
            build_proxy(name, codec)
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="rsn_gradient"):
        build_proxy("finite_differences", jpeg)


def test_inapplicable_pair_is_a_one_line_error(tmp_path):
    p = run_module("vcnlit.run", "+experiment=dnnc_lowres", "debug=smoke", "logger=csv",
                   "stages.end_to_end.module.rsn_gradient=diffjpeg", f"hydra.run.dir={tmp_path / 'run'}",
                   cwd=ROOT)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: stages.end_to_end.module.rsn_gradient=diffjpeg")
    assert not (tmp_path / "run" / "stages").exists()
