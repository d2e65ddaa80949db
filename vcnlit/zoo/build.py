"""Train zoo models and add them to the zoo: ``python -m vcnlit.zoo.build NAME [NAME ...] [-- OVERRIDES]``.

Each NAME is an experiment (``conf/experiment/NAME.yaml``). Its run goes to ``RUNS/NAME``
(``experiments/runs/zoo`` by default; an unfinished run resumes, a finished one is reused), then the
model file is copied to ``vcnlit/zoo/NAME.ckpt`` and ``index.json`` records how it was made and its
results on the embedded test images (the run's own evaluation), with its BD-rate against the
Huffman-optimised JPEG of the same settings that the run evaluated beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vcnlit.errors import RunDirError, exit_on_user_error
from vcnlit.eval.results import write_results
from vcnlit.io import write_bytes
from vcnlit.zoo import INDEX, ZOO_DIR

#: zoo model files stay small enough to ship in the package
MAX_MODEL_BYTES = 5_000_000


def _machine() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)}"
    except Exception:
        pass
    return f"CPU: {os.cpu_count()} cores ({platform.processor() or platform.machine()})"


def _embedded_training_data(data: dict[str, Any]) -> str:
    """What a run on the embedded set trained on, from its ``data`` config."""
    splits = "SPLITS['train']" + (" + SPLITS['train_more']" if data.get("more_photos") else "")
    return f"embedded training split (vcnlit/data/embedded.py {splits})"


def train(name: str, run_dir: Path, overrides: Sequence[str]) -> float | None:
    """Train (or resume) the run; returns its wall time in seconds, or None when it was already finished.

    The commit the training starts from is recorded in the run's ``run.json`` (``started_at_commit``).
    """
    from vcnlit.rundir import check_reusable, is_finished

    if is_finished(run_dir):
        check_reusable(run_dir, name, overrides)
        return None
    cmd = [sys.executable, "-m", "vcnlit.run", f"+experiment={name}", f"hydra.run.dir={run_dir}", *overrides]
    print("training:", " ".join(cmd[1:]), flush=True)
    start = time.monotonic()
    if subprocess.run(cmd).returncode != 0:
        raise RunDirError(f"training {name} failed; see {run_dir / 'run.log'} (the same command resumes it)")
    return time.monotonic() - start


def _read(path: Path) -> str | None:
    return path.read_text().strip() if path.is_file() else None


def _jpeg_anchor(config: dict[str, Any], channels: int, names: Sequence[str]) -> dict[str, Any]:
    """The JPEG baseline every other zoo model's run writes (:data:`~vcnlit.eval.baselines.JPEG_ANCHOR` at the
    run's ``eval.baseline_points``), on the images the run was evaluated on (the embedded test split unless
    ``data.test_dir`` names a folder)."""
    from vcnlit.data import load_folder
    from vcnlit.data.embedded import materialize
    from vcnlit.eval.baselines import JPEG_ANCHOR, CodecBaseline

    data = config["data"]
    folder = data.get("test_dir") or materialize(data["embedded_dir"])["test"]
    images = [(n, x) for n, x in load_folder(folder, channels, "data.test_dir") if not names or n in names]
    return CodecBaseline("jpeg", JPEG_ANCHOR, config["eval"]["baseline_points"]).evaluate(images, progress=False)


def entry(name: str, run_dir: Path, overrides: Sequence[str], seconds: float | None,
          eval_dir: Path | None = None) -> dict[str, Any]:
    """The zoo entry of a finished run (its model file already copied into the zoo); its results are the
    run's own evaluation, or those in ``eval_dir`` (``python -m vcnlit.evaluate model=NAME hydra.run.dir=DIR``)."""
    from vcnlit.checkpoint import load_model
    from vcnlit.codecs.registry import codec_spec
    from vcnlit.compressor import Compressor
    from vcnlit.eval.bd import bd
    from vcnlit.eval.results import provenance, read_json
    from vcnlit.rundir import read_marker

    model = load_model(ZOO_DIR / f"{name}.ckpt")
    results_dir = eval_dir or run_dir
    rd = read_json(results_dir / "rd.json")
    base_file = next(iter(sorted(results_dir.glob("baseline_*.json"))))
    base = read_json(base_file)
    config = model.meta.get("config") or {}
    data = config.get("data") or {}
    anchor = (f"{base['name']} ({base_file.name}: Huffman-optimised, the standard's tables, the model's other "
              "encoder settings)")
    if base["name"] != "jpeg":  # the zoo's BD-rates are all against JPEG: code the same images with it
        base = _jpeg_anchor(config, model.system.channels, rd["meta"].get("images") or [])
        anchor = "jpeg (Huffman-optimised, the standard's tables, 4:2:0 in colour; the model's codec is another)"
    previous = (json.loads(INDEX.read_text()) if INDEX.is_file() else {}).get(name, {})
    if seconds is None:  # a run trained before: the stage times its run.json recorded
        seconds = sum(((read_marker(run_dir) or {}).get("stage_seconds") or {}).values()) or None
    return {
        "file": f"{name}.ckpt",
        "experiment": model.experiment,
        "channels": model.system.channels,
        "codec": codec_spec(model.codec),
        "rate_key": model.codec.rate_key,
        "rate_points": model.rate_points,
        "fingerprint": Compressor(model.system, model.codec).fingerprint.hex(),
        "bd_rate_vs_jpeg": bd(base["results"], rd["results"], "psnr").bd_rate,
        "bd_anchor": anchor,
        "results": rd["results"],
        "results_by_image": rd.get("results_by_image"),
        "test_images": rd["meta"].get("images"),
        "command": " ".join(["python -m vcnlit.run", f"+experiment={name}", *overrides]),
        "seed": model.meta.get("seed"),
        "training_data": data.get("train_dir") or _embedded_training_data(data),
        "train_seconds": round(seconds, 1) if seconds is not None else previous.get("train_seconds"),
        "machine": previous.get("machine") or _machine(),
        "trained_at_commit": (read_marker(run_dir) or {}).get("started_at_commit")
        or _read(run_dir / "zoo_commit.txt") or rd["meta"].get("git_commit"),
        "evaluated_at_commit": rd["meta"].get("git_commit"),
        "config": config,
        **{k: v for k, v in provenance().items() if k in ("versions",)},
        **({"train_note": previous["train_note"]} if "train_note" in previous else {}),
    }


def add(name: str, runs_dir: Path, overrides: Sequence[str], evals_dir: Path | None = None) -> dict[str, Any]:
    """Train ``name`` if needed, copy its model into the zoo and record it in ``index.json`` (with the
    results in ``evals_dir/NAME`` when given, else the run's own)."""
    run_dir = runs_dir / name
    seconds = train(name, run_dir, overrides)
    size = (run_dir / "model.ckpt").stat().st_size
    if size > MAX_MODEL_BYTES:
        raise RunDirError(f"{name}: model file of {size / 1e6:.1f} MB is over the zoo's {MAX_MODEL_BYTES / 1e6:.0f} MB")
    write_bytes(ZOO_DIR / f"{name}.ckpt", (run_dir / "model.ckpt").read_bytes())  # atomic, like every write
    info = entry(name, run_dir, overrides, seconds, evals_dir / name if evals_dir else None)
    index = json.loads(INDEX.read_text()) if INDEX.is_file() else {}
    index[name] = info
    write_results(INDEX, dict(sorted(index.items())))
    print(f"{name}: added to the zoo ({size / 1e6:.2f} MB, BD-rate vs JPEG {info['bd_rate_vs_jpeg']:+.1f} %)")
    return info


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vcnlit.zoo.build", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+", help="experiments to train and add (e.g. scic_lowres_rgb)")
    p.add_argument("--runs-dir", type=Path, default=Path("experiments/runs/zoo"), help="where the runs go")
    p.add_argument("--overrides", nargs="*", default=[], help="Hydra overrides for every run")
    p.add_argument("--evals-dir", type=Path, default=None,
                   help="take each model's results from EVALS/NAME (a later `python -m vcnlit.evaluate "
                        "model=NAME hydra.run.dir=EVALS/NAME`) instead of its run's own evaluation")
    args = p.parse_args(argv)
    with exit_on_user_error():
        for name in args.names:
            add(name, args.runs_dir.resolve(), args.overrides, args.evals_dir.resolve() if args.evals_dir else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
