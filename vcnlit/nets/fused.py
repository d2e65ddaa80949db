"""Inference through oneDNN's fused kernels: a convolution with the ReLU or residual sum that follows it
in one pass over memory.

At the networks' widths a CPU convolution is bound by memory traffic, not arithmetic: a separate ReLU or
residual sum reads and writes the whole activation once more, and each fresh output buffer costs page
faults (what fusing saves: docs/benchmarks.md). Only where no
gradient is needed, on CPU, in float32 or bfloat16 (under autocast the convolutions run in its dtype, as
autocast runs them); training keeps the plain modules. In float32 the result is the modules' up to float
rounding; in bfloat16 a residual sum is rounded once instead of twice (its cost in bits: docs/benchmarks.md's
table ``speed``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

_DTYPES = (torch.float32, torch.bfloat16)


def _ops() -> tuple[object, object] | None:
    """oneDNN's fused convolutions (out of place with a post-op, and in place summing into ``other``)."""
    mkldnn = getattr(torch.ops, "mkldnn", None)
    try:
        return mkldnn._convolution_pointwise.default, mkldnn._convolution_pointwise_.binary  # type: ignore[union-attr]
    except (AttributeError, RuntimeError):
        return None


_OPS = _ops() if torch.backends.mkldnn.is_available() else None


def _dtype(x: Tensor) -> torch.dtype:
    """The dtype a convolution of ``x`` computes in (autocast's where it is on, as autocast runs it)."""
    if x.dtype == torch.float32 and torch.is_autocast_enabled("cpu"):
        return torch.get_autocast_dtype("cpu")
    return x.dtype


def usable(x: Tensor) -> bool:
    """Whether :func:`sequential` can run on ``x`` (CPU, no gradient, float32 or bfloat16)."""
    return (_OPS is not None and x.device.type == "cpu" and not torch.is_grad_enabled()
            and _dtype(x) in _DTYPES)


def _args(layer: nn.Conv2d, dtype: torch.dtype) -> list[object]:
    """The kernel's arguments for ``layer`` in ``dtype``: the weights' copy in that dtype is kept on the layer
    until the weights change (an image's tiles and flips reuse it)."""
    w = layer.weight
    key = (dtype, w.data_ptr(), w._version, None if layer.bias is None else layer.bias._version)
    cached = getattr(layer, "_fused_args", None)
    if cached is None or cached[0] != key:
        bias = layer.bias.to(dtype) if layer.bias is not None else None
        args = [w.to(dtype), bias, list(layer.padding), list(layer.stride), list(layer.dilation), layer.groups]
        cached = (key, args)
        object.__setattr__(layer, "_fused_args", cached)  # a plain attribute: not a parameter or buffer
    return cached[1]


def conv(layer: nn.Conv2d, x: Tensor, relu: bool = False) -> Tensor:
    """``layer(x)``, followed by a ReLU where ``relu``, in one kernel."""
    assert _OPS is not None and isinstance(layer.padding, tuple)
    dtype = _dtype(x)
    return _OPS[0](x.to(dtype), *_args(layer, dtype), "relu" if relu else "none", [], "")


def conv_add_(layer: nn.Conv2d, x: Tensor, acc: Tensor) -> Tensor:
    """``acc += layer(x)`` in one kernel (``acc`` is overwritten and returned)."""
    assert _OPS is not None
    dtype = _dtype(x)
    return _OPS[1](acc, x.to(dtype), *_args(layer, dtype), "add", 1.0, None, [], None)


def sequential(body: nn.Sequential, x: Tensor) -> Tensor:
    """``body(x)`` with each convolution fused with the ReLU after it and each residual block's sum fused
    with its second convolution (see the module doc; call only where :func:`usable`)."""
    layers, i, owned = list(body), 0, False  # owned: x is a buffer made here (a block may sum into it)
    while i < len(layers):
        m = layers[i]
        following = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(m, nn.Conv2d) and isinstance(m.padding, tuple) and m.padding_mode == "zeros":
            relu = isinstance(following, nn.ReLU)
            x, owned, i = conv(m, x, relu), True, i + 1 + int(relu)
            continue
        if getattr(m, "fuses_residual", False) and x.dtype == _dtype(x):  # a ResidualBlock
            acc = x if owned else x.clone()
            x, owned, i = conv_add_(m.conv2, conv(m.conv1, x, relu=True), acc), True, i + 1
            continue
        x, owned, i = m(x), False, i + 1
    return x
