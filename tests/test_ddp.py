"""Lightning DDP on one CPU machine (two gloo processes): the pipeline counts every image once."""

import csv
import json

import pytest
from conftest import data_overrides, natural_crop, run_module
from PIL import Image

from vcnlit.eval.results import read_json

SMOKE = ("+experiment=scic_lowres", "debug=smoke", "logger=csv", "data.max_eval_images=null", "eval.val_rate=40")
DDP = ("trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu")
STAGES = ("autoencoder", "imitation", "end_to_end")
#: three val and three test images on two processes: a DistributedSampler would pad them to four
#: (one image counted twice) and give each process a different share
EVAL_IMAGES = {"val": [("chelsea", (48, 48)), ("coffee", (40, 52)), ("camera", (44, 36))],
               "test": [("camera", (40, 56)), ("astronaut", (37, 45)), ("chelsea", (36, 40))]}


@pytest.fixture(scope="module")
def ddp_dirs(image_dirs, tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp_images")
    dirs = {"train": image_dirs["train"]}
    for split, items in EVAL_IMAGES.items():
        dirs[split] = root / split
        dirs[split].mkdir()
        for i, (name, size) in enumerate(items):
            Image.fromarray(natural_crop(name, size, rgb=True)).save(dirs[split] / f"{i}_{name}.png")
    return dirs


def _evaluated(run):
    """Images of the final evaluation and of the stages' RD evaluations on the val split."""
    final = read_json(run / "rd.json")
    val = {f.name: json.loads(f.read_text())["meta"]["images"] for f in sorted((run / "rd").glob("rd_*_val_*.json"))}
    return list(final["results_by_image"]), final["meta"]["images"], val


def _logged_val_metrics(run):
    """``{stage: (val_psnr, val_bpp)}`` as each stage last logged them (mean over the val loader's batches)."""
    rows = list(csv.DictReader((run / "csv" / "version_0" / "metrics.csv").open()))
    return {s: [(float(r[f"{s}/val_psnr"]), float(r[f"{s}/val_bpp"])) for r in rows if r.get(f"{s}/val_psnr")][-1]
            for s in STAGES}


def _val_metrics_over_all_images(run, rate=40.0):
    """``{stage: (psnr, bpp)}``: the mean over every val image of rank zero's per-image RD results (the
    last validation of each stage)."""
    out = {}
    for s in STAGES:
        rd = json.loads(sorted((run / "rd").glob(f"rd_{s}_val_*.json"))[-1].read_text())
        i = rd["results"]["quality"].index(rate)
        per = rd["results_by_image"].values()
        out[s] = tuple(sum(r[m][i] for r in per) / len(per) for m in ("psnr", "bpp"))
    return out


@pytest.mark.slow
def test_ddp_two_cpu_processes_evaluate_each_image_once(ddp_dirs, tmp_path):
    runs = {}
    for name, extra in (("single", ()), ("ddp", DDP)):
        runs[name] = tmp_path / name
        p = run_module("vcnlit.run", *SMOKE, *extra, f"hydra.run.dir={runs[name]}", *data_overrides(ddp_dirs),
                       timeout=900)
        assert p.returncode == 0, p.stderr[-3000:]
        if name == "ddp":
            out = p.stdout + p.stderr
            assert "Starting with 2 processes" in out and "distributed_backend=gloo" in out
            assert out.count("wrote ") == 1  # rank zero alone writes rd.json and the baseline
            assert (runs[name] / "train_ddp_process_1.log").exists()
    assert _evaluated(runs["ddp"]) == _evaluated(runs["single"])
    by_image, images, val = _evaluated(runs["ddp"])
    assert len(by_image) == len(images) == 3
    assert val and all(v == ["0_chelsea.png", "1_coffee.png", "2_camera.png"] for v in val.values())
    # the val metrics each stage logs (synced over the processes) are the single-process means over all
    # three images (measured: equal to 6e-7 dB); padding or sharding the val images moves them by ~0.2 dB
    for name, run in runs.items():
        logged, expected = _logged_val_metrics(run), _val_metrics_over_all_images(run)
        for s in STAGES:
            assert logged[s] == pytest.approx(expected[s], abs=1e-4), (name, s)
    for stage in STAGES:
        assert (runs["ddp"] / "stages" / stage / "done.pt").exists()
    assert json.loads((runs["ddp"] / "run.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_ddp_inside_a_local_multirun_is_refused(image_dirs, tmp_path):
    p = run_module("vcnlit.run", "-m", *SMOKE, *DDP, f"hydra.sweep.dir={tmp_path}", *data_overrides(image_dirs))
    assert p.returncode == 2
    assert "cannot do; run the points one by one without -m, or use hydra/launcher=slurm" in p.stderr
    assert "Traceback" not in p.stderr
