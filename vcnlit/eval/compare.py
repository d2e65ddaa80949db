"""Compare a curve with a baseline at matched bitrate, and print the run's summary table."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table


def interp_at(bpp: list[float], values: list[float], at: float) -> float:
    """A baseline metric at bitrate ``at`` by linear interpolation (NaN outside the baseline's range)."""
    order = np.argsort(bpp)
    xs, ys = np.asarray(bpp)[order], np.asarray(values)[order]
    if at < xs[0] or at > xs[-1]:
        return float("nan")
    return float(np.interp(at, xs, ys))


def matched(results: dict[str, list[float]], baseline: dict[str, list[float]], rate_key: str,
            base_key: str = "quality") -> list[dict[str, Any]]:
    """One row per rate point: ours, the baseline point nearest in bpp, and the PSNR/SSIM gain at equal bpp."""
    rows = []
    for i, b in enumerate(results["bpp"]):
        j = int(np.argmin([abs(x - b) for x in baseline["bpp"]]))
        rows.append({
            rate_key: results[rate_key][i], "bpp": b, "psnr": results["psnr"][i], "ssim": results["ssim"][i],
            "base_" + base_key: baseline[base_key][j], "base_bpp": baseline["bpp"][j],
            "base_psnr": baseline["psnr"][j], "base_ssim": baseline["ssim"][j],
            "d_psnr": results["psnr"][i] - interp_at(baseline["bpp"], baseline["psnr"], b),
            "d_ssim": results["ssim"][i] - interp_at(baseline["bpp"], baseline["ssim"], b),
        })
    return rows


def print_summary(title: str, rows: list[dict[str, Any]], rate_key: str, base_name: str,
                  console: Console | None = None) -> None:
    t = Table(title=title)
    for c in (rate_key, "bpp", "PSNR", "SSIM", f"{base_name} q", f"{base_name} bpp", f"{base_name} PSNR",
              f"{base_name} SSIM", "dPSNR@bpp", "dSSIM@bpp"):
        t.add_column(c, justify="right")
    for r in rows:
        t.add_row(
            f"{r[rate_key]:g}", f"{r['bpp']:.3f}", f"{r['psnr']:.2f}", f"{r['ssim']:.4f}",
            f"{r['base_quality']:g}", f"{r['base_bpp']:.3f}", f"{r['base_psnr']:.2f}", f"{r['base_ssim']:.4f}",
            f"{r['d_psnr']:+.2f}", f"{r['d_ssim']:+.4f}",
        )
    (console or Console(width=max(Console().width, 130))).print(t)
