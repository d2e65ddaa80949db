"""Lightning DDP on one CPU machine (two gloo processes): the pipeline counts every image once."""

import json

from conftest import data_overrides, run_module

from vcnlit.eval.results import read_json

SMOKE = ("+experiment=scic_lowres", "debug=smoke", "logger=csv")
DDP = ("trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu")


def _evaluated(run):
    """Images of the final evaluation and of the stages' RD evaluations on the val split."""
    final = read_json(run / "rd.json")
    val = {f.name: json.loads(f.read_text())["meta"]["images"] for f in sorted((run / "rd").glob("rd_*_val_*.json"))}
    return list(final["results_by_image"]), final["meta"]["images"], val


def test_ddp_two_cpu_processes_evaluate_each_image_once(image_dirs, tmp_path):
    runs = {}
    for name, extra in (("single", ()), ("ddp", DDP)):
        runs[name] = tmp_path / name
        p = run_module("vcnlit.run", *SMOKE, *extra, f"hydra.run.dir={runs[name]}", *data_overrides(image_dirs),
                       timeout=900)
        assert p.returncode == 0, p.stderr[-3000:]
        if name == "ddp":
            out = p.stdout + p.stderr
            assert "Starting with 2 processes" in out and "distributed_backend=gloo" in out
            assert out.count("wrote ") == 1  # rank zero alone writes rd.json and the baseline
            assert (runs[name] / "train_ddp_process_1.log").exists()
    assert _evaluated(runs["ddp"]) == _evaluated(runs["single"])
    by_image, images, val = _evaluated(runs["ddp"])
    assert len(by_image) == len(images) == 2 and val and all(v == ["0_chelsea.png"] for v in val.values())
    for stage in ("autoencoder", "imitation", "end_to_end"):
        assert (runs["ddp"] / "stages" / stage / "done.pt").exists()
    assert json.loads((runs["ddp"] / "run.json").read_text())["status"] == "finished"


def test_ddp_inside_a_local_multirun_is_refused(image_dirs, tmp_path):
    p = run_module("vcnlit.run", "-m", *SMOKE, *DDP, f"hydra.sweep.dir={tmp_path}", *data_overrides(image_dirs))
    assert p.returncode == 2
    assert "cannot do; run the points one by one without -m, or use hydra/launcher=slurm" in p.stderr
    assert "Traceback" not in p.stderr
