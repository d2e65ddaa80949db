"""`make curves`: the learning-curve numbers on known curves, and the whole chain in smoke mode."""

import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest
from conftest import ROOT, data_overrides

from vcnlit.eval.curves import markdown, mean_gain, summarise

spec = importlib.util.spec_from_file_location("curves", ROOT / "experiments" / "curves.py")
curves = importlib.util.module_from_spec(spec)
spec.loader.exec_module(curves)

BPP = [0.1, 0.2, 0.4]


def _record(axis, point, shift, ceiling=33.0):
    res = {"bpp": list(BPP), "psnr": [26.0 + shift, 29.0 + shift, 32.0 + shift]}
    return {"axis": axis, "point": point, "overrides": [], "seconds": 120.0,
            "test": {"results": res, "ceiling": ceiling}, "val": {"results": res, "ceiling": ceiling + 1}}


def test_gains_are_against_the_axis_reference_and_bd_rates_against_the_anchor():
    records = [_record("steps", "1x", 0.0), _record("steps", "2x", 0.5), _record("data", "4 photos", -1.0),
               _record("data", "18 photos", 0.0)]
    anchor = {"results": {"bpp": [b * 1.5 for b in BPP], "psnr": [26.0, 29.0, 32.0]}}
    summary = summarise(records, {"steps": "1x", "data": "18 photos"}, {"test": anchor, "val": anchor})
    rows = {r["point"]: r for axis in summary.values() for r in axis}
    assert rows["2x"]["test"]["gain"] == pytest.approx(0.5) and rows["4 photos"]["val"]["gain"] == pytest.approx(-1.0)
    assert rows["1x"]["test"]["bd_rate"] == pytest.approx(-100 / 3, abs=0.1)  # 1/1.5 of the anchor's bits
    assert rows["2x"]["test"]["bd_rate"] < rows["1x"]["test"]["bd_rate"]  # more PSNR at the same bits
    assert rows["1x"]["val"]["ceiling"] == 34.0
    md = markdown(summary, {"steps": "1x", "data": "18 photos"}, "jpeg_optimized")
    assert "## steps (reference: 1x)" in md and "| 2x | 26.50 / 29.50 / 32.50 | +0.50 dB | -" in md
    assert "2.0 min |" in md
    assert math.isnan(mean_gain({"psnr": [None]}, {"psnr": [1.0]}))


def test_later_overrides_replace_earlier_ones_of_the_same_key():
    assert curves.merged(["stages.steps_scale=0.25", "a=1"], ["stages.steps_scale=1"], ["+b=2"]) == \
        ["a=1", "stages.steps_scale=1", "+b=2"]


@pytest.mark.slow
def test_curves_smoke_chain(image_dirs, tmp_path):
    """One axis of two points in smoke mode: trains both, writes the tables, the JSON and the plot; a
    second call reuses the runs."""
    overrides = ["only=[crop]", "debug=smoke", f"runs_dir={tmp_path / 'runs'}",
                 f"results_dir={tmp_path / 'results'}", "dataset=smoke", *data_overrides(image_dirs)]
    args = [sys.executable, str(ROOT / "experiments" / "curves.py"), *overrides, f"hydra.run.dir={tmp_path / 'log'}"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "results" / "smoke"
    found = json.loads((out / "curves.json").read_text())
    points = {rec["point"]: rec for rec in found["records"]}
    assert set(points) == {"64 px x 16", "128 px x 4"}
    assert points["128 px x 4"]["overrides"] == ["data.patch_size=128", "data.batch_size=4"]
    for rec in points.values():
        assert rec["seconds"] > 0 and rec["test"]["results"]["bpp"] and rec["val"]["ceiling"] > 0
    md = (out / "curves.md").read_text()
    assert "## crop (reference: 64 px x 16)" in md and "| 128 px x 4 |" in md and "debug=smoke" in md
    assert (out / "curves.png").stat().st_size > 0
    again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "training:" not in again.stdout + again.stderr


def test_unknown_axis_is_a_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "experiments" / "curves.py"), "only=[colour]",
                        f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: only: ['colour'] unknown")
