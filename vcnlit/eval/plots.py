"""Rate-distortion plots as PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _style(curve: dict) -> dict:
    """Learned models solid, their after-a-stage ablations dashed, plain codecs dotted."""
    meta = curve.get("meta") or {}
    if "stage" in meta:
        return {"ls": "--", "marker": "^", "ms": 3}
    if "experiment" in meta:
        return {"ls": "-", "marker": "o", "ms": 4, "lw": 2}
    return {"ls": ":", "marker": ".", "ms": 4}


def plot_rd(curves: list[dict], path: str | Path, metric: str = "psnr", title: str = "",
            xmax: float | None = None) -> Path:
    """Plot ``metric`` against bpp for results dicts in CompressAI's layout (x axis up to ``xmax``)."""
    many = len(curves) > 4
    fig, ax = plt.subplots(figsize=(8.4 if many else 6, 4.4), dpi=120)
    colors = plt.get_cmap("tab20" if len(curves) > 10 else "tab10").colors
    for i, c in enumerate(curves):
        r = c["results"]
        pts = sorted((b, m) for b, m in zip(r["bpp"], r.get(metric) or []) if m is not None)
        if pts:
            ax.plot(*zip(*pts), label=c["name"], color=colors[i % len(colors)], **_style(c))
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel({"psnr": "PSNR (dB)", "ssim": "SSIM", "ms-ssim": "MS-SSIM"}.get(metric, metric))
    ax.grid(alpha=0.3)
    if many:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    else:
        ax.legend()
    if title:
        ax.set_title(title)
    if xmax:
        ax.set_xlim(0, xmax)
        ax.autoscale(enable=True, axis="y", tight=False)
        lo_hi = [m for c in curves for b, m in zip(c["results"]["bpp"], c["results"].get(metric) or [])
                 if m is not None and b <= xmax]
        if lo_hi:
            pad = 0.05 * (max(lo_hi) - min(lo_hi) or 1)
            ax.set_ylim(min(lo_hi) - pad, max(lo_hi) + pad)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
