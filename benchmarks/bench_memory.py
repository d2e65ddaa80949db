"""Peak memory of ``vcnlit compress`` and ``vcnlit decompress`` on a 3840x2160 RGB image.

    python benchmarks/bench_memory.py [--quick]

Generates the image (a photo from scikit-image, resized), saves an untrained model of the
default size (``model=cpu``, RGB, the config's ``eval.tile_size``) for a low- and a
full-resolution experiment, and runs each command in a fresh process, reading that process's
peak resident set size (``VmHWM`` of /proc/self/status on Linux: unlike ``ru_maxrss``, it does not
carry over the RSS of the benchmark process that started it; ``ru_maxrss`` elsewhere). ``run`` returns::

    {"image": "3840x2160", "limit_mb": 2500, "tile_size": 512,
     "<experiment>": {"compress_mb", "decompress_mb", "compress_s", "decompress_s", "bytes", "bpp"}, ...}

Run as a script, it also stores that dict under "memory" in ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from PIL import Image

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, build, experiment_config
from vcnlit.checkpoint import save_model
from vcnlit.eval.results import read_json
from vcnlit.io import write_json

SIZE, QUICK_SIZE = (3840, 2160), (480, 270)  # (width, height)
EXPERIMENTS = ("scic_lowres", "scic_fullres")
LIMIT_MB = 2500
#: a child process: run the CLI, then print its own peak RSS in KiB (Linux's ru_maxrss keeps the peak of
#: the process it was forked from, so VmHWM, the peak of its own address space, where there is one)
_CHILD = ("import re, resource, sys\nfrom pathlib import Path\nfrom vcnlit.cli import main\nrc = main(sys.argv[1:])\n"
          "st = Path('/proc/self/status')\nm = re.search(r'VmHWM:\\s*(\\d+)', st.read_text()) if st.exists() else None\n"
          "print('MAXRSS', m.group(1) if m else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(rc)")


def make_image(path: Path, size: tuple[int, int]) -> Path:
    """A natural RGB photo at ``size`` (bicubic resize of scikit-image's astronaut and coffee, side by side)."""
    from skimage import data

    coffee = np.asarray(Image.fromarray(data.coffee()).resize((512, 512), Image.Resampling.BICUBIC))
    photo = np.concatenate([data.astronaut(), coffee], axis=1)
    Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC).save(path)
    return path


def _cli(*args: str) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, stdout) of one CLI command in a fresh process."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, cwd=ROOT,
                       timeout=1800, check=False)
    wall = time.perf_counter() - t
    m = re.search(r"^MAXRSS (\d+)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"vcnlit {args[0]} failed: {p.stderr.strip()[-500:]}")
    return int(m.group(1)) / 1024, wall, p.stdout


def measure(experiment: str, image: Path, work: Path, quick: bool) -> dict[str, Any]:
    cfg = experiment_config(experiment, quick=False, overrides=["model.channels=3"])
    system, codec = build(cfg)
    model = save_model(work / f"{experiment}.ckpt", system.eval(), codec, experiment,
                       meta={"config": {"eval": OmegaConf.to_container(cfg.eval, resolve=True)}})
    stream, out = work / f"{experiment}.vcn", work / f"{experiment}.png"
    c_mb, c_s, stdout = _cli("compress", str(image), str(stream), "--model", str(model), "--force")
    d_mb, d_s, _ = _cli("decompress", str(stream), str(out), "--model", str(model), "--force")
    with Image.open(image) as a, Image.open(out) as b:
        assert a.size == b.size, (a.size, b.size)
    bpp = float(re.search(r"([\d.]+) bpp", stdout).group(1))
    return {"compress_mb": round(c_mb, 1), "decompress_mb": round(d_mb, 1), "compress_s": round(c_s, 1),
            "decompress_s": round(d_s, 1), "bytes": stream.stat().st_size, "bpp": bpp}


def run(quick: bool = False) -> dict[str, Any]:
    """Measure, print and return the figures (see module doc)."""
    size = QUICK_SIZE if quick else SIZE
    cfg = experiment_config(EXPERIMENTS[0], quick=False)
    res: dict[str, Any] = {"image": f"{size[0]}x{size[1]}", "limit_mb": LIMIT_MB,
                           "tile_size": cfg.eval.get("tile_size"), "model": "cpu (untrained), RGB"}
    with tempfile.TemporaryDirectory(prefix="vcnlit-mem-") as tmp:
        work = Path(tmp)
        image = make_image(work / "image.png", size)
        for exp in EXPERIMENTS:
            r = measure(exp, image, work, quick)
            res[exp] = r
            print(f"{exp:<13} {res['image']}: compress peak {r['compress_mb']:7.0f} MB ({r['compress_s']:.0f} s), "
                  f"decompress peak {r['decompress_mb']:7.0f} MB ({r['decompress_s']:.0f} s), {r['bpp']:.3f} bpp",
                  flush=True)
    res["under_limit"] = all(res[e][k] < LIMIT_MB for e in EXPERIMENTS for k in ("compress_mb", "decompress_mb"))
    return res


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a 480x270 image: checks the script, no real figures")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.json")
    a = p.parse_args(argv)
    res = run(a.quick)
    results = read_json(a.out) if a.out.exists() else {}
    results["memory"] = res
    write_json(a.out, results)
    print(f"wrote memory figures to {a.out}")
    return res


if __name__ == "__main__":
    main()
