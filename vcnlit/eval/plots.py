"""Rate-distortion plots as PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_rd(curves: list[dict], path: str | Path, metric: str = "psnr", title: str = "",
            xmax: float | None = None) -> Path:
    """Plot ``metric`` against bpp for results dicts in CompressAI's layout (x axis up to ``xmax``)."""
    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    for c in curves:
        r = c["results"]
        pts = sorted((b, m) for b, m in zip(r["bpp"], r[metric]) if m is not None)
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=c["name"])
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel({"psnr": "PSNR (dB)", "ssim": "SSIM", "ms-ssim": "MS-SSIM"}.get(metric, metric))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    if xmax:
        ax.set_xlim(0, xmax)
        ax.autoscale(enable=True, axis="y", tight=False)
        lo_hi = [m for c in curves for b, m in zip(c["results"]["bpp"], c["results"][metric])
                 if m is not None and b <= xmax]
        if lo_hi:
            pad = 0.05 * (max(lo_hi) - min(lo_hi) or 1)
            ax.set_ylim(min(lo_hi) - pad, max(lo_hi) + pad)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
