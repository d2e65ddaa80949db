"""Entropy-coding benchmark: torchac throughput and DNNC payload size vs its ideal code length.

    python benchmarks/bench_entropy.py [--quick]

Prints a small report and returns (from ``run``) a dict::

    {"throughput": {"torchac_encode": sym/s, "torchac_decode": sym/s,
                    "encode_symbols": sym/s, "decode_symbols": sym/s, "symbols": n},
     "dnnc": [{"image", "step", "bytes", "payload_bytes", "side_bytes", "ideal_bytes",
               "entropy_bytes", "ratio", "bpp", "psnr"}, ...]}

``ratio`` is arithmetic-coded payload / ideal code length under the model's own integer
CDFs (side info excluded); ``entropy_bytes`` is the empirical entropy of the per-band
histograms, the floor for any static per-band model. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from skimage import color, data

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import median_time
from vcnlit.codecs import DnncCodec
from vcnlit.codecs import entropy as ent

STEPS = (4, 8, 16, 32)


def _images(quick: bool) -> dict[str, torch.Tensor]:
    imgs = {
        "camera": data.camera().astype(np.float64) / 255.0,
        "astronaut": color.rgb2gray(data.astronaut()),
    }
    out = {}
    for name, a in imgs.items():
        if quick:
            a = a[128:384, 128:384]
        out[name] = torch.from_numpy(np.ascontiguousarray(a)).float()[None]
    return out


def throughput(quick: bool) -> dict[str, float]:
    """Symbols per second of raw torchac calls and of the full encode/decode_symbols."""
    tac = ent._torchac()
    runs = 3 if quick else 7
    n = 1 << (17 if quick else 20)
    rng = np.random.default_rng(0)
    # a Laplacian-ish model over 33 symbols, one CDF row per symbol as torchac wants
    k = 33
    p = np.exp(-np.abs(np.arange(k) - k // 2) / 2.0)
    f = 1 + np.floor(p / p.sum() * (ent.MASS - k)).astype(np.int64)
    f[k // 2] += ent.MASS - f.sum()
    row = ent._cdf_rows(f, k + 2).astype(np.uint16).view(np.int16)
    cdf = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(row, (n, k + 2))))
    sym = torch.from_numpy(rng.choice(k, size=n, p=f / f.sum()).astype(np.int16))
    stream = tac.encode_int16_normalized_cdf(cdf, sym)
    assert torch.equal(tac.decode_int16_normalized_cdf(cdf, stream), sym)
    enc_t = median_time(lambda: tac.encode_int16_normalized_cdf(cdf, sym), runs)
    dec_t = median_time(lambda: tac.decode_int16_normalized_cdf(cdf, stream), runs)
    out = {"symbols": float(n), "torchac_encode": n / enc_t, "torchac_decode": n / dec_t}
    # the whole pipeline (models, side info, torchac) on a natural image at step 8
    img = next(iter(_images(quick).values()))
    q = DnncCodec(8).quantize(img)
    enc = ent.encode_symbols(q)
    m = q.numel()
    out["encode_symbols"] = m / median_time(lambda: ent.encode_symbols(q), runs)
    out["decode_symbols"] = m / median_time(lambda: ent.decode_symbols(enc, tuple(q.shape)), runs)
    return out


def dnnc_sizes(quick: bool) -> list[dict[str, Any]]:
    """Real payload vs ideal code length of DNNC on grayscale natural images."""
    codec = DnncCodec()
    rows = []
    for name, y in _images(quick).items():
        for step in STEPS:
            q = codec.quantize(y, step)
            enc = ent.encode_symbols(q)
            sizes = ent.split_sizes(enc, tuple(q.shape))
            ideal = ent.ideal_bits(q) / 8
            out = codec.decode(enc, tuple(y.shape), step)
            mse = float(((out - y) ** 2).mean())
            rows.append(
                {
                    "image": f"{name} {y.shape[-2]}x{y.shape[-1]}",
                    "step": step,
                    "bytes": len(enc),
                    "payload_bytes": sizes.payload,
                    "side_bytes": sizes.side,
                    "ideal_bytes": ideal,
                    "entropy_bytes": ent.entropy_bits(q) / 8,
                    "ratio": sizes.payload / ideal if ideal else 1.0,
                    "bpp": 8 * len(enc) / y[0].numel(),
                    "psnr": 10 * np.log10(1 / mse) if mse else float("inf"),
                }
            )
    return rows


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark, print a report and return the numbers."""
    tp = throughput(quick)
    rows = dnnc_sizes(quick)
    print(f"torchac, {int(tp['symbols'])} symbols (median of runs):")
    for key in ("torchac_encode", "torchac_decode", "encode_symbols", "decode_symbols"):
        print(f"  {key:<15} {tp[key] / 1e6:8.2f} M symbols/s")
    print()
    head = f"{'image':<18}{'step':>5}{'bytes':>9}{'payload':>9}{'side':>7}"
    print(head + f"{'ideal':>10}{'entropy':>10}{'real/ideal':>11}{'bpp':>7}{'PSNR':>7}")
    for r in rows:
        print(
            f"{r['image']:<18}{r['step']:>5}{r['bytes']:>9}{r['payload_bytes']:>9}"
            f"{r['side_bytes']:>7}{r['ideal_bytes']:>10.1f}{r['entropy_bytes']:>10.1f}"
            f"{r['ratio']:>11.5f}{r['bpp']:>7.3f}{r['psnr']:>7.2f}"
        )
    return {"throughput": tp, "dnnc": rows}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer runs")
    return run(parser.parse_args(argv).quick)


if __name__ == "__main__":
    main()
