"""notebooks/rd_curves.ipynb runs on the committed results the way the README says, and on any folder."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

from vcnlit.data import load_folder
from vcnlit.eval.baselines import CodecBaseline
from vcnlit.io import write_json


def _git_status() -> str | None:
    """``git status --porcelain`` of the checkout (None outside a git checkout)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.slow
def test_notebook_runs_on_its_default_input():
    """``cd notebooks && jupyter execute rd_curves.ipynb``: the committed results, nothing written that git sees."""
    here = Path(sys.executable).parent / "jupyter"
    jupyter = str(here) if here.exists() else shutil.which("jupyter")
    assert jupyter, "the `jupyter` command is missing (nbclient and jupyter_core provide `jupyter execute`)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCNLIT_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    before = _git_status()
    r = subprocess.run([jupyter, "execute", "rd_curves.ipynb"], cwd=ROOT / "notebooks", env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _git_status() == before


def test_rd_curves_notebook_executes(image_dirs, tmp_path, monkeypatch):
    images = load_folder(image_dirs["test"], 1, "data.test_dir")
    for name, fmt, pts in [("jpeg", "jpeg", [10, 30, 60, 90]), ("webp", "webp", [10, 30, 60, 90])]:
        write_json(tmp_path / f"{name}.json", CodecBaseline(name, {"format": fmt}, pts).evaluate(images, progress=False))
    (tmp_path / "curves.json").write_text(json.dumps({"meta": {}, "records": []}))  # not a results file: left out
    other = tmp_path / "extra" / "compressai-style.json"
    other.parent.mkdir()
    other.write_text(json.dumps({"name": "published", "description": "CompressAI layout",
                                 "results": {"bpp": [0.3, 0.6, 1.2], "psnr-rgb": [27.0, 30.0, 33.0],
                                             "ms-ssim-rgb": [0.9, 0.95, 0.98]}}))
    monkeypatch.setenv("VCNLIT_RESULTS", str(tmp_path))
    monkeypatch.setenv("VCNLIT_EXTRA", str(other))
    monkeypatch.setenv("VCNLIT_PLOTS", str(tmp_path / "plots"))
    nb = nbformat.read(ROOT / "notebooks" / "rd_curves.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "published" in text and "lowest BD-rate vs jpeg" in text
    assert (tmp_path / "plots" / "notebook_psnr.png").stat().st_size > 0
    assert not list(tmp_path.glob("*.png"))  # nothing written into the results folder
