"""`make ablation`: the proxy table's numbers on known curves, and the whole chain in smoke mode."""

import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest
from conftest import ROOT, data_overrides

from vcnlit.eval.ablation import BASE, compare, markdown_tables, mean_curve, summarise

spec = importlib.util.spec_from_file_location("ablation", ROOT / "experiments" / "ablation.py")
ablation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation)

BPP = [0.1, 0.2, 0.4, 0.8]
PSNR = [26.0, 29.0, 32.0, 35.0]


def _record(proxy, seed, bpp_factor, seconds=10.0):
    return {"name": f"e {proxy} s{seed}", "results": {"bpp": [b * bpp_factor for b in BPP], "psnr": list(PSNR)},
            "meta": {"ablation": {"experiment": "e", "proxy": proxy, "seed": seed, "seconds": seconds,
                                  "base_seconds": 100.0, "vcn_psnr": 30.0, "grad_fidelity": 0.5}}}


def test_bd_rates_against_the_anchor_and_the_same_seeds_none():
    """A proxy that needs 10 % fewer bits than `none` at every PSNR is -10 % against it, seed by seed; it
    beats `none` when that exceeds the seed-to-seed spread, and not when the seeds disagree more."""
    anchor = {"name": "jpeg_optimized", "results": {"bpp": [b * 2 for b in BPP], "psnr": list(PSNR)}}
    records = [_record("none", 0, 1.0), _record("none", 1, 1.02), _record("vcn", 0, 0.9), _record("vcn", 1, 0.918),
               _record("noisy", 0, 0.9), _record("noisy", 1, 1.2), _record(BASE, 0, 1.0, None)]
    compare(records, anchor)
    rows = {r["proxy"]: r for r in summarise(records)["e"]}
    assert rows["none"]["vs_anchor"]["mean"] == pytest.approx(-49.5, abs=0.2)
    assert rows["vcn"]["vs_reference"]["mean"] == pytest.approx(-10.0, abs=0.1)
    assert rows["vcn"]["vs_reference"]["max"] - rows["vcn"]["vs_reference"]["min"] < 0.1  # paired: seeds agree
    assert rows["none"]["spread"] == pytest.approx(1.0, abs=0.1)
    assert rows["vcn"]["beats_reference"] and not rows["none"]["beats_reference"]
    assert not rows["noisy"]["beats_reference"]  # its own spread (about 15 points) swamps its gain
    assert rows[BASE]["seeds"] == [0] and math.isnan(rows[BASE]["spread"]) and rows[BASE]["total_seconds"] == 100.0
    assert rows["vcn"]["total_seconds"] == 110.0 and rows["vcn"]["seconds"] == 10.0
    assert rows["vcn"]["bits_vs_reference"] == pytest.approx(-10.0, abs=0.1)  # 0.9 and 0.918 / 1.02: -10 % each
    assert rows["vcn"]["psnr_at_points_vs_reference"] == 0.0  # same PSNR at every rate point
    md = markdown_tables(summarise(records), "jpeg_optimized")
    assert "## e" in md and "| vcn | 0,1 | -54.5 % [-55.0, -54.1] | 0.9 pt | -10.0 % [-10.0, -10.0] |" in md
    assert "| -10.0 % / +0.00 dB | yes |" in md and "| yes |" in md
    mean = mean_curve([records[2], records[3]], "vcn")
    assert mean["results"]["bpp"][0] == pytest.approx(0.1 * 0.909) and mean["results"]["psnr"] == PSNR


def test_results_of_overridden_runs_go_to_their_own_folder():
    assert ablation.results_name("embedded", []) == "embedded"
    assert ablation.results_name("embedded", ["debug=smoke", "logger=csv", "hydra.run.dir=/x"]) == \
        "embedded_debug-smoke"
    assert ablation.results_name("kodak", ["data.test_dir=/data/kodak", "seeds=[0,1,2]"]) == "kodak_seeds-0,1,2-"
    assert ablation.training_overrides(["proxies=[vcn]", "seeds=[3]", "debug=smoke"], ablation.OWN_KEYS) \
        == ["debug=smoke"]


@pytest.mark.slow
def test_ablation_smoke_chain(image_dirs, tmp_path):
    """One experiment, two proxies, two seeds: trains the shared stages once per seed, then the proxies;
    a second call reuses every run."""
    overrides = ["experiments=[dnnc_lowres]", "proxies=[noise,diffjpeg,none]", "debug=smoke", "logger=csv",
                 f"runs_dir={tmp_path / 'runs'}", f"results_dir={tmp_path / 'results'}", *data_overrides(image_dirs)]
    args = [sys.executable, str(ROOT / "experiments" / "ablation.py"), *overrides, f"hydra.run.dir={tmp_path / 'log'}"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "results" / ablation.results_name(image_dirs["test"].name, overrides)
    names = {f"dnnc_lowres_{p}_s{s}" for p in ("noise", "none", "after_imitation") for s in (0, 1)} | {"jpeg_optimized"}
    assert names == {p.stem for p in (out / "ablation").glob("*.json")}  # diffjpeg does not apply to DNNC
    run = json.loads((out / "ablation" / "dnnc_lowres_noise_s1.json").read_text())
    info = run["meta"]["ablation"]
    assert info["seconds"] > 0 and info["base_seconds"] > 0 and -1 <= info["grad_fidelity"] <= 1
    assert info["vcn_psnr"] > 0 and "bd_rate_vs_reference" in info and run["results"]["step"]
    md = (out / "ablation.md").read_text()
    assert "## dnnc_lowres" in md and "| noise | 0,1 |" in md and "| none | 0,1 |" in md and "debug=smoke" in md
    assert (out / "ablation_rd.png").stat().st_size > 0 and (out / "ablation" / "jpeg_optimized.json").is_file()
    tag = ablation.run_tag(ablation.training_overrides(overrides, ablation.OWN_KEYS))
    runs = tmp_path / "runs" / f"ablation-{tag}" / "dnnc_lowres"
    assert {p.name for p in (runs / "s0").iterdir()} == {"base", "noise", "none"}
    assert json.loads((runs / "s0" / "noise" / "run.json").read_text())["stage_seconds"].keys() == {"end_to_end"}
    assert json.loads((runs / "s1" / "base" / "run.json").read_text())["stage_seconds"].keys() == {
        "autoencoder", "imitation"}
    assert (runs / "s0" / "none" / "rd.json").is_file() and not (runs / "s0" / "none" / "baseline_jpeg.json").exists()

    again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training:" not in again.stdout + again.stderr and "reusing the runs" in again.stdout + again.stderr

    # overrides of the RSN's objective alone train the proxies from the same shared stages and reuse `none`
    e2e = ["stages.end_to_end.module.rate_weight=0.5", "stages.end_to_end.module.rd_domain=log"]
    third = subprocess.run([*args, "seeds=[0]", *e2e], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=900)
    assert third.returncode == 0, third.stderr[-3000:]
    logged = third.stdout + third.stderr
    assert "stages.order=" not in logged and "rsn_gradient=noise " in logged and "rsn_gradient=none" not in logged
    e2e_tag = ablation.run_tag(ablation.training_overrides([*overrides, *e2e], ablation.OWN_KEYS))
    assert {p.name for p in (tmp_path / "runs" / f"ablation-{e2e_tag}" / "dnnc_lowres" / "s0").iterdir()} == {"noise"}


def test_keys_the_ablation_sets_itself_are_refused(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "experiments" / "ablation.py"), "seed=3",
                        f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip() == "error: seed=3: the ablation sets seed itself; give seeds=[...]"
