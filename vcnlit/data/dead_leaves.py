"""Procedural training images with natural-image statistics: the dead-leaves model.

Opaque discs fall one over another until the canvas is covered; their radii follow a power law
(``p(r) ~ r^-3`` between ``r_min`` and ``r_max``, which gives the scale invariance and the roughly
``1/f^2`` power spectrum of natural photos) and their grey levels are uniform (in colour: a moderate tint around the grey level). Each
disc carries a faint linear gradient so that regions are not perfectly flat. The images depend on
nothing but ``(index, seed)``: the same call gives the same pixels on any machine.
"""

from __future__ import annotations

import numpy as np

#: discs per image at most (the canvas is normally covered long before)
MAX_DISCS = 20000


def _radius(rng: np.random.Generator, r_min: float, r_max: float, alpha: float = 3.0) -> float:
    """One draw of ``p(r) ~ r^-alpha`` on [r_min, r_max] by inverting its CDF."""
    a = 1.0 - alpha
    u = rng.random()
    return float((r_min**a + u * (r_max**a - r_min**a)) ** (1.0 / a))


def dead_leaves(size: int = 256, channels: int = 1, seed: int = 0, r_min: float = 3.0,
                r_max: float | None = None) -> np.ndarray:
    """One dead-leaves image, ``uint8`` of shape (size, size) or (size, size, 3).

    Args:
        size: width and height in pixels.
        channels: 1 (grey levels) or 3 (colours).
        seed: the image's seed (same seed, same image).
        r_min, r_max: smallest and largest disc radius in pixels (``r_max`` default: ``size / 2``).
    """
    rng = np.random.default_rng(seed)
    r_max = r_max or size / 2
    canvas = np.full((size, size, channels), np.nan, dtype=np.float32)
    uncovered = size * size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # painted front to back: a disc fills only the pixels no nearer disc covers (the occlusion of the
    # model, without drawing the discs that would end up hidden)
    for _ in range(MAX_DISCS):
        r = _radius(rng, r_min, r_max)
        cy, cx = rng.random(2) * size
        # a grey level, and in colour a moderate tint around it (natural colours are rarely saturated)
        colour = np.clip(rng.random() + 0.3 * (rng.random(channels) - 0.5) * (channels > 1), 0, 1).astype(np.float32)
        slope = (rng.random(2) - 0.5) * 0.4 / max(r, 1.0)
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, size)
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, size)
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
        inside = (dy * dy + dx * dx <= r * r) & np.isnan(canvas[y0:y1, x0:x1, 0])
        if not inside.any():
            continue
        shade = (slope[0] * dy + slope[1] * dx)[inside]
        canvas[y0:y1, x0:x1][inside] = np.clip(colour[None, :] + shade[:, None], 0.0, 1.0)
        uncovered -= int(inside.sum())
        if uncovered == 0:
            break
    canvas = np.nan_to_num(canvas, nan=0.5)
    out = np.rint(canvas * 255).astype(np.uint8)
    return out[..., 0] if channels == 1 else out
