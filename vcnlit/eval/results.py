"""Results files in CompressAI's JSON layout, with the provenance that made them."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from vcnlit.io import write_json
from vcnlit.portable import portable

PACKAGES = ("vcnlit", "torch", "pytorch-lightning", "hydra-core", "pillow", "torchac", "numpy", "imagecodecs")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(config: dict | None = None) -> dict[str, Any]:
    """Command line, resolved config, git commit and package versions (paths made portable)."""
    return {
        "command": portable(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]])),
        "config": portable(config),
        "git_commit": git_commit(),
        "versions": versions(),
    }


def config_note(config: dict[str, Any] | None) -> str | None:
    """The ``eval.note`` of a run's resolved config (a smoke run's "not results" line), if any."""
    return ((config or {}).get("eval") or {}).get("note")


def results_json(
    name: str,
    description: str,
    results: dict[str, list[float]],
    results_by_image: dict[str, dict[str, list[float]]] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "description": description, "results": results}
    if results_by_image is not None:
        data["results_by_image"] = results_by_image
    data["meta"] = meta or {}
    return data


def write_results(path: str | Path, data: dict[str, Any]) -> Path:
    """Write a results file (or any file of results: curves, zoo index) atomically, every absolute path
    in it made portable (:func:`vcnlit.portable.portable`); returns ``path``."""
    return write_json(path, portable(data))


#: CompressAI's published files name RGB metrics like this; we read them as the plain names
ALIASES = {"psnr-rgb": "psnr", "ms-ssim-rgb": "ms-ssim", "ssim-rgb": "ssim"}


def read_json(path: str | Path) -> dict[str, Any]:
    """A results file (ours or CompressAI's); ``psnr-rgb``-style keys are also available as ``psnr``."""
    path = Path(path)
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or "bpp" not in data.get("results", {}):
        raise ValueError(f"{path} is not a results file (expected {{'name', 'results': {{'bpp', ...}}}})")
    for alias, key in ALIASES.items():
        if alias in data["results"] and key not in data["results"]:
            data["results"][key] = data["results"][alias]
    data.setdefault("name", path.stem)
    return data


def read_folder(folder: str | Path) -> list[dict[str, Any]]:
    """Every results file of ``folder`` (``*.json``, by name); other JSON files there (``curves.json``) are left out."""
    out = []
    for f in sorted(Path(folder).glob("*.json")):
        try:
            out.append(read_json(f))
        except ValueError:  # not a results file, or not JSON
            continue
    return out
