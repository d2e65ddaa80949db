import math

import pytest

from vcnlit.eval.bd import bd


def curve(bpp, psnr):
    return {"bpp": list(bpp), "psnr": list(psnr), "ssim": [0.5 + p / 100 for p in psnr]}


ANCHOR = curve([0.1, 0.2, 0.4, 0.8], [28.0, 31.0, 34.0, 37.0])


def test_half_the_bits_is_minus_fifty_percent():
    test = curve([0.05, 0.1, 0.2, 0.4], [28.0, 31.0, 34.0, 37.0])
    r = bd(ANCHOR, test)
    assert r.bd_rate == pytest.approx(-50.0, abs=1e-6)
    assert r.overlap == pytest.approx(1.0)


def test_one_db_better_at_equal_rate():
    test = curve(ANCHOR["bpp"], [p + 1.0 for p in ANCHOR["psnr"]])
    r = bd(ANCHOR, test)
    assert r.bd_quality == pytest.approx(1.0, abs=1e-9)
    assert r.bd_rate < 0  # PSNR is linear in log-rate here: +1 dB = 3 dB/octave -> 2^(-1/3) - 1
    assert r.bd_rate == pytest.approx(100 * (2 ** (-1 / 3) - 1), abs=0.5)


def test_identical_curves_and_point_order():
    shuffled = {k: list(reversed(v)) for k, v in ANCHOR.items()}
    r = bd(ANCHOR, shuffled)
    assert r.bd_rate == pytest.approx(0.0, abs=1e-9) and r.bd_quality == pytest.approx(0.0, abs=1e-9)


def test_no_overlap_is_nan_with_a_warning():
    far = curve([2, 3, 4], [45.0, 47.0, 49.0])
    with pytest.warns(UserWarning, match="do not overlap"):
        r = bd(ANCHOR, far)
    assert math.isnan(r.bd_rate)


def test_small_overlap_warns():
    mostly_above = curve([0.6, 1.0, 2.0, 4.0], [36.0, 40.0, 44.0, 48.0])
    with pytest.warns(UserWarning, match="covers only"):
        r = bd(ANCHOR, mostly_above)
    assert 0 < r.overlap < 0.5 and math.isfinite(r.bd_rate)


def test_bd_up_to_a_rate_counts_only_the_points_below_it():
    from vcnlit.eval.tables import bd_rows, up_to

    anchor = {"name": "a", "results": {"bpp": [0.1, 0.2, 0.4, 1.0], "psnr": [25.0, 28.0, 31.0, 36.0],
                                       "ssim": [0.7, 0.8, 0.9, 0.95]}}
    # the test curve is 1 dB better below 0.5 bpp and 3 dB worse above it
    test = {"name": "t", "results": {"bpp": [0.1, 0.2, 0.4, 1.0], "psnr": [26.0, 29.0, 32.0, 33.0],
                                     "ssim": [0.72, 0.82, 0.91, 0.9]}}
    assert up_to(test, 0.5)["results"]["bpp"] == [0.1, 0.2, 0.4] and up_to(test, None) is test
    low = {r["name"]: r for r in bd_rows([anchor, test], "a", max_bpp=0.5)}["t"]
    full = {r["name"]: r for r in bd_rows([anchor, test], "a")}["t"]
    assert low["bd_psnr"] == pytest.approx(1.0, abs=1e-6) and low["bd_rate_psnr"] < 0
    assert full["bd_psnr"] < low["bd_psnr"]


def test_per_image_bd_is_the_mean_of_each_images_bd_rate():
    from vcnlit.eval.bd import bd_per_image
    from vcnlit.eval.tables import bd_rows, up_to

    flat = curve([0.02, 0.04, 0.08, 0.16], [40.0, 43.0, 46.0, 49.0])  # an easy image: high PSNR at few bits
    busy = curve([0.2, 0.4, 0.8, 1.6], [26.0, 29.0, 32.0, 35.0])
    # the test codec needs half the bits of the anchor on the busy image and the same on the flat one
    anchor = {"name": "a", "results_by_image": {"flat": flat, "busy": busy, "only_anchor": flat}}
    test = {"name": "t", "results_by_image": {"flat": flat, "busy": {**busy, "bpp": [b / 2 for b in busy["bpp"]]}}}
    r = bd_per_image(anchor, test)
    assert set(r.rates) == {"flat", "busy"}
    assert r.rates["flat"] == pytest.approx(0.0, abs=1e-9) and r.rates["busy"] == pytest.approx(-50.0, abs=1e-6)
    assert r.mean == pytest.approx(-25.0, abs=1e-6)
    assert math.isnan(bd_per_image({"results": flat}, {"results": flat}).mean)  # no per-image results

    # up_to cuts every image's curve too, and bd_rows carries the per-image mean
    for c in (anchor, test):
        c["results"] = curve([0.1, 0.2, 0.4, 0.8], [30.0, 33.0, 36.0, 39.0])
    assert up_to(test, 0.1)["results_by_image"]["busy"]["bpp"] == [0.1]
    rows = {row["name"]: row for row in bd_rows([anchor, test], "a")}
    assert rows["t"]["bd_rate_psnr_per_image"] == pytest.approx(-25.0, abs=1e-6)
    assert rows["t"]["bd_rate_psnr"] == pytest.approx(0.0, abs=1e-9)  # the averaged curves alone say "no gain"
