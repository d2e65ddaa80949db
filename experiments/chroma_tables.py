"""Chroma steps for PSNR on RGB: a zoo model's curve on the val photos with the psnr table's chroma steps
scaled by each factor (luma unchanged), its weights as they are.

    python experiments/chroma_tables.py MODEL [--scales 1,0.8,0.7,0.6,0.55] [--images DIR] [--out FILE]

Writes one results file per scale into ``--out`` (``{"scales": {scale: results}}``, each a CompressAI-style
results dict with ``psnr`` on RGB and ``psnr-y`` on luma), the command, commit and versions beside them,
and prints each scale's BD-rate against scale 1 (the psnr tables). The scale chosen this way is
``vcnlit.codecs.rate_proxy.PSNR_RGB_CHROMA_TABLE`` (the ``psnr_rgb`` table set).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vcnlit.checkpoint import load_model  # noqa: E402
from vcnlit.codecs import StandardCodec  # noqa: E402
from vcnlit.codecs.rate_proxy import JPEG_TABLES, PSNR_TABLE  # noqa: E402
from vcnlit.compressor import Compressor  # noqa: E402
from vcnlit.data import load_folder  # noqa: E402
from vcnlit.eval.metrics import bpp, psnr, psnr_y  # noqa: E402
from vcnlit.eval.results import provenance, results_json, write_results  # noqa: E402
from vcnlit.eval.tables import bd_rows  # noqa: E402
from vcnlit.zoo import resolve  # noqa: E402


def scaled(scale: float) -> tuple[tuple[int, ...], ...]:
    """The psnr table with its steps times ``scale`` (at least 1)."""
    return tuple(tuple(max(1, round(scale * v)) for v in row) for row in PSNR_TABLE)


@torch.no_grad()
def curve(comp: Compressor, images: list[tuple[str, torch.Tensor]], qualities: list[int]) -> dict:
    """The model's real files and decodes at ``qualities``: results by image and averaged."""
    by: dict[str, dict[str, list[float]]] = {}
    for name, x in images:
        x = x[None]
        h, w = x.shape[-2:]
        y = comp.rsn(comp.pad(x))
        r: dict[str, list[float]] = {"bpp": [], "psnr": [], "psnr-y": []}
        for q in qualities:
            rt = comp.round_trip(x, q, y=y)  # the real .vcn file and its decode
            r["bpp"].append(bpp(rt.nbytes[0], h, w))
            r["psnr"].append(float(psnr(rt.x_hat, x)[0]))
            r["psnr-y"].append(float(psnr_y(rt.x_hat, x)[0]))
        by[name] = r
    avg = {k: [sum(by[n][k][i] for n in by) / len(by) for i in range(len(qualities))] for k in ("bpp", "psnr", "psnr-y")}
    return {"results": {**avg, "quality": list(qualities)}, "results_by_image": by}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="a colour SCIC/JPEG zoo model")
    p.add_argument("--scales", default="1,0.8,0.7,0.6,0.55")
    p.add_argument("--images", type=Path, default=Path("~/.cache/vcnlit/embedded/val").expanduser())
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    torch.manual_seed(0)
    model = load_model(resolve(a.model))
    images = load_folder(a.images, 3, "--images")
    qualities = [5, 8, 12, 17, 25, 35, 50, 70] if model.system.scale == 2 else [5, 10, 20, 30, 45, 60, 75, 90]
    out: dict[str, dict] = {}
    for s in (float(v) for v in a.scales.split(",")):
        name = f"psnr_chroma{s:g}"
        JPEG_TABLES[name] = (PSNR_TABLE, scaled(s))
        comp = Compressor(model.system.eval(), StandardCodec("jpeg", model.codec.rate, tables=name))
        out[f"{s:g}"] = results_json(a.model, f"{a.model}, psnr table with chroma steps x{s:g}", **curve(comp, images,
                                                                                                        qualities))
        del JPEG_TABLES[name]
        first = out[next(iter(out))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cells = []
            for metric in ("psnr", "psnr-y"):
                pick = [{**d, "name": n, "results": {**d["results"], "psnr": d["results"][metric]},
                         "results_by_image": {i: {**r, "psnr": r[metric]} for i, r in d["results_by_image"].items()}}
                        for n, d in (("anchor", first), ("test", out[f"{s:g}"]))]
                row = bd_rows(pick, "anchor")[1]
                cells.append(f"{metric} {row['bd_rate_psnr']:+.1f} / {row['bd_rate_psnr_per_image']:+.1f} %")
        print(f"{a.model}, chroma x{s:g}: {', '.join(cells)} against x{next(iter(out))}", flush=True)
    if a.out:
        write_results(a.out, {"scales": out, "meta": {**provenance(), "images": [n for n, _ in images]}})


if __name__ == "__main__":
    main()
