"""Sweeps: one rate per job of a codec-rate multirun, the merge into one RD curve, Optuna, submitit."""

import json
import math
import os
import subprocess
import sys

import pytest
from conftest import ROOT, data_overrides, run_module

from vcnlit.codecs.registry import build_codec
from vcnlit.data import load_folder
from vcnlit.eval.rd import codec_code_fn, rd_curve
from vcnlit.eval.results import read_json, results_json
from vcnlit.io import write_json
from vcnlit.sweeps import SweepError, merge, pin_swept_rate

SMOKE = ("+experiment=scic_lowres", "debug=smoke", "logger=csv")
JPEG = {"format": "jpeg", "optimize": True}


def _jpeg_curve(images, qualities, name="jpeg", meta=None):
    res, by = rd_curve(codec_code_fn(build_codec(JPEG, rate=qualities[0])), images, qualities, "quality",
                       progress=False)
    return results_json(name, "plain jpeg", res, by, meta)


@pytest.fixture
def jpeg_jobs(image_dirs, tmp_path):
    """A multirun folder whose jobs each hold one plain-JPEG point and the JPEG baseline."""
    images = load_folder(image_dirs["test"], 1, "data.test_dir")
    sweep = tmp_path / "sweep"
    for job, q in enumerate([40, 10, 20]):
        meta = {"experiment": "jpeg_points", "rate_key": "quality", "rate_points": [q], "channels": 1,
                "images": [n for n, _ in images]}
        write_json(sweep / str(job) / "rd.json", _jpeg_curve(images, [q], "jpeg_points", meta))
        write_json(sweep / str(job) / "baseline_jpeg.json", _jpeg_curve(images, [5, 10, 20, 40, 80]))
    return sweep


def test_merge_pools_the_jobs_into_one_curve(jpeg_jobs):
    merged = merge(jpeg_jobs)
    r = merged["results"]
    assert r["quality"] == [10.0, 20.0, 40.0] and r["bpp"] == sorted(r["bpp"])
    assert merged["meta"]["jobs"] == ["1", "2", "0"]
    assert all(len(v["psnr"]) == 3 for v in merged["results_by_image"].values())
    # JPEG points against the JPEG curve they lie on: BD-rate near zero
    bd = merged["meta"]["bd"]
    assert bd["anchor"] == "jpeg" and abs(bd["bd_rate_percent"]) < 1.0
    assert read_json(jpeg_jobs / "rd.json")["results"]["bpp"] == r["bpp"]
    assert (jpeg_jobs / "rd.png").stat().st_size > 0


@pytest.mark.slow
def test_merge_cli_and_its_errors(jpeg_jobs, tmp_path):
    p = run_module("vcnlit.sweeps", "merge", str(jpeg_jobs), "--out", str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr
    assert "3 points" in p.stdout and "BD-rate vs jpeg:" in p.stdout
    assert (tmp_path / "out" / "rd.json").exists()

    p = run_module("vcnlit.sweeps", "merge", str(tmp_path / "empty"))
    assert p.returncode == 2 and p.stderr.startswith("error: no <job>/rd.json under")

    other = read_json(jpeg_jobs / "1" / "rd.json")
    other["meta"]["experiment"] = "another"
    write_json(jpeg_jobs / "1" / "rd.json", other)
    with pytest.raises(SweepError, match="differ in experiment"):
        merge(jpeg_jobs)


def test_a_rate_given_on_the_command_line_pins_the_rate_points():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"codec": {"quality": 20}, "eval": {"rate_points": [5, 10, 20]}})
    assert not pin_swept_rate(cfg, "quality", keys={"seed"})
    assert list(cfg.eval.rate_points) == [5, 10, 20]
    assert not pin_swept_rate(cfg, "quality", keys={"codec.quality", "eval.rate_points"})
    assert pin_swept_rate(cfg, "quality", keys={"codec.quality"})
    assert list(cfg.eval.rate_points) == [20]


@pytest.mark.slow
def test_rate_multirun_then_merge(image_dirs, tmp_path):
    sweep = tmp_path / "multirun"
    p = subprocess.run([sys.executable, "-m", "vcnlit.run", "-m", *SMOKE[:2], "logger=wandb", "codec.quality=10,40",
                        f"hydra.sweep.dir={sweep}", *data_overrides(image_dirs)], cwd=ROOT, capture_output=True,
                       text=True, timeout=900, env={**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"})
    assert p.returncode == 0, p.stderr[-3000:]
    ids = set()
    for job, q in (("0", 10.0), ("1", 40.0)):
        rd = read_json(sweep / job / "rd.json")
        assert rd["results"]["quality"] == [q] and rd["meta"]["rate_points"] == [q]
        assert rd["meta"]["config"]["stages"]["imitation"]["module"]["train_rates"] == [q]
        # each job finished its own W&B run
        wandb_id = json.loads((sweep / job / "run.json").read_text())["wandb_id"]
        assert [d.name.rsplit("-", 1)[1] for d in (sweep / job / "wandb").glob("offline-run-*")] == [wandb_id]
        ids.add(wandb_id)
    assert len(ids) == 2
    # the multirun merged its jobs itself; the command does it again
    assert sorted(read_json(sweep / "rd.json")["results"]["quality"]) == [10.0, 40.0]
    (sweep / "rd.json").unlink()
    p = run_module("vcnlit.sweeps", "merge", str(sweep))
    assert p.returncode == 0, p.stderr
    merged = read_json(sweep / "rd.json")
    assert sorted(merged["results"]["quality"]) == [10.0, 40.0]
    assert merged["meta"]["bd"]["anchor"] == "jpeg"
    assert (sweep / "rd.png").exists()


@pytest.mark.slow
def test_optuna_sweep_persists_its_study(image_dirs, tmp_path):
    import optuna

    args = ("-m", *SMOKE, "hparams_search=optuna", *data_overrides(image_dirs))
    p = run_module("vcnlit.run", *args, "hydra.sweeper.n_trials=2", cwd=tmp_path, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    db = tmp_path / "multirun" / "optuna" / "scic_lowres.db"
    study = optuna.load_study(study_name="scic_lowres", storage=f"sqlite:///{db}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 2 and all(math.isfinite(t.value) for t in done)
    assert {"stages.imitation.module.lr", "loss"} <= set(done[0].params)
    # each trial returned its objective, written next to its run
    runs = sorted(tmp_path.glob("multirun/scic_lowres/*/*/run.json"))
    values = sorted(json.loads(r.read_text())["val/d_psnr"] for r in runs)
    assert values == sorted(t.value for t in done)

    # the same command continues the study
    p = run_module("vcnlit.run", *args, "hydra.sweeper.n_trials=1", cwd=tmp_path, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    assert len(optuna.load_study(study_name="scic_lowres", storage=f"sqlite:///{db}").trials) == 3


def test_an_objective_the_run_cannot_give_is_refused_before_training(image_dirs, tmp_path):
    p = run_module("vcnlit.run", *SMOKE, "codec.quality=10", "optimized_metric=val/bd_rate",
                   f"hydra.run.dir={tmp_path / 'run'}", *data_overrides(image_dirs))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1] == (
        "error: optimized_metric=val/bd_rate needs two or more eval.rate_points (a curve), got [10]; "
        "use optimized_metric=val/d_psnr")
    assert not (tmp_path / "run" / "run.json").exists()


def test_slurm_launcher_config_composes():
    p = run_module("vcnlit.run", "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "+experiment=scic_lowres",
                   "--cfg", "hydra", "--package", "hydra.launcher")
    assert p.returncode == 0, p.stderr
    assert "SlurmLauncher" in p.stdout and "partition: gpu" in p.stdout and "timeout_min: 240" in p.stdout


@pytest.mark.slow
def test_submitit_local_runs_a_job(image_dirs, tmp_path):
    sweep = tmp_path / "multirun"
    p = run_module("vcnlit.run", "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=20", *SMOKE,
                   f"hydra.sweep.dir={sweep}", *data_overrides(image_dirs), timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    assert read_json(sweep / "0" / "rd.json")["meta"]["experiment"] == "scic_lowres"
    assert json.loads((sweep / "0" / "run.json").read_text())["status"] == "finished"
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))


def test_wandb_sweep_drives_the_entry_point_with_the_optuna_search_space():
    import yaml

    sweep = yaml.safe_load((ROOT / "experiments" / "wandb_sweep.yaml").read_text())
    optuna_cfg = yaml.safe_load((ROOT / "conf" / "hparams_search" / "optuna.yaml").read_text())
    assert set(sweep["parameters"]) == set(optuna_cfg["hydra"]["sweeper"]["params"])
    fixed = [a for a in sweep["command"] if "=" in a]
    picked = [f"{k}={v['values'][0] if 'values' in v else v['min']}" for k, v in sweep["parameters"].items()]
    p = run_module("vcnlit.run", *fixed, *picked, "--cfg", "job")
    assert p.returncode == 0, p.stderr
    cfg = yaml.safe_load(p.stdout)
    assert cfg["optimized_metric"] == sweep["metric"]["name"] and cfg["logger"]["offline"] is False
    assert cfg["stages"]["imitation"]["module"]["lr"] == 1e-4
