"""`make bench`'s entry point runs in its tiny mode and writes both files with every figure (no timing checks)."""

import json

import pytest
from conftest import run_module

from benchmarks.run import FIGURES


@pytest.mark.slow
def test_bench_quick_writes_every_figure(tmp_path):
    r = run_module("benchmarks.run", "--quick", "--out", str(tmp_path), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "results.json").read_text())
    for key in (*FIGURES, "machine", "versions", "date", "command", "git_commit", "targets"):
        assert res.get(key) is not None, key
    assert res["quick"] is True
    for exp, stages in res["training"].items():
        for name in ("autoencoder", "imitation", "end_to_end"):
            s = stages[name]
            assert s["lightning_images_per_s"] > 0 and s["plain_images_per_s"] > 0, (exp, name)
            assert s["lightning_overhead"] > 0 and 0 <= s["lightning_codec_share"] <= 1
    assert res["training"]["dnnc_lowres"]["end_to_end_real_coder"]["lightning_images_per_s"] > 0
    assert set(res["encode_decode"]) == {"scic_lowres", "scic_fullres", "dnnc_lowres", "dnnc_fullres"}
    assert all(e["encode_s"] > 0 and e["decode_s"] > 0 and e["bpp"] > 0 for e in res["encode_decode"].values())
    assert all(e["encode_refined_s"] > 0 and e["encode_refined_ratio"] > 1 for e in res["encode_decode"].values())
    assert all(e["seconds"] > 0 for e in res["rd_curve"].values())
    assert res["entropy"]["throughput"]["torchac_encode"] > 0 and res["entropy"]["dnnc"]
    models = res["entropy"]["models"]
    assert {m["signal"] for m in models} == {"lowres", "fullres", "ycbcr420"} and any(m["low_rate"] for m in models)
    assert all(m["context_bytes"] < m["band_bytes"] for m in models)
    assert all(t["encode_s"] > 0 and t["decode_s"] > 0 for t in res["entropy"]["context_time"].values())
    assert all(r["bd_rate"] < 0 for r in res["entropy"]["codec_rd"])  # every new setting saves bits
    users = [v for v in res["memory"].values() if isinstance(v, dict)]
    assert len(users) == 2 and all(u["compress_s"] > 0 and u["decompress_mb"] > 0 and u["avif_s"] > 0
                                  and u["compress_bpp_s"] > 0 for u in users)
    assert {t["target"].split(",")[0] for t in res["targets"]} >= {
        "Lightning overhead", "codec share of an end-to-end step", "DNNC real / ideal code length (worst row)",
        "context / per-band bytes at the dnnc_lowres low rate points (worst row)"}
    md = (tmp_path / "RESULTS.md").read_text()
    for heading in ("## Targets", "## Training throughput", "## Encode and decode", "## Full RD curve",
                    "## Entropy coding", "### Context model vs per-band", "### DNNC codec settings",
                    "## What a user waits for"):
        assert heading in md
    assert res["machine"]["cpu"] in md and res["command"] in md


@pytest.mark.slow
def test_profile_of_the_non_network_steps_runs():
    """``python -m benchmarks.profile --only files`` (the figures docs/benchmarks.md quotes) in its tiny mode."""
    from benchmarks.profile import files_ab

    out = files_ab(quick=True, reps=1)
    assert all(v > 0 for v in out.values()) and "payload decode" in out and "PNG written, libpng" in out
