"""Tables of RD results: BD-rate against an anchor, and the paper-style per-rate-point table."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from vcnlit.errors import ConfigError
from vcnlit.eval.bd import bd, bd_per_image
from vcnlit.eval.compare import interp_at

_SHORT = {"quality": "q", "step": "step "}


def _cut(r: dict[str, Any], max_bpp: float) -> dict[str, Any]:
    keep = [i for i, b in enumerate(r["bpp"]) if b <= max_bpp]
    return {k: [v[i] for i in keep] for k, v in r.items() if isinstance(v, list) and len(v) == len(r["bpp"])}


def up_to(curve: dict[str, Any], max_bpp: float | None) -> dict[str, Any]:
    """The curve with only its points at or below ``max_bpp`` (None: all of them), each image's too."""
    if max_bpp is None:
        return curve
    out = {**curve, "results": _cut(curve["results"], max_bpp)}
    if curve.get("results_by_image"):
        out["results_by_image"] = {n: _cut(r, max_bpp) for n, r in curve["results_by_image"].items()}
    return out


def bd_rows(curves: Sequence[dict[str, Any]], anchor: str, max_bpp: float | None = None) -> list[dict[str, Any]]:
    """BD-rate (PSNR and SSIM) and BD-PSNR of every curve against the one named ``anchor``, and the mean of
    the per-image BD-rates (PSNR; :func:`~vcnlit.eval.bd.bd_per_image`, NaN without per-image results).

    Args:
        curves: results dicts (CompressAI layout).
        anchor: the name of the reference curve.
        max_bpp: only the points at or below this rate count, on every curve (None: all).
    """
    curves = [up_to(c, max_bpp) for c in curves]
    by_name = {c["name"]: c for c in curves}
    if anchor not in by_name:
        raise ConfigError(f"anchor {anchor!r} is not among the curves {sorted(by_name)}")
    ref_curve = by_name[anchor]
    ref = ref_curve["results"]
    rows = []
    for c in curves:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            p = bd(ref, c["results"], "psnr")
            s = bd(ref, c["results"], "ssim")
        rows.append({"name": c["name"], "bd_rate_psnr": p.bd_rate, "bd_psnr": p.bd_quality,
                     "bd_rate_ssim": s.bd_rate, "overlap": p.overlap,
                     "bd_rate_psnr_per_image": bd_per_image(ref_curve, c, "psnr").mean,
                     "warning": "; ".join(str(w.message) for w in caught)})
    return rows


def _fmt(v: float | None, spec: str, signed: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return format(v, ("+" if signed else "") + spec)


def _col(results: dict[str, Any], metric: str) -> list[float | None]:
    return results.get(metric) or [None] * len(results["bpp"])


def print_bd_summary(curves: Sequence[dict[str, Any]], anchor: str, console: Console | None = None,
                     max_bpp: float | None = None) -> None:
    """Print every curve's BD numbers against ``anchor`` (only points at or below ``max_bpp``, if given)."""
    upto = f", points <= {max_bpp:g} bpp" if max_bpp is not None else ""
    t = Table(title=f"BD against {anchor}{upto} (negative BD-rate: fewer bits at equal quality; "
                    "per image: the mean of each image's BD-rate)")
    for col in ("method", "bpp range", "BD-rate (PSNR)", "per image", "BD-PSNR", "BD-rate (SSIM)", "overlap"):
        t.add_column(col, justify="right")
    curves = [up_to(c, max_bpp) for c in curves]
    for c, r in zip(curves, bd_rows(curves, anchor)):
        b = c["results"]["bpp"]
        t.add_row(r["name"], f"{min(b):.3f}-{max(b):.3f}" if b else "n/a",
                  *(_fmt(r[k], ".1f", True) + " %" for k in ("bd_rate_psnr", "bd_rate_psnr_per_image")),
                  _fmt(r["bd_psnr"], ".2f", True) + " dB", _fmt(r["bd_rate_ssim"], ".1f", True) + " %",
                  f"{r['overlap']:.0%}")
    (console or Console(width=max(Console().width, 120))).print(t)


def table_points(curve: dict[str, Any]) -> list[int]:
    """Indices of the points a table shows (``meta.table_points`` if set, else all), in increasing bpp."""
    meta, r = curve.get("meta", {}), curve["results"]
    key = meta.get("rate_key", "quality")
    wanted = meta.get("table_points")
    idx = list(range(len(r["bpp"])))
    if wanted and key in r:
        idx = [i for i, q in enumerate(r[key]) if any(abs(q - w) < 1e-9 for w in wanted)]
    return sorted(idx, key=lambda i: r["bpp"][i])


def markdown_tables(curves: Sequence[dict[str, Any]], anchor: str,
                    bpp_targets: Sequence[float] = (0.1, 0.2, 0.3, 0.5)) -> str:
    """Two markdown tables: bpp / PSNR / SSIM per rate point (with BD numbers) and PSNR at fixed bitrates."""
    bds = {r["name"]: r for r in bd_rows(curves, anchor)}
    n = max(len(table_points(c)) for c in curves)
    head = ["method", *(f"R{i + 1}: bpp / PSNR / SSIM" for i in range(n)),
            f"BD-rate vs {anchor} (PSNR)", "per image (mean)", "BD-PSNR", "BD-rate (SSIM)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in curves:
        r, key = c["results"], c.get("meta", {}).get("rate_key", "quality")
        cells = []
        for i in table_points(c):
            q = r.get(key, [None] * len(r["bpp"]))[i]
            tag = f"{_SHORT.get(key, key + ' ')}{q:g}: " if q is not None else ""
            cells.append(f"{tag}{r['bpp'][i]:.3f} / {_fmt(_col(r, 'psnr')[i], '.2f')} / "
                         f"{_fmt(_col(r, 'ssim')[i], '.4f')}")
        cells += [""] * (n - len(cells))
        b = bds[c["name"]]
        cells += [_fmt(b["bd_rate_psnr"], ".1f", True) + " %", _fmt(b["bd_rate_psnr_per_image"], ".1f", True) + " %",
                  _fmt(b["bd_psnr"], ".2f", True) + " dB",
                  _fmt(b["bd_rate_ssim"], ".1f", True) + " %"]
        lines.append("| " + " | ".join([c["name"], *cells]) + " |")

    head2 = ["method", *(f"PSNR @ {t:g} bpp" for t in bpp_targets), *(f"SSIM @ {t:g} bpp" for t in bpp_targets)]
    lines2 = ["| " + " | ".join(head2) + " |", "|" + "---|" * len(head2)]
    for c in curves:
        r = c["results"]
        vals = [_fmt(interp_at(r["bpp"], r[m], t) if m in r else None, ".2f" if m == "psnr" else ".4f")
                for m in ("psnr", "ssim") for t in bpp_targets]
        lines2.append("| " + " | ".join([c["name"], *vals]) + " |")
    notes = [f"- {r['name']}: {r['warning']}" for r in bds.values() if r["warning"]]
    return "\n".join([*lines, "", "Interpolated (linear in bpp) at fixed bitrates; n/a outside a curve's range:", "",
                      *lines2, *(["", "BD notes:", *notes] if notes else [])]) + "\n"
