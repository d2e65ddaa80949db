"""Results files record paths relative to the repository, the data set's name or the home folder."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

from vcnlit.baselines import run_baselines
from vcnlit.data import load_folder
from vcnlit.eval.baselines import CodecBaseline
from vcnlit.eval.results import provenance
from vcnlit.portable import MACHINE_PATH, REPO, portable, portable_path


def test_paths_become_portable(tmp_path, monkeypatch):
    monkeypatch.setenv("VCNLIT_CACHE", str(tmp_path / "cache"))
    assert portable_path(REPO / "experiments" / "runs" / "default") == "experiments/runs/default"
    assert portable_path(REPO) == "."
    assert portable_path(tmp_path / "cache" / "embedded" / "val") == "embedded/val"
    assert portable_path(Path.home() / "photos" / "kodak") == "~/photos/kodak"
    assert portable_path("/srv/scratch/run7/model.ckpt") == "model.ckpt"
    for kept in ("experiments/results", "~/.cache/vcnlit", "rd.json"):
        assert portable_path(kept) == kept


def test_paths_inside_text_and_config():
    command = f"evaluate.py ckpt_path=/srv/x/model.ckpt data.test_dir={Path.home()}/kodak hydra.run.dir={REPO}/out/a"
    assert portable(command) == "evaluate.py ckpt_path=model.ckpt data.test_dir=~/kodak hydra.run.dir=out/a"
    assert portable(f"- runs: `{REPO}/experiments/runs/x` (2 seeds)") == "- runs: `experiments/runs/x` (2 seeds)"
    for text in ("bicubic /2, jpeg, bicubic x2", "bytes x 8 / pixels", "https://github.com/x/y", "psnr/ssim"):
        assert portable(text) == text
    config = {"paths": {"run_dir": "/srv/runs/a"}, "data": {"test_dir": None, "dirs": [f"{REPO}/photos"]}, "seed": 0}
    assert portable(config) == {"paths": {"run_dir": "a"}, "data": {"test_dir": None, "dirs": ["photos"]}, "seed": 0}


def test_results_files_hold_no_absolute_path(image_dirs, tmp_path):
    """A results file written from a config full of absolute paths names none of them."""
    images = load_folder(image_dirs["test"], 1, "data.test_dir")
    prov = provenance({"data": {"test_dir": str(image_dirs["test"])}, "paths": {"run_dir": str(tmp_path)}})
    run_baselines([CodecBaseline("jpeg", {"format": "jpeg"}, [20, 60])], images, tmp_path, prov)
    text = (tmp_path / "jpeg.json").read_text()
    assert str(image_dirs["test"]) not in text and str(tmp_path) not in text
    assert json.loads(text)["meta"]["config"]["data"]["test_dir"] == image_dirs["test"].name


def test_tracked_files_hold_no_machine_path():
    """``git grep`` finds no absolute path of a machine in the tracked files (model files included)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    found = subprocess.run(["git", "grep", "-n", "-E", MACHINE_PATH], cwd=ROOT, capture_output=True, text=True)
    assert found.returncode == 1, f"absolute paths in tracked files:\n{found.stdout[:3000]}"
