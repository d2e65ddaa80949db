"""The gradient-proxy ablation's numbers: BD-rates against an anchor and against the ``none`` proxy of the
same seed, their spread over seeds, times and diagnostics, as markdown (``make ablation``).

A *record* is one run's RD curve (CompressAI layout, the run's ``rd.json``) whose ``meta["ablation"]``
holds ``experiment``, ``proxy``, ``seed``, ``seconds`` (its end-to-end stage), ``base_seconds`` (the
stages before, shared by the proxies of a seed), ``vcn_psnr`` and ``grad_fidelity``.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from typing import Any

from vcnlit.eval.bd import bd

#: the proxy every other one is compared with, seed by seed
REFERENCE = "none"
#: the name of the rows that show each seed's model after its imitation stage (before any proxy)
BASE = "after imitation"


def _info(record: dict[str, Any]) -> dict[str, Any]:
    return record["meta"]["ablation"]


def _bd_rate(anchor: dict[str, Any], test: dict[str, Any], quality: bool = False) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # partial overlaps are common at the ends of the curves
        r = bd(anchor["results"], test["results"], "psnr")
    return r.bd_quality if quality else r.bd_rate


def _stats(values: Sequence[float]) -> dict[str, float]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return {"mean": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"mean": statistics.fmean(v), "min": min(v), "max": max(v), "n": len(v)}


def _moves(reference: dict[str, Any], test: dict[str, Any]) -> tuple[float, float]:
    """Where ``test`` lands against ``reference`` at the same codec rate points: the mean change of the
    bitrate (%) and of the PSNR (dB) over the points both have."""
    a, b = reference["results"], test["results"]
    n = min(len(a["bpp"]), len(b["bpp"]))
    if not n:
        return math.nan, math.nan
    return (100 * statistics.fmean(b["bpp"][i] / a["bpp"][i] - 1 for i in range(n)),
            statistics.fmean(b["psnr"][i] - a["psnr"][i] for i in range(n)))


def compare(records: Sequence[dict[str, Any]], anchor: dict[str, Any]) -> None:
    """Add to each record's ``meta["ablation"]`` its BD-rate vs ``anchor``, (BD-rate, BD-PSNR) vs the
    reference proxy's run of the same experiment and seed, and where it lands against that run at the
    same rate points (``bits_vs_reference`` %, ``psnr_at_points_vs_reference`` dB; NaN without one)."""
    ref = {(_info(r)["experiment"], _info(r)["seed"]): r for r in records if _info(r)["proxy"] == REFERENCE}
    for r in records:
        info = _info(r)
        info["bd_rate_vs_anchor"] = _bd_rate(anchor, r)
        other = ref.get((info["experiment"], info["seed"]))
        info["bd_rate_vs_reference"] = _bd_rate(other, r) if other is not None else math.nan
        info["bd_psnr_vs_reference"] = _bd_rate(other, r, quality=True) if other is not None else math.nan
        info["bits_vs_reference"], info["psnr_at_points_vs_reference"] = (
            _moves(other, r) if other is not None else (math.nan, math.nan))


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per experiment, one row per proxy (in the order first seen) with statistics over its seeds.

    Each row: ``proxy``, ``seeds``, ``vs_anchor`` / ``vs_reference`` / ``psnr_vs_reference`` (mean, min,
    max over seeds), ``bits_vs_reference`` / ``psnr_at_points_vs_reference`` (means), ``spread``
    (max - min of BD-rate vs anchor, the seed-to-seed spread; NaN with fewer than two seeds that have one),
    ``beats_reference`` (BD-rate vs the reference below zero by more than the larger of this row's and
    the reference's spread), ``seconds``, ``total_seconds``, ``vcn_psnr``, ``grad_fidelity`` (means).
    Call :func:`compare` first.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        info = _info(r)
        groups.setdefault((info["experiment"], info["proxy"]), []).append(info)
    for (exp, proxy), infos in groups.items():
        a = _stats([i["bd_rate_vs_anchor"] for i in infos])
        row = {"proxy": proxy, "seeds": sorted(i["seed"] for i in infos), "vs_anchor": a,
               "vs_reference": _stats([i["bd_rate_vs_reference"] for i in infos]),
               "psnr_vs_reference": _stats([i["bd_psnr_vs_reference"] for i in infos]),
               "bits_vs_reference": _stats([i.get("bits_vs_reference") for i in infos])["mean"],
               "psnr_at_points_vs_reference": _stats([i.get("psnr_at_points_vs_reference") for i in infos])["mean"],
               "spread": a["max"] - a["min"] if a["n"] >= 2 else math.nan,
               "seconds": _stats([i.get("seconds") for i in infos])["mean"],
               "total_seconds": _stats([(i.get("seconds") or 0.0) + (i.get("base_seconds") or 0.0)
                                        for i in infos])["mean"],
               "vcn_psnr": _stats([i.get("vcn_psnr") for i in infos])["mean"],
               "grad_fidelity": _stats([i.get("grad_fidelity") for i in infos])["mean"]}
        out.setdefault(exp, []).append(row)
    for rows in out.values():
        ref = next((r for r in rows if r["proxy"] == REFERENCE), None)
        for row in rows:
            gain = -row["vs_reference"]["mean"]
            noise = max(row["spread"], ref["spread"]) if ref else math.nan
            row["beats_reference"] = (row["proxy"] not in (REFERENCE, BASE) and math.isfinite(gain)
                                      and math.isfinite(noise) and gain > noise)
    return out


def mean_curve(records: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    """The seed average of runs at the same rate points: mean bpp and PSNR per point."""
    n = min(len(r["results"]["bpp"]) for r in records)
    results = {k: [statistics.fmean(r["results"][k][i] for r in records) for i in range(n)] for k in ("bpp", "psnr")}
    # plots give each "experiment" its own colour: here each proxy; the shared model is dashed like a stage
    meta = {"experiment": name, "scale": records[0].get("meta", {}).get("scale"),
            **({"stage": "imitation"} if name == BASE else {})}
    return {"name": name, "results": results, "meta": meta}


def _f(v: float, spec: str = "+.1f", unit: str = "") -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{format(v, spec)}{unit}"


def _span(s: dict[str, float], unit: str = " %", spec: str = "+.1f") -> str:
    if not s["n"]:
        return "n/a"
    if s["n"] == 1:
        return _f(s["mean"], spec, unit)
    return f"{_f(s['mean'], spec, unit)} [{_f(s['min'], spec)}, {_f(s['max'], spec)}]"


def markdown_tables(summary: dict[str, list[dict[str, Any]]], anchor: str) -> str:
    """One markdown table per experiment (``## <experiment>``)."""
    head = ["proxy", "seeds", f"BD-rate vs {anchor}", "spread", f"BD-rate vs {REFERENCE}",
            f"BD-PSNR vs {REFERENCE}", f"lands vs {REFERENCE}: bits / PSNR", f"beats {REFERENCE}", "grad fidelity",
            "VCN PSNR", "end-to-end", "total"]
    parts = []
    for exp, rows in summary.items():
        lines = [f"## {exp}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows:
            cells = [r["proxy"], ",".join(map(str, r["seeds"])), _span(r["vs_anchor"]), _f(r["spread"], ".1f", " pt"),
                     _span(r["vs_reference"]), _span(r["psnr_vs_reference"], " dB", "+.2f"),
                     f"{_f(r['bits_vs_reference'], '+.1f', ' %')} / {_f(r['psnr_at_points_vs_reference'], '+.2f', ' dB')}",
                     "yes" if r["beats_reference"] else ("" if r["proxy"] in (REFERENCE, BASE) else "no"),
                     _f(r["grad_fidelity"], ".2f"), _f(r["vcn_psnr"], ".2f", " dB"),
                     _f(r["seconds"], ".0f", " s"), _f(r["total_seconds"], ".0f", " s")]
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
