"""The BD-rate table of README.md: auto_rgb against the committed codec curves, RGB and Y PSNR, up to 0.5 and
1 bpp, as the mean of the per-image BD-rates (vcnlit.eval.bd.bd_per_image) and on the averaged curves
(vcnlit.eval.bd.bd, the composite averaged over the images the other file holds).

    .venv/bin/python experiments/results/auto_default/bd_table.py
"""

from __future__ import annotations

import warnings
from typing import Any

from vcnlit.eval.bd import bd, bd_per_image
from vcnlit.eval.results import read_json
from vcnlit.eval.tables import up_to

R = "experiments/results"
SETS = {"test": (f"{R}/auto_default/auto_rgb_test.json", f"{R}/embedded_rgb"),
        "val": (f"{R}/auto_default/auto_rgb_val.json", f"{R}/bitstream_v4/val_rgb")}
CODECS = {"AVIF": "avif", "WebP": "webp", "JPEG XL": "jpegxl", "JPEG 2000": "jpeg2000", "JPEG": "jpeg_optimized"}
METRICS = {"RGB": "psnr", "Y": "psnr-y"}


def subset(curve: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """``curve`` averaged over ``names`` only, as :func:`vcnlit.eval.rd.rd_curve` averages."""
    by = {n: r for n, r in curve["results_by_image"].items() if n in names}
    n = len(curve["results"]["bpp"])
    res = {k: [sum(r[k][i] for r in by.values()) / len(by) for i in range(n)] for k in ("bpp", *METRICS.values())}
    return {**curve, "results": res, "results_by_image": by}


def cell(anchor: dict[str, Any], ours: dict[str, Any], metric: str, max_bpp: float) -> str:
    a, t = up_to(anchor, max_bpp), up_to(subset(ours, set(anchor["results_by_image"])), max_bpp)
    return f"{bd_per_image(a, t, metric).mean:+.1f} ({bd(a['results'], t['results'], metric).bd_rate:+.1f})"


def main() -> None:
    warnings.simplefilter("ignore")
    cols = [(s, m, x) for s in SETS for m in METRICS for x in (0.5, 1.0)]
    print("| auto_rgb against | " + " | ".join(f"{s}, {m}, <= {x:g} bpp" for s, m, x in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for label, stem in CODECS.items():
        row = []
        for s, m, x in cols:
            ours, folder = SETS[s]
            row.append(cell(read_json(f"{folder}/{stem}.json"), read_json(ours), METRICS[m], x))
        print(f"| {label} | " + " | ".join(f"{c} %" for c in row) + " |")


if __name__ == "__main__":
    main()
