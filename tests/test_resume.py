"""Resuming and determinism: a run killed with SIGKILL in stage 2 and started again with the same
command finishes with exactly the metrics of an uninterrupted run of the same seed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, data_overrides, run_module

from vcnlit.eval.results import read_json

# stage 2 long enough (10 epochs of 3 batches, a checkpoint every batch) to be killed in its middle
SMOKE = ("+experiment=scic_lowres", "debug=smoke", "stages.imitation.steps=30", "trainer.check_val_every_n_epoch=2")


def _args(run, image_dirs, *extra):
    return [*SMOKE, f"hydra.run.dir={run}", *data_overrides(image_dirs), *extra]


def _metrics(run):
    rd = read_json(run / "rd.json")
    return rd["results"], rd["results_by_image"]


@pytest.fixture(scope="module")
def reference(image_dirs, tmp_path_factory):
    run = tmp_path_factory.mktemp("reference") / "run"
    p = run_module("vcnlit.run", *_args(run, image_dirs, "logger=csv"), timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    return _metrics(run)


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(reference, image_dirs, tmp_path):
    p = run_module("vcnlit.run", *_args(tmp_path / "run", image_dirs, "logger=csv"), timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    assert _metrics(tmp_path / "run") == reference


@pytest.mark.slow
def test_sigkill_in_stage_2_resumes_exactly(reference, image_dirs, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "vcnlit.run", *_args(run, image_dirs, "logger=wandb")]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt, deadline = run / "stages" / "imitation" / "last.ckpt", time.monotonic() + 600
    try:
        while not ckpt.exists():
            assert proc.poll() is None, "the run ended before stage 2 wrote a checkpoint"
            assert time.monotonic() < deadline, "stage 2 wrote no checkpoint in 10 minutes"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (run / "stages" / "autoencoder" / "done.pt").exists()
    assert not (run / "stages" / "imitation" / "done.pt").exists() and not (run / "model.ckpt").exists()
    marker = json.loads((run / "run.json").read_text())
    assert marker["status"] == "running"

    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    log = (run / "run.log").read_text()
    assert "stage autoencoder already finished" in log and "imitation (resuming" in log
    assert _metrics(run) == reference
    # both processes logged to one W&B run: the id kept in run.json
    after = json.loads((run / "run.json").read_text())
    assert after["status"] == "finished" and after["wandb_id"] == marker["wandb_id"]
    assert len(after["started_at_commit"]) == 40 and after["started_at_commit"] == marker["started_at_commit"]
    assert len(list((run / "wandb").glob(f"offline-run-*-{marker['wandb_id']}"))) == 2

    # a finished run is not started again
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "already holds a finished run" in p.stderr


@pytest.mark.slow
def test_a_folder_with_other_files_is_refused(image_dirs, tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    p = run_module("vcnlit.run", *_args(tmp_path, image_dirs, "logger=none"))
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path} is not empty and holds no vcnlit run (notes.txt); "
        "choose another hydra.run.dir or add overwrite=true")


@pytest.mark.slow
def test_another_experiments_run_is_refused(image_dirs, tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"experiment": "dnnc_lowres", "seed": 12345, "status": "running"}))
    p = run_module("vcnlit.run", *_args(tmp_path, image_dirs, "logger=none"))
    assert p.returncode == 2
    assert "holds a run of experiment 'dnnc_lowres' with seed 12345, not 'scic_lowres'" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_an_unfinished_run_started_with_another_config_is_refused(image_dirs, tmp_path):
    from vcnlit.rundir import run_config, training_config

    args = _args(tmp_path, image_dirs, "logger=none")
    started = training_config(run_config("scic_lowres", [a for a in args if not a.startswith("+experiment=")]))
    started["codec.tables"] = "standard"
    (tmp_path / "run.json").write_text(json.dumps({"experiment": "scic_lowres", "seed": 12345, "status": "running",
                                                   "training_config": started}))
    p = run_module("vcnlit.run", *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path} holds an unfinished run started with another config (codec.tables: 'standard' -> "
        "'psnr'); resume it with the command that started it, or add overwrite=true to start anew")


def test_wandb_run_id_held_by_a_killed_process_is_waited_for(monkeypatch):
    """W&B's service of a SIGKILLed run holds its id for a moment: the resumed run retries, other errors raise."""
    from vcnlit import loggers

    monkeypatch.setattr("time.sleep", lambda s: None)

    class Held:
        calls = 0

        @property
        def experiment(self):
            Held.calls += 1
            if Held.calls < 3:
                raise RuntimeError("run ID fa37bc5c is in use")
            return "run"

    assert loggers.wandb_experiment(Held()) == "run" and Held.calls == 3

    class Broken:
        @property
        def experiment(self):
            raise RuntimeError("no such project")

    with pytest.raises(RuntimeError, match="no such project"):
        loggers.wandb_experiment(Broken())
