"""The gradient-fidelity figure on cases with a known answer, and the diagnostics the stage logs."""

import math

import pytest
import pytorch_lightning as pl
import torch

from vcnlit.codecs import DnncCodec, StandardCodec
from vcnlit.data import ImageDataModule
from vcnlit.nets import ResamplingSystem
from vcnlit.stages import EndToEndStage
from vcnlit.stages.diagnostics import gradient_fidelity, pearson


def _smooth_loss():
    """A differentiable stand-in for codec + IDN with its exact gradient at a point."""
    torch.manual_seed(0)
    w, target = torch.randn(1, 1, 3, 3) / 3, torch.rand(1, 1, 16, 16)

    def loss(y):
        return torch.mean((torch.tanh(torch.nn.functional.conv2d(y, w, padding=1)) - target) ** 2)

    y = torch.rand(1, 1, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(loss(y), y)
    return loss, y.detach(), grad


def test_exact_gradient_scores_one_and_its_opposite_minus_one():
    loss, y, grad = _smooth_loss()
    assert gradient_fidelity(grad, loss, y, probes=32, eps=1e-3) > 0.999
    assert gradient_fidelity(-grad, loss, y, probes=32, eps=1e-3) < -0.999


def test_gradient_of_pure_noise_scores_about_zero():
    loss, y, grad = _smooth_loss()
    noise = torch.randn(grad.shape, generator=torch.Generator().manual_seed(7))
    scores = [gradient_fidelity(noise, loss, y, probes=200, eps=1e-3, generator=torch.Generator().manual_seed(s))
              for s in range(3)]
    assert all(abs(s) < 0.25 for s in scores)  # 1/sqrt(200) = 0.07 is its spread
    assert math.isnan(gradient_fidelity(torch.zeros_like(grad), loss, y, probes=8))
    with pytest.raises(ValueError, match="3 probes"):
        gradient_fidelity(grad, loss, y, probes=2)
    assert pearson([1, 2, 3], [2, 4, 6.5]) == pytest.approx(0.9986, abs=1e-3)


def _system():
    pl.seed_everything(0)
    return ResamplingSystem(channels=1, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)


def test_straight_through_is_faithful_when_the_codec_is_nearly_lossless(image_dirs):
    """A DNNC step of 0.01 makes the real codec all but the identity: the straight-through gradient is
    then the true one, and its fidelity is close to 1; the VCN imitates an untrained IDN poorly."""
    x = ImageDataModule(val_dir=str(image_dirs["val"]), channels=1).images("val")[0][1][None]
    stage = EndToEndStage(_system(), DnncCodec(0.01), [0.01], rsn_gradient="straight_through", fidelity_probes=16)
    d = stage.diagnostics(x)
    assert d["grad_fidelity"] > 0.95
    assert 5 < d["vcn_psnr"] < 100
    coarse = EndToEndStage(stage.system, DnncCodec(64.0), [64.0], rsn_gradient="straight_through").diagnostics(x)
    assert coarse["grad_fidelity"] < d["grad_fidelity"]
    assert math.isnan(EndToEndStage(stage.system, DnncCodec(8.0), [8.0], rsn_gradient="none").diagnostics(x)[
        "grad_fidelity"])


def test_validation_logs_the_diagnostics(image_dirs):
    """Inside Lightning's validation loop (inference mode) the diagnostics still get their gradients."""
    dm = ImageDataModule(**{f"{k}_dir": str(v) for k, v in image_dirs.items()}, channels=1, patch_size=32,
                         batch_size=4, steps_per_epoch=2)
    stage = EndToEndStage(_system(), StandardCodec("jpeg", 20), [20.0], rsn_gradient="diffjpeg", fidelity_probes=4)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0)
    trainer.fit(stage, datamodule=dm)
    logged = trainer.callback_metrics
    assert {"end_to_end/val_vcn_psnr", "end_to_end/val_grad_fidelity", "end_to_end/val_psnr"} <= set(logged)
    assert -1.0 <= float(logged["end_to_end/val_grad_fidelity"]) <= 1.0
