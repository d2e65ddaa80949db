"""Bjontegaard deltas (BD-rate, BD-PSNR) of one RD curve against an anchor, via the ``bjontegaard`` package."""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import bjontegaard
import numpy as np

#: BD numbers are reported with a warning when the anchor covers less than this share of the test curve
MIN_OVERLAP = 0.5


class BDResult(NamedTuple):
    bd_rate: float  # % bitrate change at equal quality (negative: the test curve saves bits)
    bd_quality: float  # quality change at equal bitrate (dB for PSNR)
    overlap: float  # share of the test curve's quality range (BD-rate) that the anchor covers, 0..1
    metric: str


def _points(results: dict, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(bpp, metric) pairs with finite values, sorted by bpp, duplicates in either axis dropped."""
    pts = sorted({(float(b), float(m)) for b, m in zip(results["bpp"], results.get(metric) or [])
                  if b is not None and m is not None and math.isfinite(b) and math.isfinite(m) and b > 0})
    keep: list[tuple[float, float]] = []
    for b, m in pts:  # BD needs strictly increasing rate and quality: drop points that do not improve
        if not keep or (b > keep[-1][0] and m > keep[-1][1]):
            keep.append((b, m))
    return np.array([p[0] for p in keep]), np.array([p[1] for p in keep])


def _overlap(anchor: np.ndarray, test: np.ndarray) -> float:
    lo, hi = max(anchor.min(), test.min()), min(anchor.max(), test.max())
    span = test.max() - test.min()
    return float(max(0.0, hi - lo) / span) if span > 0 else 0.0


def bd(anchor: dict, test: dict, metric: str = "psnr", method: str = "pchip") -> BDResult:
    """BD-rate (%) and BD-``metric`` of ``test`` against ``anchor`` (CompressAI ``results`` dicts).

    Piecewise cubic (pchip) interpolation over the overlapping range only; NaN where the
    curves do not overlap or have fewer than two usable points; a warning when the
    anchor covers less than ``MIN_OVERLAP`` of the test curve.
    """
    ra, da = _points(anchor, metric)
    rt, dt = _points(test, metric)
    if len(ra) < 2 or len(rt) < 2:
        return BDResult(math.nan, math.nan, 0.0, metric)
    overlap = _overlap(da, dt)
    if overlap == 0.0:
        warnings.warn(f"BD-rate: the curves do not overlap in {metric}; no BD numbers", stacklevel=2)
        return BDResult(math.nan, math.nan, 0.0, metric)
    if overlap < MIN_OVERLAP:
        warnings.warn(f"BD-rate: the anchor covers only {overlap:.0%} of the test curve's {metric} range; "
                      "the number describes that part alone", stacklevel=2)
    kw = {"method": method, "require_matching_points": False, "min_overlap": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # we warn above, relative to the test curve
        rate = float(bjontegaard.bd_rate(ra, da, rt, dt, **kw))
        quality = float(bjontegaard.bd_psnr(ra, da, rt, dt, **kw)) if _overlap(ra, rt) > 0 else math.nan
    return BDResult(rate, quality, overlap, metric)


class PerImageBD(NamedTuple):
    mean: float  # mean of the per-image BD-rates (%), NaN when no image has one
    rates: dict[str, float]  # image name -> its BD-rate (%), images both curves hold with finite numbers
    metric: str


def bd_per_image(anchor: dict, test: dict, metric: str = "psnr") -> PerImageBD:
    """BD-rate of ``test`` against ``anchor`` image by image (CompressAI results files with
    ``results_by_image``), and their mean.

    Curves averaged over images compare like with like only when both codecs take the same kind of
    rate point: a codec coded at fixed bitrates (JPEG 2000 here) averages every image at one bpp,
    one coded at fixed qualities (JPEG, the SCIC models) averages images of very different bpp, and
    the two averaged curves can rank the codecs the other way round from every single image. The
    mean of the per-image BD-rates has no such bias.
    """
    a, t = anchor.get("results_by_image") or {}, test.get("results_by_image") or {}
    rates = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an image whose curves miss each other just has no number
        for name in sorted(set(a) & set(t)):
            r = bd(a[name], t[name], metric).bd_rate
            if math.isfinite(r):
                rates[name] = r
    return PerImageBD(float(np.mean(list(rates.values()))) if rates else math.nan, rates, metric)
