"""RD plots: every series told apart, every line inside the axes."""

from PIL import Image

from vcnlit.eval.plots import plot_rd, styles, visible_range


def curve(name, bpp, psnr, **meta):
    return {"name": name, "results": {"bpp": bpp, "psnr": psnr}, "meta": meta}


def table_curves():
    """The 14 series of `make tables`: four experiments, their IDN-only ablations, six codecs."""
    exps = [f"{m}_{r}" for m in ("scic", "dnnc") for r in ("lowres", "fullres")]
    out = [curve(e, [0.1, 0.2], [25, 27], experiment=e, scale=2 if "low" in e else 1) for e in exps]
    out += [curve(f"{e}_idn_only", [0.1, 0.2], [24, 26], experiment=e, stage="imitation") for e in exps]
    out += [curve(n, [0.1, 0.3], [24, 28], codec={"format": n}) for n in
            ("jpeg", "jpeg_optimized", "jpeg2000", "webp", "avif")]
    return [*out, curve("bicubic_jpeg", [0.05, 0.1], [23, 25], scale=2)]


def test_fourteen_series_are_told_apart():
    cs = table_curves()
    st = styles(cs)
    keys = [(s["color"], s["ls"], s["marker"]) for s in st]
    assert len(set(keys)) == 14
    by = dict(zip((c["name"] for c in cs), st))
    # a model and its IDN-only ablation: one colour, solid vs dashed; codecs dotted
    assert by["scic_lowres"]["color"] == by["scic_lowres_idn_only"]["color"]
    assert (by["scic_lowres"]["ls"], by["scic_lowres_idn_only"]["ls"], by["jpeg"]["ls"]) == ("-", "--", ":")
    # low- vs full-resolution re-sampling by marker (older files without meta.scale: by name)
    assert by["scic_lowres"]["marker"] == by["dnnc_lowres_idn_only"]["marker"] == by["bicubic_jpeg"]["marker"]
    assert by["scic_lowres"]["marker"] != by["scic_fullres"]["marker"] == by["jpeg"]["marker"]
    assert len({s["color"] for s in st}) == 10


def test_axes_hold_where_a_line_leaves_the_plot(tmp_path):
    ours = curve("ours", [0.1, 0.2], [22.0, 23.0], experiment="ours")
    jpeg = curve("jpeg", [0.12, 0.22, 0.37], [26.0, 28.5, 30.0])
    # jpeg's last segment crosses xmax = 0.3 at 29.3 dB: above every point drawn inside the plot
    lo, hi = visible_range([ours, jpeg], "psnr", 0.3)
    assert lo == 22.0 and abs(hi - 29.3) < 1e-9
    assert visible_range([curve("far", [1.0, 2.0], [30, 40])], "psnr", 0.3) is None
    path = plot_rd([ours, jpeg], tmp_path / "rd.png", xmax=0.3, title="t", note="debug=smoke: not results")
    assert Image.open(path).size[0] > 0
