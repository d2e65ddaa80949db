"""notebooks/rd_curves.ipynb runs on vcnlit results plus a CompressAI-format file."""

import json

import nbformat
from conftest import ROOT
from nbclient import NotebookClient

from vcnlit.data import load_folder
from vcnlit.eval.baselines import CodecBaseline
from vcnlit.io import write_json


def test_rd_curves_notebook_executes(image_dirs, tmp_path, monkeypatch):
    images = load_folder(image_dirs["test"], 1, "data.test_dir")
    for name, fmt, pts in [("jpeg", "jpeg", [10, 30, 60, 90]), ("webp", "webp", [10, 30, 60, 90])]:
        write_json(tmp_path / f"{name}.json", CodecBaseline(name, {"format": fmt}, pts).evaluate(images, progress=False))
    other = tmp_path / "extra" / "compressai-style.json"
    other.parent.mkdir()
    other.write_text(json.dumps({"name": "published", "description": "CompressAI layout",
                                 "results": {"bpp": [0.3, 0.6, 1.2], "psnr-rgb": [27.0, 30.0, 33.0],
                                             "ms-ssim-rgb": [0.9, 0.95, 0.98]}}))
    monkeypatch.setenv("VCNLIT_RESULTS", str(tmp_path))
    monkeypatch.setenv("VCNLIT_EXTRA", str(other))
    nb = nbformat.read(ROOT / "notebooks" / "rd_curves.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "published" in text and "lowest BD-rate vs jpeg" in text
    assert (tmp_path / "notebook_psnr.png").stat().st_size > 0
