"""Learning curves' numbers (``make curves``): each point of an axis (training steps, training data,
network capacity) against the axis' reference point, on the test and the val images, as markdown and
one PNG.

A *record* is one trained point: ``axis``, ``point`` (its label), ``overrides``, ``seconds`` (training
wall time), and per image set (``test``, ``val``) the model's RD results (CompressAI layout) and
``ceiling``: PSNR of IDN(RSN(X)) with no codec in between, the most the re-sampling design could
return at any rate.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vcnlit.eval.bd import bd

#: the image sets every point is measured on
SETS = ("test", "val")


def mean_gain(results: dict[str, Any], reference: dict[str, Any]) -> float:
    """Mean PSNR change over the rate points (dB) of ``results`` against ``reference`` (same rates).

    Bitrates move little between points of one axis (the codec and its rates do not change), so the
    mean PSNR change reads directly; BD-rate against the anchor is given beside it.
    """
    pairs = [(a, b) for a, b in zip(results["psnr"], reference["psnr"]) if a is not None and b is not None]
    return statistics.fmean(a - b for a, b in pairs) if pairs else math.nan


def bd_rate(anchor: dict[str, Any], results: dict[str, Any]) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # partial overlaps at the ends of the curves are expected
        return bd(anchor, results, "psnr").bd_rate


def summarise(records: Sequence[dict[str, Any]], references: dict[str, str],
              anchors: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per axis, one row per point: PSNR per rate point, the mean gain over the axis' reference point,
    BD-rate vs the anchor (per image set) and the no-codec ceiling.

    Args:
        records: the trained points (see the module docstring).
        references: the reference point's label of each axis.
        anchors: the anchor codec's results per image set (``test``, ``val``).
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for axis, ref_label in references.items():
        rows = [r for r in records if r["axis"] == axis]
        ref = next((r for r in rows if r["point"] == ref_label), None)
        table = []
        for r in rows:
            row: dict[str, Any] = {"point": r["point"], "seconds": r.get("seconds"), "overrides": r["overrides"]}
            for s in SETS:
                res = r[s]["results"]
                row[s] = {"bpp": res["bpp"], "psnr": res["psnr"], "ceiling": r[s]["ceiling"],
                          "gain": mean_gain(res, ref[s]["results"]) if ref else math.nan,
                          "bd_rate": bd_rate(anchors[s]["results"], res)}
            table.append(row)
        out[axis] = table
    return out


def _fmt(v: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if v is None or not math.isfinite(v) else format(v, spec) + unit


def markdown(summary: dict[str, list[dict[str, Any]]], references: dict[str, str], anchor: str) -> str:
    """One table per axis."""
    lines: list[str] = []
    for axis, rows in summary.items():
        lines += [f"## {axis} (reference: {references[axis]})", "",
                  "| point | test PSNR per rate point (dB) | test gain | test BD-rate vs " + anchor +
                  " | val gain | val BD-rate vs " + anchor + " | no-codec ceiling test / val | time |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            t, v = r["test"], r["val"]
            lines.append(
                f"| {r['point']} | {' / '.join(_fmt(p, '.2f') for p in t['psnr'])} | {_fmt(t['gain'], '+.2f', ' dB')} | "
                f"{_fmt(t['bd_rate'], '+.1f', ' %')} | {_fmt(v['gain'], '+.2f', ' dB')} | "
                f"{_fmt(v['bd_rate'], '+.1f', ' %')} | {_fmt(t['ceiling'], '.2f')} / {_fmt(v['ceiling'], '.2f', ' dB')} | "
                f"{_fmt((r['seconds'] or math.nan) / 60, '.1f', ' min')} |")
        lines.append("")
    return "\n".join(lines)


def plot(summary: dict[str, list[dict[str, Any]]], path: str | Path, note: str | None = None) -> Path:
    """One panel per axis: mean PSNR gain over the axis' reference point, test and val, per point."""
    from vcnlit.eval.plots import plt, save_figure

    fig, axes = plt.subplots(1, len(summary), figsize=(4.2 * len(summary), 3.6), squeeze=False)
    for ax, (axis, rows) in zip(axes[0], summary.items()):
        xs = range(len(rows))
        for s, style in zip(SETS, ("-o", "--s")):
            ax.plot(list(xs), [r[s]["gain"] for r in rows], style, label=s)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xticks(list(xs), [r["point"] for r in rows], rotation=30, ha="right", fontsize=8)
        ax.set_title(axis)
        ax.set_ylabel("mean PSNR gain vs reference (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if note:
        fig.suptitle(note, fontsize=9)
    return save_figure(fig, path)
