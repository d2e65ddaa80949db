"""Rate-distortion plots as PNG (matplotlib, no display needed).

Curves are told apart by group and resolution, not only by colour: learned models solid, their
after-a-stage ablations (IDN-only) dashed in the model's colour, standard codecs dotted; circles
for low-resolution re-sampling (the image is down-sampled before coding), squares for full resolution.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

#: (line style, line width) of each group
_LINES = {"model": ("-", 2.0), "stage": ("--", 1.5), "codec": (":", 1.6)}
_GROUP_NAMES = {"model": "ours (end-to-end)", "stage": "ours after a stage (IDN-only)", "codec": "standard codec"}
_MARKERS = {True: "o", False: "s"}  # low resolution?


def _group(curve: dict) -> str:
    meta = curve.get("meta") or {}
    return "stage" if "stage" in meta else "model" if "experiment" in meta else "codec"


def _family(curve: dict) -> str:
    """Curves of one family share a colour: a model and its after-a-stage ablation."""
    return (curve.get("meta") or {}).get("experiment") or curve["name"]


def _low_resolution(curve: dict) -> bool:
    """Whether the curve codes a down-sampled image (``meta.scale`` > 1; older files: ``lowres`` in the name)."""
    meta = curve.get("meta") or {}
    scale = meta.get("scale")
    return float(scale) > 1 if scale is not None else "lowres" in _family(curve)


def _points(curve: dict, metric: str) -> list[tuple[float, float]]:
    r = curve["results"]
    return sorted((b, m) for b, m in zip(r["bpp"], r.get(metric) or []) if m is not None)


def visible_range(curves: Sequence[dict], metric: str, xmax: float) -> tuple[float, float] | None:
    """Lowest and highest ``metric`` of the drawn lines between 0 and ``xmax`` bpp, including where a
    line leaves the plot at ``xmax``; None when nothing is visible."""
    values = []
    for c in curves:
        pts = _points(c, metric)
        values += [m for b, m in pts if b <= xmax]
        for (b0, m0), (b1, m1) in itertools.pairwise(pts):
            if b0 < xmax < b1:
                values.append(m0 + (m1 - m0) * (xmax - b0) / (b1 - b0))
    return (min(values), max(values)) if values else None


def styles(curves: Sequence[dict]) -> list[dict]:
    """Matplotlib line settings of each curve: a colour per family (a model and its after-a-stage
    ablation share one), the line style of its group, the marker of its resolution."""
    families = list(dict.fromkeys(_family(c) for c in curves))
    colors = plt.get_cmap("tab10" if len(families) <= 10 else "tab20").colors
    color = {f: colors[i % len(colors)] for i, f in enumerate(families)}
    return [{"color": color[_family(c)], "ls": _LINES[_group(c)][0], "lw": _LINES[_group(c)][1],
             "marker": _MARKERS[_low_resolution(c)], "ms": 3 if _group(c) == "codec" else 5} for c in curves]


def plot_rd(curves: list[dict], path: str | Path, metric: str = "psnr", title: str = "",
            xmax: float | None = None, note: str | None = None, mark: float | None = None) -> Path:
    """Plot ``metric`` against bpp for results dicts in CompressAI's layout.

    Args:
        curves: results dicts (``name``, ``results``, ``meta``).
        path: the PNG to write.
        metric: ``psnr``, ``ssim`` or ``ms-ssim``.
        title: the plot's title.
        xmax: the x axis ends here (the y axis holds every line up to it); None: every point.
        note: a line above the title, in red (e.g. that the numbers come from a smoke run).
        mark: a bitrate marked by a thin vertical line (where files are compared).

    Returns:
        ``path``.
    """
    many = len(curves) > 4
    fig, ax = plt.subplots(figsize=(9.2 if many else 6, 5.6 if many else 4.4), dpi=120)
    _draw(ax, curves, metric, title, xmax, key=many)
    if mark is not None:
        ax.axvline(mark, color="0.5", lw=0.8, ls="--", zorder=0)
    if note:
        fig.suptitle(note, color="firebrick", fontsize=10)
    return save_figure(fig, path)


def plot_rd_panels(panels: dict[str, tuple[list[dict], float | None]], path: str | Path, metric: str = "psnr",
                   note: str | None = None) -> Path:
    """One RD chart per panel, two to a row, styled as :func:`plot_rd`.

    Args:
        panels: ``{title: (curves, xmax)}``.
        path: the PNG to write.
        metric: ``psnr``, ``ssim`` or ``ms-ssim``.
        note: a line above the charts, in red.

    Returns:
        ``path``.
    """
    cols = min(2, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.6 * rows), dpi=110, squeeze=False)
    for ax, (title, (curves, xmax)) in zip(axes.flat, panels.items()):
        _draw(ax, curves, metric, title, xmax, key=False, legend_size=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if note:
        fig.suptitle(note, color="firebrick", fontsize=10)
    return save_figure(fig, path)


def _draw(ax, curves: list[dict], metric: str, title: str, xmax: float | None, key: bool,
          legend_size: float | None = None) -> None:
    """The curves on ``ax``; ``key``: names and the line-style key beside it (else names inside, in
    ``legend_size`` points)."""
    for c, style in zip(curves, styles(curves)):
        pts = _points(c, metric)
        if pts:
            ax.plot(*zip(*pts), label=c["name"], **style)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel({"psnr": "PSNR (dB)", "ssim": "SSIM", "ms-ssim": "MS-SSIM"}.get(metric, metric))
    ax.grid(alpha=0.3)
    if key:
        names = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        ax.add_artist(names)
        ax.legend(handles=_key(curves), loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=7.5,
                  frameon=False, title="key", title_fontsize=8)
    else:
        ax.legend(fontsize=legend_size)
    if title:
        ax.set_title(title)
    if xmax:
        ax.set_xlim(0, xmax)
        lo_hi = visible_range(curves, metric, xmax)
        if lo_hi:
            pad = 0.05 * (lo_hi[1] - lo_hi[0] or 1)
            ax.set_ylim(lo_hi[0] - pad, lo_hi[1] + pad)


def save_figure(fig, path: str | Path) -> Path:
    """Lay out ``fig``, write it to ``path`` (PNG) and close it."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def _key(curves: Sequence[dict]) -> list[Line2D]:
    """Legend entries for the line styles and markers in use."""
    gray = "0.35"
    out = [Line2D([], [], color=gray, ls=_LINES[g][0], lw=_LINES[g][1], label=_GROUP_NAMES[g])
           for g in _LINES if any(_group(c) == g for c in curves)]
    out += [Line2D([], [], color=gray, ls="none", marker=_MARKERS[low],
                   label="low resolution (down-sampled)" if low else "full resolution")
            for low in (True, False) if any(_low_resolution(c) == low for c in curves)]
    return out
