"""Encode and decode time of one 768x512 image per experiment, and the time of a full RD curve.

Networks are the default model size with weights drawn from a fixed seed (timing does not
depend on training); the codec makes real bitstreams through the public Compressor API.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from PIL import Image
from skimage import data

from benchmarks.common import EXPERIMENTS, build, experiment_config, median_time
from vcnlit.compressor import Compressor
from vcnlit.eval.rd import model_code_fn, rd_curve
from vcnlit.refinement import Refinement

SIZE = (512, 768)  # (H, W)
#: steps of the encoder-side refinement timed beside the plain encode (`vcnlit compress --refine N`)
REFINE_STEPS = 10
#: experiments whose full RD curve on the default test images is timed
RD_EXPERIMENTS = ("scic_lowres", "dnnc_lowres")


def photo(channels: int, size: tuple[int, int] = SIZE) -> torch.Tensor:
    """A natural photo (scikit-image's astronaut) resized to ``size``, as a (C, H, W) tensor."""
    im = Image.fromarray(data.astronaut()).convert("L" if channels == 1 else "RGB")
    a = np.asarray(im.resize(size[::-1], Image.BICUBIC), dtype=np.float32) / 255.0
    t = torch.from_numpy(a)
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def encode_decode(exp: str, quick: bool, runs: int) -> dict[str, Any]:
    cfg = experiment_config(exp, quick)
    system, codec = build(cfg)
    system.eval()
    comp = Compressor(system, codec)
    size = (64, 96) if quick else SIZE
    x = photo(system.channels, size)
    rate = float(cfg.eval.rate_points[len(cfg.eval.rate_points) // 2])
    stream = comp.compress(x, rate)
    enc = median_time(lambda: comp.compress(x, rate), runs)
    dec = median_time(lambda: comp.decompress(stream), runs)
    refining = Compressor(system, codec, refinement=Refinement(steps=REFINE_STEPS))
    refined = median_time(lambda: refining.compress(x, rate), max(1, runs // 2))
    return {"image": f"{size[1]}x{size[0]}", "channels": system.channels, codec.rate_key: rate,
            "bpp": 8 * len(stream) / (size[0] * size[1]), "encode_s": enc, "decode_s": dec,
            "encode_plus_decode_s": enc + dec, "runs": runs, "refine_steps": REFINE_STEPS,
            "encode_refined_s": refined, "encode_refined_ratio": refined / enc}


def rd_time(exp: str, quick: bool, runs: int) -> dict[str, Any]:
    cfg = experiment_config(exp, quick)
    system, codec = build(cfg)
    system.eval()
    images = instantiate(cfg.data).images("test")
    if quick:
        images = [(n, x[:, :64, :64]) for n, x in images[:1]]
    points = [float(r) for r in cfg.eval.rate_points]
    code = model_code_fn(Compressor(system, codec))
    t = median_time(lambda: rd_curve(code, images, points, codec.rate_key, progress=False), runs, warmup=0)
    return {"images": [n for n, _ in images], "pixels": sum(x.shape[-1] * x.shape[-2] for _, x in images),
            "rate_points": points, "seconds": t, "runs": runs}


def run(quick: bool = False) -> dict[str, Any]:
    runs = 2 if quick else 5
    out: dict[str, Any] = {"encode_decode": {}, "rd_curve": {}}
    for exp in EXPERIMENTS:
        r = out["encode_decode"][exp] = encode_decode(exp, quick, runs)
        print(f"{exp:<13} {r['image']}: encode {r['encode_s']:.3f} s  decode {r['decode_s']:.3f} s  "
              f"({r['bpp']:.3f} bpp); refined encode ({REFINE_STEPS} steps) {r['encode_refined_s']:.2f} s, "
              f"x{r['encode_refined_ratio']:.1f}", flush=True)
    for exp in RD_EXPERIMENTS:
        t = time.perf_counter()
        r = out["rd_curve"][exp] = rd_time(exp, quick, 1 if quick else 3)
        print(f"{exp:<13} RD curve, {len(r['images'])} images x {len(r['rate_points'])} rate points: "
              f"{r['seconds']:.2f} s (median; {time.perf_counter() - t:.0f} s in all)", flush=True)
    return out
