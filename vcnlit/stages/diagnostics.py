"""How good a gradient proxy is: its gradient-fidelity figure (docs/evaluation.md, "Gradient proxies").

The codec has no gradient, so a proxy's gradient cannot be compared with a true one. What can be
measured is whether it *predicts* how the real loss moves. For a signal ``Y``, the proxy's gradient
``g`` of the loss at ``Y``, and ``N`` random probes ``d_i`` (i.i.d. Gaussian, ``eps`` per sample):

- predicted change ``p_i = <g, d_i>``;
- measured change ``m_i = (L(Y + d_i) - L(Y - d_i)) / 2``, ``L`` the real loss, through the real codec
  (central differences cancel the even-order terms of ``L``);
- **gradient fidelity** = the Pearson correlation of ``p`` and ``m`` over the probes, in [-1, 1].

It is 1 when ``g`` is the exact gradient of a smooth ``L`` (and ``eps`` is small), about 0 for a
gradient that does not depend on ``L``, and negative when the proxy points the wrong way. A
non-zero part of ``L`` that no first-order model can predict (the codec's rounding decisions that
the probes flip) lowers it for every proxy alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def gradient_fidelity(grad: Tensor, loss: Callable[[Tensor], Tensor], y: Tensor, probes: int = 16,
                      eps: float = 0.01, generator: torch.Generator | None = None) -> float:
    """Correlation between the changes of ``loss`` that ``grad`` predicts and those measured.

    Args:
        grad: the proxy's gradient of the loss at ``y`` (same shape).
        loss: the real loss as a function of the signal (a scalar tensor; no gradient needed).
        y: the signal the probes start from.
        probes: number of random perturbations (at least 3).
        eps: standard deviation of each perturbation's samples.
        generator: the probes' random generator (default: a fixed seed, so every call probes alike).

    Returns:
        The Pearson correlation in [-1, 1]; NaN when either set of changes does not vary.
    """
    if probes < 3:
        raise ValueError(f"gradient fidelity needs at least 3 probes, got {probes}")
    gen = generator or torch.Generator().manual_seed(0)
    predicted, measured = [], []
    with torch.no_grad():
        for _ in range(probes):
            d = eps * torch.randn(y.shape, generator=gen, dtype=y.dtype).to(y.device)
            predicted.append(float((grad * d).sum()))
            measured.append(float(loss(y + d) - loss(y - d)) / 2.0)
    return pearson(predicted, measured)


def pearson(a: list[float], b: list[float]) -> float:
    """Pearson correlation of two equally long lists; NaN when either does not vary."""
    t = torch.tensor([a, b], dtype=torch.float64)
    t = t - t.mean(1, keepdim=True)
    norms = t.norm(dim=1)
    if float(norms.min()) == 0.0:
        return math.nan
    return float((t[0] * t[1]).sum() / (norms[0] * norms[1]))
