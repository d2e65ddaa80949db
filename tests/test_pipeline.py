"""The commands users run, as subprocesses: training smoke runs, evaluate, errors."""

import json

import pytest
from conftest import data_overrides, run_module
from test_config import EXPERIMENTS


def _check_rd(path, channels=1):
    rd = json.loads(path.read_text())
    assert {"name", "description", "results", "meta"} <= set(rd)
    r = rd["results"]
    n = len(rd["meta"]["rate_points"])
    assert all(len(r[k]) == n for k in ("bpp", "psnr", "ssim"))
    assert all(b > 0 for b in r["bpp"]) and all(p > 10 for p in r["psnr"])
    assert rd["meta"]["channels"] == channels and rd["meta"]["experiment"]
    if channels == 3:  # CompressAI's keys for colour, and PSNR on luma
        assert r["psnr-rgb"] == r["psnr"] and len(r["psnr-y"]) == n
    return rd


@pytest.mark.slow
@pytest.mark.parametrize("exp", [e for e in EXPERIMENTS if not e.endswith("_long")])  # _long: its base's run here
def test_smoke_pipeline(exp, image_dirs, tmp_path):
    channels = 3 if "_rgb" in exp else 1
    run = tmp_path / "run"
    p = run_module("vcnlit.run", f"+experiment={exp}", "debug=smoke", "logger=csv", f"hydra.run.dir={run}",
                   *data_overrides(image_dirs))
    assert p.returncode == 0, p.stderr[-3000:]
    assert (run / "model.ckpt").exists()
    rd = _check_rd(run / "rd.json", channels)
    assert rd["meta"]["experiment"] == exp
    assert (run / "rd.png").exists()
    assert "at the nearest bpp" in p.stdout

    # the model evaluates on another folder through the evaluate entry point
    ev = tmp_path / "eval"
    p = run_module("vcnlit.evaluate", f"ckpt_path={run / 'model.ckpt'}", f"data.test_dir={image_dirs['val']}",
                   f"hydra.run.dir={ev}")
    assert p.returncode == 0, p.stderr[-3000:]
    rd2 = _check_rd(ev / "rd.json", channels)
    assert rd2["meta"]["rate_points"] == rd["meta"]["rate_points"]
    assert list(rd2["results_by_image"]) == ["0_chelsea.png"]
    # the decoder's self-ensemble can be set at evaluation; the low-resolution models average 4 flips
    p = run_module("vcnlit.evaluate", f"ckpt_path={run / 'model.ckpt'}", f"data.test_dir={image_dirs['val']}",
                   "self_ensemble=1", f"hydra.run.dir={tmp_path / 'eval1'}")
    assert p.returncode == 0, p.stderr[-3000:]
    rd3 = _check_rd(tmp_path / "eval1" / "rd.json", channels)
    assert rd3["results"]["bpp"] == rd2["results"]["bpp"]
    assert (rd3["results"]["psnr"] == rd2["results"]["psnr"]) == ("fullres" in exp)
    # encoder settings change at evaluation (vcnlit's JPEG encoder in colour; DNNC's own); same decoder
    if exp in ("scic_lowres_rgb", "dnnc_lowres"):
        p = run_module("vcnlit.evaluate", f"ckpt_path={run / 'model.ckpt'}", f"data.test_dir={image_dirs['val']}",
                       "encoder.deadzone=0.45", "encoder.deadzone_hf=0.2", f"hydra.run.dir={tmp_path / 'eval_dz'}")
        assert p.returncode == 0, p.stderr[-3000:]
        codec = _check_rd(tmp_path / "eval_dz" / "rd.json", channels)["meta"]["codec"]
        assert (codec["deadzone"], codec["deadzone_hf"]) == (0.45, 0.2)

    # a finished run is not overwritten by accident
    p = run_module("vcnlit.run", f"+experiment={exp}", "debug=smoke", "logger=none", f"hydra.run.dir={run}",
                   *data_overrides(image_dirs))
    assert p.returncode == 2 and "already holds a finished run" in p.stderr


@pytest.mark.slow
def test_bad_data_path_is_one_line(tmp_path):
    p = run_module("vcnlit.run", "+experiment=scic_lowres", "debug=smoke", "logger=none",
                   f"hydra.run.dir={tmp_path}", f"data.train_dir={tmp_path / 'missing'}")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1].startswith("error: data.train_dir=")
    assert "Traceback" not in p.stderr


def test_unknown_experiment_lists_the_choices(tmp_path):
    p = run_module("vcnlit.run", "+experiment=nope", f"hydra.run.dir={tmp_path}")
    assert p.returncode != 0
    assert "experiment/nope" in p.stderr and "scic_lowres" in p.stderr
    assert "Traceback" not in p.stderr


def test_evaluate_refuses_a_bad_self_ensemble(tmp_path):
    p = run_module("vcnlit.evaluate", "ckpt_path=unused", "self_ensemble=3", f"hydra.run.dir={tmp_path}")
    assert p.returncode == 2 and p.stderr.strip() == "error: self_ensemble=3 is not allowed; choose one of 1, 2, 4, 8, None"


def test_evaluate_refuses_a_non_model_file(tmp_path):
    bad = tmp_path / "x.ckpt"
    bad.write_bytes(b"garbage")
    p = run_module("vcnlit.evaluate", f"ckpt_path={bad}", f"hydra.run.dir={tmp_path / 'e'}")
    assert p.returncode == 2 and "is not a vcnlit model file" in p.stderr
