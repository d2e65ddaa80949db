"""Entropy-coding benchmark: torchac throughput, DNNC payload size vs its ideal code length, and the
context model against the per-band model on the same quantised coefficients.

    python benchmarks/bench_entropy.py [--quick]

Prints a small report and returns (from ``run``) a dict::

    {"throughput": {"torchac_encode": sym/s, "torchac_decode": sym/s,
                    "encode_symbols": sym/s, "decode_symbols": sym/s, "symbols": n},
     "dnnc": [{"image", "step", "bytes", "payload_bytes", "side_bytes", "ideal_bytes",
               "entropy_bytes", "ratio", "bpp", "psnr"}, ...],
     "models": [{"signal", "image", "step", "low_rate", "band_bytes", "context_bytes", "saving"}, ...],
     "context_time": {"<image>": {"encode_s", "decode_s", "bytes"}, ...},
     "codec_rd": [{"signal", "images", "settings", "bd_rate", "bd_psnr", "bpp", "psnr"}, ...]}

``ratio`` is arithmetic-coded payload / ideal code length under the model's own integer
CDFs (side info excluded); ``entropy_bytes`` is the empirical entropy of the per-band
histograms, the floor for any static per-band model.

``models``: both entropy models code the very same quantised coefficients (whole payloads,
side info included); ``saving`` is ``1 - context / band``. Signals: ``lowres``, the images
halved by 2x2 means (what a low-resolution RSN feeds the codec) at the ``dnnc_lowres`` rate
points (``low_rate``: the two coarsest); ``fullres``, the images as they are; ``ycbcr420``,
colour images as DNNC codes them by default (luma and half-resolution chroma planes). The
coefficients are those of a plain rounding quantiser (no dead zone), so both models see the
first format's symbols. ``context_time``: DnncCodec encode and decode of a 768x512 photo in
the default configuration (conf/codec/dct.yaml, step 16). ``codec_rd``: BD-rate and BD-PSNR
(PSNR of the coded signal, RGB for colour) of codec settings against the first format (per-band
model, RGB, plain rounding) over steps 16-128 on the ``lowres`` signals: the codec alone, no
networks. Nothing is written to disk.
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

from benchmarks.bench_codec import photo
from benchmarks.common import ROOT, median_time
from vcnlit.codecs import DnncCodec
from vcnlit.codecs import entropy as ent
from vcnlit.codecs.entropy.coder import _cdf_rows, load_torchac

STEPS = (4, 8, 16, 32)
#: the dnnc_lowres rate points (conf/experiment/dnnc_lowres.yaml); the two coarsest are its low rates
LOWRES_STEPS = (96, 64, 40, 24)


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
    tac = load_torchac()
    runs = 3 if quick else 7
    n = 1 << (17 if quick else 20)
    rng = np.random.default_rng(0)
    # a Laplacian-ish model over 33 symbols, one CDF row per symbol as torchac wants
    k = 33
    p = np.exp(-np.abs(np.arange(k) - k // 2) / 2.0)
    f = 1 + np.floor(p / p.sum() * (ent.MASS - k)).astype(np.int64)
    f[k // 2] += ent.MASS - f.sum()
    row = _cdf_rows(f, k + 2).astype(np.uint16).view(np.int16)
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


def _halve(y: torch.Tensor) -> torch.Tensor:
    """2x2 means, cropped to whole 8x8 blocks."""
    h, w = (v // 16 * 16 for v in y.shape[-2:])
    return torch.nn.functional.avg_pool2d(y[None, :, :h, :w], 2)[0]


def _colour_images(quick: bool) -> dict[str, torch.Tensor]:
    out = {}
    for name in ("astronaut", "coffee"):
        a = getattr(data, name)()
        if quick:
            a = a[128:256, 128:256]
        out[name] = torch.from_numpy(a.transpose(2, 0, 1).copy()).float() / 255.0
    return out


def _compare(signal: str, name: str, colour: str, y: torch.Tensor, step: float, low: bool) -> dict[str, Any]:
    band, ctx = (DnncCodec(step, colour=colour, entropy=e) for e in ("band", "context"))
    planes = band.quantize_planes(y)
    nb, nc = (len(c.entropy_encode(planes, tuple(y.shape))) for c in (band, ctx))
    return {"signal": signal, "image": f"{name} {y.shape[-2]}x{y.shape[-1]}", "step": step, "low_rate": low,
            "band_bytes": nb, "context_bytes": nc, "saving": 1 - nc / nb}


def models(quick: bool) -> list[dict[str, Any]]:
    """Bytes of the per-band and the context model on the same coefficients, per signal, image and step."""
    rows = []
    for name, y in _images(quick).items():
        for step in LOWRES_STEPS:
            rows.append(_compare("lowres", name, "rgb", _halve(y), step, step in LOWRES_STEPS[:2]))
        for step in STEPS:
            rows.append(_compare("fullres", name, "rgb", y, step, False))
    for name, y in _colour_images(quick).items():
        for step in LOWRES_STEPS:
            rows.append(_compare("ycbcr420", name, "ycbcr420", _halve(y), step, step in LOWRES_STEPS[:2]))
    return rows


#: codec settings whose RD curves ``codec_rd`` compares with the first format's
RD_VARIANTS: dict[str, dict[str, Any]] = {
    "context model": {"entropy": "context"},
    "context + dead zone": {"entropy": "context", "deadzone": 0.45, "deadzone_hf": 0.1},
    "default (conf/codec/dct.yaml)": {},  # filled from the config file
}
RD_STEPS = (16, 24, 40, 64, 96, 128)


def _default_spec() -> dict[str, Any]:
    from omegaconf import OmegaConf

    spec = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "codec" / "dct.yaml"))
    spec.pop("_target_", None)
    spec.pop("step", None)
    return spec


def codec_rd(quick: bool) -> list[dict[str, Any]]:
    """BD-rate (PSNR of the coded signal itself) of codec settings against the first format (per-band
    model, RGB, plain rounding) over RD_STEPS, on the ``lowres`` and ``ycbcr420`` signals of :func:`models`."""
    from vcnlit.eval.bd import bd
    from vcnlit.eval.metrics import psnr

    signals = {"lowres (gray)": {n: _halve(y) for n, y in _images(quick).items()},
               "lowres (RGB)": {n: _halve(y) for n, y in _colour_images(quick).items()}}
    variants = {**RD_VARIANTS, "default (conf/codec/dct.yaml)": _default_spec()}
    rows = []
    for signal, images in signals.items():
        curves = {}
        for name, kw in {"first format": {}, **variants}.items():
            bpp, quality = [], []
            for step in RD_STEPS:
                codec = DnncCodec(step, **kw)
                coded = [(codec.encode(y), y) for y in images.values()]
                bpp.append(sum(8 * len(p) for p, _ in coded) / sum(y[0].numel() for y in images.values()))
                quality.append(float(np.mean([psnr(codec.decode(p, tuple(y.shape))[None], y[None]).item()
                                              for p, y in coded])))
            curves[name] = {"bpp": bpp, "psnr": quality}
        for name in variants:
            r = bd(curves["first format"], curves[name])
            rows.append({"signal": signal, "images": list(images), "settings": name, "bd_rate": r.bd_rate,
                         "bd_psnr": r.bd_quality, "bpp": curves[name]["bpp"], "psnr": curves[name]["psnr"]})
    return rows


def context_time(quick: bool) -> dict[str, dict[str, float]]:
    """Encode and decode time of the default DNNC codec (conf/codec/dct.yaml) on a 768x512 photo."""
    codec = DnncCodec(16.0, **_default_spec())
    size = (64, 96) if quick else (512, 768)
    out = {}
    for channels in (1, 3):
        x = photo(channels, size)
        payload = codec.encode(x)
        runs = 2 if quick else 5
        out[f"{size[1]}x{size[0]} {'gray' if channels == 1 else 'RGB'} step {codec.rate:g}"] = {
            "encode_s": median_time(lambda x=x: codec.encode(x), runs),
            "decode_s": median_time(lambda x=x, p=payload: codec.decode(p, tuple(x.shape)), runs),
            "bytes": len(payload)}
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark, print a report and return the numbers."""
    tp = throughput(quick)
    rows = dnnc_sizes(quick)
    cmp_rows = models(quick)
    times = context_time(quick)
    rd = codec_rd(quick)
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
    print()
    print(f"{'signal':<10}{'image':<18}{'step':>5}{'band B':>9}{'context B':>10}{'saving':>8}")
    for r in cmp_rows:
        print(f"{r['signal']:<10}{r['image']:<18}{r['step']:>5g}{r['band_bytes']:>9}{r['context_bytes']:>10}"
              f"{100 * r['saving']:>7.1f}%{'  (low rate)' if r['low_rate'] else ''}")
    print()
    for name, t in times.items():
        print(f"default DNNC codec, {name}: encode {t['encode_s']:.3f} s, decode {t['decode_s']:.3f} s, "
              f"{t['bytes']} bytes")
    print()
    for r in rd:
        print(f"{r['signal']:<14} {r['settings']:<30} BD-rate {r['bd_rate']:+6.1f} %  BD-PSNR {r['bd_psnr']:+.2f} dB"
              " vs the first format")
    return {"throughput": tp, "dnnc": rows, "models": cmp_rows, "context_time": times, "codec_rd": rd}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer runs")
    return run(parser.parse_args(argv).quick)


if __name__ == "__main__":
    main()
