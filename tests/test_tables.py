"""`make tables`: train (or reuse) experiments, evaluate them and the baselines, write tables and plots."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, data_overrides

from vcnlit.errors import ConfigError
from vcnlit.rundir import run_config, training_config

spec = importlib.util.spec_from_file_location("tables", ROOT / "experiments" / "tables.py")
tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tables)


def test_run_tags_ignore_evaluation_only_overrides():
    assert tables.run_tag([]) == "default"
    assert tables.run_tag(["debug=smoke", "data.test_dir=/x/kodak"]) == "debug-smoke"
    assert tables.run_tag(["seed=1", "debug=smoke"]) == tables.run_tag(["debug=smoke", "seed=1"])
    assert len(tables.run_tag([f"model.width={'9' * 80}"])) <= 60
    own = ["experiments=[a]", "results_dir=/r", "anchor=webp", "baseline_set.webp.points=[1]", "seed=2"]
    assert tables.training_overrides(own) == ["seed=2"]


def test_only_a_plain_run_writes_the_full_results_folder():
    assert tables.results_name("embedded", []) == "embedded"
    same = ["logger=csv", "results_dir=/r", "runs_dir=/q", "hydra.run.dir=/h", "data.on_bad_image=error",
            "data.test_dir=/x/kodak", "replot=true"]
    assert tables.results_name("embedded", same) == "embedded"
    assert tables.results_name("embedded", ["debug=smoke", "logger=csv"]) == "embedded_debug-smoke"
    assert tables.results_name("embedded", ["model.channels=3"]) == "embedded_rgb"  # the colour tables
    assert tables.results_name("embedded", ["model.channels=3", "debug=smoke"]) == "embedded_debug-smoke_rgb"
    for changing in ("seed=1", "data.max_eval_images=1", "experiments=[scic_lowres]", "anchor=webp"):
        assert tables.results_name("embedded", [changing]) not in ("embedded", "embedded_debug-smoke")
    # make passes results_dir (and runs_dir) given as make variables, not only inside ARGS
    r = subprocess.run(["make", "-n", "tables", "results_dir=out/r", "runs_dir=out/q"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert "experiments/tables.py results_dir=out/r runs_dir=out/q" in r.stdout


def test_colour_tables_run_the_rgb_experiments():
    exps = ["scic_lowres", "dnnc_fullres_rgb"]
    assert tables.colour_experiments(exps, ["model.channels=3", "seed=1"], 3) == (
        ["scic_lowres_rgb", "dnnc_fullres_rgb"], ["seed=1"])
    assert tables.colour_experiments(exps, ["seed=1"], 1) == (exps, ["seed=1"])
    for name in tables.colour_experiments(["scic_lowres", "scic_fullres", "dnnc_lowres", "dnnc_fullres"], [], 3)[0]:
        assert (ROOT / "conf" / "experiment" / f"{name}.yaml").is_file()


@pytest.mark.slow
def test_tables_smoke_chain(image_dirs, tmp_path):
    # the default results_dir (experiments/results, relative to the working directory) holds full results
    # that a smoke run must leave alone
    full = tmp_path / "experiments" / "results" / image_dirs["test"].name
    full.mkdir(parents=True)
    (full / "jpeg.json").write_text("full results\n")
    args = [sys.executable, str(ROOT / "experiments" / "tables.py"), "experiments=[scic_lowres]", "debug=smoke",
            "logger=csv", f"runs_dir={tmp_path / 'runs'}", f"hydra.run.dir={tmp_path / 'log'}",
            *data_overrides(image_dirs)]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert [p.name for p in full.iterdir()] == ["jpeg.json"] and (full / "jpeg.json").read_text() == "full results\n"
    out = full.parent / tables.results_name(full.name, args[2:])
    assert out != full and out.name.startswith(full.name + "_")
    names = {"scic_lowres", "scic_lowres_idn_only", "jpeg", "jpeg_optimized", "jpeg_vcn", "jpeg_psnr_vcn", "jpeg2000", "webp", "avif",
             "jpegxl", "dnnc_vcn", "bicubic_jpeg", "bicubic_jpeg_psnr_vcn", "bicubic_dnnc_vcn"}
    assert names == {p.stem for p in out.glob("*.json")}
    ours = json.loads((out / "scic_lowres.json").read_text())
    assert ours["results"]["quality"] == [10, 40] and ours["meta"]["channels"] == 1
    assert {"command", "config", "git_commit", "versions"} <= set(ours["meta"])
    md = (out / "tables.md").read_text()
    for n in names:
        assert f"| {n} |" in md
    assert "BD-rate vs jpeg" in md and "**debug=smoke: tiny nets, mechanics only, not results**" in md
    assert (out / "rd_psnr.png").stat().st_size > 0 and (out / "rd_ssim.png").stat().st_size > 0
    tag = tables.run_tag(["debug=smoke", "logger=csv", *data_overrides(image_dirs)])
    assert (tmp_path / "runs" / tag / "scic_lowres" / "model.ckpt").is_file()

    again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reusing" in again.stdout + again.stderr
    assert json.loads((out / "scic_lowres.json").read_text())["results"] == ours["results"]

    # replot=true redraws the plots from the results files alone (no runs needed)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix != ".png"}
    (out / "rd_psnr.png").unlink()
    replot = subprocess.run([*args[:5], f"runs_dir={tmp_path / 'none'}", *args[6:], "replot=true"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert replot.returncode == 0, replot.stderr[-3000:]
    assert (out / "rd_psnr.png").stat().st_size > 0
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.suffix != ".png"} == before

    # a run trained under another default (here: the standard's JPEG tables) is not reused silently
    ckpt = tmp_path / "runs" / tag / "scic_lowres" / "model.ckpt"
    model = torch.load(ckpt, map_location="cpu", weights_only=True)
    model["meta"]["config"]["codec"]["tables"] = "standard"
    torch.save(model, ckpt)
    stale = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    lines = stale.stderr.strip().splitlines()
    assert stale.returncode != 0 and len(lines) == 1, stale.stderr[-3000:]
    assert lines[0].startswith("error: ") and "codec.tables: 'standard' -> 'psnr'" in lines[0]
    assert json.loads((out / "scic_lowres.json").read_text())["results"] == ours["results"]


def test_training_config_keeps_what_decides_the_model():
    cfg = {"seed": 1, "paths": {"run_dir": "D"}, "logger": {"project": "p"}, "codec": {"quality": 20},
           "data": {"patch_size": 64, "test_dir": "T", "max_eval_images": 2}, "stages": {"order": ["a"]}}
    assert training_config(cfg) == {"seed": 1, "codec.quality": 20, "data.patch_size": 64, "stages.order": ["a"],
                                    "trainer.precision": "32-true"}  # float32 where a config does not say
    bf16 = training_config({**cfg, "trainer": {"precision": "bf16-mixed", "devices": 1}})
    assert bf16["trainer.precision"] == "bf16-mixed" and "trainer.devices" not in bf16


def test_run_config_of_an_unknown_experiment_is_a_one_line_error():
    with pytest.raises(ConfigError, match="Could not find 'experiment/nosuch'") as e:
        run_config("nosuch", [])
    assert "\n" not in str(e.value)
