"""Each stage does its job on a tiny run (real JPEG in the loop)."""

from functools import partial

import pytest
import pytorch_lightning as pl
import torch

from vcnlit.codecs import StandardCodec
from vcnlit.data import ImageDataModule
from vcnlit.nets import ResamplingSystem
from vcnlit.stages import AutoencoderStage, EndToEndStage, ImitationStage
from vcnlit.stages import base as stage_base
from vcnlit.stages.schedule import WarmupDecay, warmup_decay

RATES = [10.0, 30.0]
WARMUP5 = partial(warmup_decay, warmup_steps=5)


def _setup(image_dirs, seed=0):
    pl.seed_everything(seed)
    system = ResamplingSystem(channels=1, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)
    dm = ImageDataModule(**{f"{k}_dir": str(v) for k, v in image_dirs.items()}, channels=1, patch_size=32,
                         batch_size=8, steps_per_epoch=30)
    torch.manual_seed(123)
    batch = next(iter(dm.train_dataloader()))
    return system, StandardCodec("jpeg", 20), dm, batch


def _fit(stage, dm, epochs=1, precision="32-true"):
    pl.Trainer(max_epochs=epochs, precision=precision, logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False, limit_val_batches=0, accelerator="cpu").fit(stage, datamodule=dm)


def _real_loss(system, codec, x):
    with torch.no_grad():
        y = system.rsn(x)
        rates = [RATES[i % 2] for i in range(x.shape[0])]
        unit = torch.tensor([codec.rate_to_unit(r) for r in rates])
        z = codec.round_trip(y, rates).decoded
        x_hat = system.idn(z, unit)
        return torch.mean((x_hat - x) ** 2).item(), torch.mean((system.vcn(y, unit) - x_hat) ** 2).item()


def test_autoencoder_stage_lowers_its_loss(image_dirs):
    system, codec, dm, x = _setup(image_dirs)
    stage = AutoencoderStage(system, codec, RATES, lr=1e-3, scheduler=WARMUP5)

    def ae_loss():
        with torch.no_grad():
            return torch.mean((system.idn(system.rsn(x), torch.ones(x.shape[0])) - x) ** 2).item()

    before = ae_loss()
    _fit(stage, dm)
    assert ae_loss() < 0.5 * before  # measured: 0.10 x (0.0130 -> 0.0013)


def test_imitation_stage_lowers_vcn_distance_and_freezes_rsn(image_dirs):
    system, codec, dm, x = _setup(image_dirs)
    rsn_before = [p.clone() for p in system.rsn.parameters()]
    _, vcn_before = _real_loss(system, codec, x)
    _fit(ImitationStage(system, codec, RATES, lr=1e-3, scheduler=WARMUP5), dm)
    _, vcn_after = _real_loss(system, codec, x)
    assert vcn_after < 0.7 * vcn_before  # measured: 0.37 x (0.0116 -> 0.0043)
    assert all(torch.equal(a, b) for a, b in zip(rsn_before, system.rsn.parameters()))


def test_imitation_vcn_share_trains_the_vcn_in_the_last_batches_only(image_dirs):
    """vcn_share=0.5 of 30 batches: the IDN trains in all 30, the VCN in the last 15, on a schedule of its own."""
    system, codec, dm, _ = _setup(image_dirs)
    vcn_before = [p.clone() for p in system.vcn.parameters()]
    seen = []

    class Watch(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            seen.append(all(torch.equal(a, b) for a, b in zip(vcn_before, system.vcn.parameters())))

    stage = ImitationStage(system, codec, RATES, lr=1e-3, scheduler=partial(warmup_decay, warmup_steps=5, min_ratio=0.1),
                           vcn_share=0.5)
    pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, callbacks=[Watch()],
               enable_model_summary=False, limit_val_batches=0, accelerator="cpu").fit(stage, datamodule=dm)
    assert seen == [True] * 15 + [False] * 15
    idn_opt, vcn_opt = stage.optimizers()
    assert [len(o.optimizer.state) and next(iter(o.optimizer.state.values()))["step"].item() for o in (idn_opt, vcn_opt)] == [30, 15]
    assert [s.last_epoch for s in stage.lr_schedulers()] == [30, 15]
    assert vcn_opt.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.1, rel=1e-3)  # its own decay ended
    with pytest.raises(Exception, match="vcn_share"):
        ImitationStage(system, codec, RATES, vcn_share=0)


def test_bf16_mixed_training_lowers_the_real_loss_and_keeps_float32_weights(image_dirs):
    """Lightning's bf16-mixed (the default where the CPU has bfloat16 hardware): the end-to-end stage, rate
    term included, still lowers the real-codec loss, and the model stays float32."""
    system, codec, dm, x = _setup(image_dirs)
    _fit(ImitationStage(system, codec, RATES, lr=1e-3, scheduler=WARMUP5), dm, epochs=2, precision="bf16-mixed")
    loss_before, _ = _real_loss(system, codec, x)
    _fit(EndToEndStage(system, codec, RATES, lr=2e-4, scheduler=WARMUP5, rate_weight=0.1), dm, precision="bf16-mixed")
    loss_after, _ = _real_loss(system, codec, x)
    assert loss_after < 0.95 * loss_before
    assert {p.dtype for p in system.parameters()} == {torch.float32}


def test_end_to_end_moves_rsn_through_the_vcn(image_dirs):
    system, codec, dm, x = _setup(image_dirs)
    _fit(ImitationStage(system, codec, RATES, lr=1e-3, scheduler=WARMUP5), dm, epochs=2)
    rsn_before = [p.clone() for p in system.rsn.parameters()]
    loss_before, _ = _real_loss(system, codec, x)
    _fit(EndToEndStage(system, codec, RATES, lr=2e-4, scheduler=WARMUP5), dm)
    moved = sum((a - b).abs().sum().item() for a, b in zip(rsn_before, system.rsn.parameters()))
    assert moved > 0
    loss_after, _ = _real_loss(system, codec, x)
    assert loss_after < 0.9 * loss_before  # real-codec MSE, measured: 0.74 x (0.00303 -> 0.00224)


def test_learning_rate_warms_up_then_decays_to_its_floor(image_dirs):
    system, codec, dm, _ = _setup(image_dirs)
    stage = AutoencoderStage(system, codec, RATES, lr=1e-3, scheduler=partial(warmup_decay, warmup_steps=5, min_ratio=0.1))
    factor = WarmupDecay(30, warmup_steps=5, min_ratio=0.1)
    assert factor(0) == pytest.approx(0.2)
    assert factor(4) == pytest.approx(1.0)
    assert factor(29) < factor(15) < factor(5)
    _fit(stage, dm)  # 30 batches: the schedule ends at the floor
    assert stage.optimizers()[0].param_groups[0]["lr"] == pytest.approx(1e-3 * 0.1, rel=1e-3)
    assert WarmupDecay(30, warmup_steps=5, decay="constant")(29) == 1.0
    with pytest.raises(ValueError, match="decay"):
        WarmupDecay(30, decay="linear")


def test_rate_term_makes_the_rsn_cheaper_to_code(image_dirs):
    """With a rate weight the end-to-end stage moves Y towards fewer real JPEG bytes."""
    system, codec, dm, x = _setup(image_dirs)
    _fit(ImitationStage(system, codec, RATES, lr=1e-3, scheduler=WARMUP5), dm)
    state = {k: v.clone() for k, v in system.state_dict().items()}

    def real_bytes(s):
        with torch.no_grad():
            return sum(codec.round_trip(s.rsn(x), 30.0).nbytes)

    sizes = []
    for weight in (0.0, 1.0):
        system.load_state_dict(state)
        pl.seed_everything(1)
        _fit(EndToEndStage(system, codec, RATES, lr=1e-3, scheduler=WARMUP5, y_weight=0.0, rate_weight=weight), dm)
        sizes.append(real_bytes(system))
    assert sizes[1] < sizes[0]
    with pytest.raises(NotImplementedError, match="rate_weight=0"):
        EndToEndStage(system, StandardCodec("webp", 50), RATES, rate_weight=0.1)


def test_end_to_end_can_anchor_y_to_where_the_rsn_started(image_dirs):
    system, codec, _, x = _setup(image_dirs)
    stage = EndToEndStage(system, codec, RATES, y_weight=1.0, y_anchor="start")
    with torch.no_grad():
        assert stage.y_regulariser(x, system.rsn(x)).item() == 0.0
        assert stage.y_regulariser(x, system.rsn(x) + 0.1).item() == pytest.approx(0.01, rel=1e-4)
        bicubic = EndToEndStage(system, codec, RATES, y_weight=1.0)
        assert bicubic.y_regulariser(x, system.rsn(x)).item() > 0
    with pytest.raises(ValueError, match="y_anchor"):
        EndToEndStage(system, codec, RATES, y_anchor="nearest")


def test_training_rates_follow_their_weights(caplog):
    system = ResamplingSystem(channels=1, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)
    codec = StandardCodec("jpeg", 20)
    uniform = ImitationStage(system, codec, [5, 10, 70])
    weighted = ImitationStage(system, codec, [5, 10, 70], train_rate_weights=[[10, 0], [70, 4]])
    draws = weighted.sample_rates(3000)
    assert 10.0 not in draws and abs(draws.count(70.0) / 3000 - 4 / 5) < 0.03
    assert {*uniform.sample_rates(300)} == {5.0, 10.0, 70.0}
    # a weight for a rate that is not trained (e.g. after eval.rate_points=[...]) is ignored, with a warning
    # said once per process although every stage of a run builds its module from the same config
    stage_base._warn_once.cache_clear()
    with caplog.at_level("WARNING"):
        for _ in range(3):
            stage = ImitationStage(system, codec, [5, 10], train_rate_weights={70: 8})
            assert stage.train_rate_weights == [1.0, 1.0]
    assert caplog.text.count("[70.0] not among the training rates") == 1
    for bad in ([[5, -1]], {5: 0, 10: 0, 70: 0}, [1, 1, 1], [[70]]):
        with pytest.raises(ValueError, match="train_rate_weights must"):
            ImitationStage(system, codec, [5, 10, 70], train_rate_weights=bad)


def test_log_rd_domain_ignores_the_rate_estimates_scale(image_dirs):
    """In the log domain a constant factor on the bit estimate leaves the RSN's gradient unchanged,
    and distortion counts by ratios: doubling every image's error shifts the loss by ln 4 and halves
    the gradient."""
    system, codec, _, x = _setup(image_dirs)
    rates = [RATES[i % 2] for i in range(x.shape[0])]
    stage = EndToEndStage(system, codec, RATES, rate_weight=0.7, rd_domain="log")
    y = system.rsn(x).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(stage.rate_term(x, y, rates), y)
    real = codec.estimated_bits
    codec.estimated_bits = lambda *a, **k: 2.5 * real(*a, **k)
    (g_scaled,) = torch.autograd.grad(stage.rate_term(x, y, rates), y)
    codec.estimated_bits = real
    assert g.abs().sum() > 0 and torch.allclose(g, g_scaled, rtol=1e-4, atol=1e-8)
    target = x + 0.05 * torch.randn_like(x)
    x_hat = target.clone().requires_grad_(True)
    (g1,) = torch.autograd.grad(stage.rsn_distortion(x_hat, x), x_hat)
    worse = (x + 2 * (target - x)).requires_grad_(True)  # each image's error doubled: its ln shifts by ln 4
    (g2,) = torch.autograd.grad(stage.rsn_distortion(worse, x), worse)
    assert torch.allclose(g1, 2 * g2, rtol=1e-4, atol=1e-8)  # d ln(e^2)/de = 2/e: half the gradient at twice e
    assert stage.rsn_distortion(worse, x).item() == pytest.approx(stage.rsn_distortion(x_hat, x).item() + 1.3863, abs=1e-3)
    with pytest.raises(ValueError, match="rd_domain"):
        EndToEndStage(system, codec, RATES, rd_domain="dB")
