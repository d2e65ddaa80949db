"""The fused inference path (vcnlit/nets/fused.py) gives the plain modules' result."""

import pytest
import torch

from vcnlit.nets import ResamplingSystem, fused


def _system(block: str, scale: int, dilation: list[int] | None = None) -> ResamplingSystem:
    torch.manual_seed(0)
    return ResamplingSystem(channels=3, scale=scale, width=8, rsn_depth=2, idn_depth=2, outer_kernel=5,
                            block=block, upsample="pixel_shuffle", idn_dilation=dilation).eval()


def _plain(monkeypatch):
    monkeypatch.setattr(fused, "_OPS", None)


@pytest.mark.skipif(fused._OPS is None, reason="this torch build has no oneDNN fused convolutions")
@pytest.mark.parametrize("block", ["plain", "residual"])
@pytest.mark.parametrize("scale", [1, 2])
@pytest.mark.parametrize("dilation", [None, [1, 3]], ids=["", "dilated"])
def test_fused_equals_the_modules(block, scale, dilation, monkeypatch):
    s = _system(block, scale, dilation)
    x = torch.rand(1, 3, 24, 40).contiguous(memory_format=torch.channels_last)
    u = torch.tensor([0.4])
    with torch.no_grad():
        assert fused.usable(x)
        y, z = s.rsn(x), s.idn(x[..., ::scale, ::scale], u)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yb, zb = s.rsn(x), s.idn(x[..., ::scale, ::scale], u)
        with monkeypatch.context() as m:
            _plain(m)
            assert not fused.usable(x)
            y0, z0 = s.rsn(x), s.idn(x[..., ::scale, ::scale], u)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                yb0, zb0 = s.rsn(x), s.idn(x[..., ::scale, ::scale], u)
    # float32: float rounding (oneDNN may pick another kernel than aten's convolution for a shape)
    assert torch.allclose(y, y0, atol=1e-6) and torch.allclose(z, z0, atol=1e-6)
    # bfloat16: a residual sum rounded once instead of twice, about one bfloat16 step of the activations
    assert torch.allclose(yb, yb0, atol=2e-2) and torch.allclose(zb.float(), zb0.float(), atol=2e-2)


def test_training_keeps_the_modules():
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    assert not fused.usable(x)  # gradients on: plain modules
    with torch.no_grad():
        assert fused.usable(x) == (fused._OPS is not None)
        assert not fused.usable(x.double())


def test_the_network_input_is_not_overwritten():
    s = _system("residual", 2)
    x = torch.rand(1, 3, 16, 16)
    keep = x.clone()
    with torch.no_grad():
        s.rsn(x), s.idn(x, torch.tensor([0.5]))
    assert torch.equal(x, keep)
