"""What a user waits for: ``vcnlit compress`` and ``decompress`` with the default model, timed from
process start to file written, with their peak memory, against AVIF on the same photo.

    python benchmarks/bench_memory.py [--quick]

For a 768x512 and a 3840x2160 RGB photo (scikit-image photos, resized), each command runs in a fresh
process (as a user's shell runs it: interpreter start, imports, model load, coding, the file written)
and reports its own peak resident set size (``VmHWM`` of /proc/self/status on Linux: unlike
``ru_maxrss``, it does not carry over the RSS of the benchmark process that started it). AVIF (Pillow,
quality 50) encodes and decodes the same photo in the same run, in-process (no interpreter start: the
ratio is, if anything, to vcnlit's disadvantage). ``run`` returns::

    {"model": "<default model>", "limit_mb": 1000, "max_ratio_vs_avif": 5.0,
     "<W>x<H>": {"compress_s", "decompress_s", "compress_mb", "decompress_mb", "bytes", "bpp",
                  "avif_s", "ratio_vs_avif", "compress_bpp_s", "compress_bpp_mb", "bpp_target"}, ...}

``compress_bpp_*``: ``vcnlit compress --bpp 0.5`` of the same photo, which codes and decodes every candidate of
the default (:mod:`vcnlit.multirate`); a figure, not held to the limits above.

Run as a script, it also stores that dict under "memory" in ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, wall_times
from vcnlit.eval.results import write_results

SIZES, QUICK_SIZES = ((768, 512), (3840, 2160)), ((96, 64), (480, 270))  # (width, height)
#: what the issue asks of a 3840x2160 photo: peak memory, and compress + decompress against AVIF's encode + decode
LIMIT_MB = 1000
MAX_RATIO_VS_AVIF = 5.0
#: the size budget of the ``--bpp`` row (a rate between the default's two members)
BPP_TARGET = 0.5
#: a child process: run the CLI, print its own peak RSS in KiB (Linux's ru_maxrss keeps the peak of the
#: process it was forked from, so VmHWM, the peak of its own address space, where there is one), then exit
#: as the ``vcnlit`` command does
_CHILD = ("import re, resource, sys\nfrom pathlib import Path\nfrom vcnlit.cli import exit_now, main\n"
          "rc = main(sys.argv[1:])\n"
          "st = Path('/proc/self/status')\nm = re.search(r'VmHWM:\\s*(\\d+)', st.read_text()) if st.exists() else None\n"
          "print('MAXRSS', m.group(1) if m else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nexit_now(rc)")


def make_image(path: Path, size: tuple[int, int]) -> Path:
    """A natural RGB photo at ``size`` (bicubic resize of scikit-image's astronaut and coffee, side by side)."""
    from skimage import data

    coffee = np.asarray(Image.fromarray(data.coffee()).resize((512, 512), Image.Resampling.BICUBIC))
    photo = np.concatenate([data.astronaut(), coffee], axis=1)
    Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC).save(path)
    return path


def _cli(*args: str) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds from process start to exit, stdout) of one CLI command in a fresh process."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, cwd=ROOT,
                       timeout=1800, check=False)
    wall = time.perf_counter() - t
    m = re.search(r"^MAXRSS (\d+)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"vcnlit {args[0]} failed: {p.stderr.strip()[-500:]}")
    return int(m.group(1)) / 1024, wall, p.stdout


def avif_seconds(image: Path, quality: int = 50) -> float:
    """Wall seconds of Pillow's AVIF encode + decode of ``image`` (the best of two)."""
    with Image.open(image) as im:
        rgb = im.convert("RGB")

    def encode_decode() -> None:
        buf = io.BytesIO()
        rgb.save(buf, "AVIF", quality=quality)
        buf.seek(0)
        with Image.open(buf) as back:
            back.load()

    return min(wall_times(encode_decode, 2, warmup=0))


def measure(image: Path, work: Path) -> dict[str, Any]:
    """The default model's compress and decompress of ``image``, each in a fresh process, and AVIF's time."""
    stream, out = work / "photo.vcn", work / "restored.png"
    c_mb, c_s, stdout = _cli("compress", str(image), str(stream), "--force")
    d_mb, d_s, _ = _cli("decompress", str(stream), str(out), "--force")
    b_mb, b_s, _ = _cli("compress", str(image), str(work / "budget.vcn"), "--bpp", str(BPP_TARGET), "--force")
    with Image.open(image) as a, Image.open(out) as b:
        assert a.size == b.size, (a.size, b.size)
    avif = avif_seconds(image)
    bpp = float(re.search(r"([\d.]+) bpp", stdout).group(1))
    return {"compress_s": round(c_s, 2), "decompress_s": round(d_s, 2), "compress_mb": round(c_mb, 1),
            "decompress_mb": round(d_mb, 1), "bytes": stream.stat().st_size, "bpp": bpp,
            "avif_s": round(avif, 3), "ratio_vs_avif": round((c_s + d_s) / avif, 1),
            "compress_bpp_s": round(b_s, 2), "compress_bpp_mb": round(b_mb, 1), "bpp_target": BPP_TARGET}


def run(quick: bool = False) -> dict[str, Any]:
    """Measure, print and return the figures (see module doc)."""
    from vcnlit.zoo import DEFAULT_MODEL

    res: dict[str, Any] = {"model": DEFAULT_MODEL, "limit_mb": LIMIT_MB, "max_ratio_vs_avif": MAX_RATIO_VS_AVIF}
    with tempfile.TemporaryDirectory(prefix="vcnlit-user-") as tmp:
        work = Path(tmp)
        for size in QUICK_SIZES if quick else SIZES:
            key = f"{size[0]}x{size[1]}"
            r = res[key] = measure(make_image(work / f"{key}.png", size), work)
            print(f"{key:>9}: compress {r['compress_s']:.1f} s, {r['compress_mb']:.0f} MB; decompress "
                  f"{r['decompress_s']:.1f} s, {r['decompress_mb']:.0f} MB; {r['bpp']:.3f} bpp; AVIF encode + decode "
                  f"{r['avif_s']:.2f} s (x{r['ratio_vs_avif']:.1f}); compress --bpp {BPP_TARGET:g} "
                  f"{r['compress_bpp_s']:.1f} s, {r['compress_bpp_mb']:.0f} MB", flush=True)
    return res


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small photos: checks the script, no real figures")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.json")
    a = p.parse_args(argv)
    res = run(a.quick)
    results = json.loads(a.out.read_text()) if a.out.exists() else {}  # every benchmark's figures
    results["memory"] = res
    write_results(a.out, results)
    print(f"wrote memory figures to {a.out}")
    return res


if __name__ == "__main__":
    main()
