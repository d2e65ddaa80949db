"""Baselines through the same evaluator: checked against an independent Pillow computation."""

import io
import json

import numpy as np
import pytest
from conftest import run_module
from PIL import Image

QUALITIES = [10, 50, 90]


def pillow_jpeg(folder, qualities, optimize):
    """Plain Pillow + numpy: each image's luma coded as JPEG at each quality -> {name: {bpp, psnr}}.

    The baseline counts the bytes of the plain JPEG file (no vcnlit container) over the image's pixels.
    """
    out = {}
    for f in sorted(folder.iterdir()):
        a = np.asarray(Image.open(f).convert("L"))
        row = out[f.name] = {"bpp": [], "psnr": []}
        for q in qualities:
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, format="JPEG", quality=q, optimize=optimize)
            d = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L")).astype(np.float64)
            row["bpp"].append(len(buf.getvalue()) * 8 / a.size)
            row["psnr"].append(10 * np.log10(255.0**2 / np.mean((d - a) ** 2)))
    return out


def _mean_over_images(by_image, metric):
    return [sum(v) / len(v) for v in zip(*(r[metric] for r in by_image.values()))]


@pytest.mark.slow
def test_baselines_entry_point_matches_pillow(image_dirs, tmp_path):
    out = tmp_path / "bl"
    r = run_module("vcnlit.baselines", f"data.test_dir={image_dirs['test']}", f"hydra.run.dir={out}",
                   f"eval.baseline_points=[{','.join(map(str, QUALITIES))}]", "eval.jpeg2000_points=[40]",
                   "eval.webp_points=[50]")
    assert r.returncode == 0, r.stderr[-2000:]
    names = {"jpeg", "jpeg_optimized", "jpeg_vcn", "jpeg_psnr_vcn", "jpeg2000", "webp", "avif", "bicubic_jpeg"}
    assert names <= {p.stem for p in out.glob("*.json")}
    for n in names:
        d = json.loads((out / f"{n}.json").read_text())
        assert d["name"] == n
        assert set(d["results"]) >= {"bpp", "psnr", "ssim", "ms-ssim", "quality"}
        assert len(d["results"]["quality"]) == len(d["results"]["bpp"])
        assert set(d["results_by_image"]) == {p.name for p in image_dirs["test"].iterdir()}
        assert {"command", "config", "git_commit", "versions"} <= set(d["meta"])
    # bytes exactly as Pillow writes them; PSNR to float32 precision (measured: 2.2e-6 dB at most)
    for name, optimize in (("jpeg", False), ("jpeg_optimized", True)):
        ours = json.loads((out / f"{name}.json").read_text())
        assert ours["results"]["quality"] == QUALITIES
        ref = pillow_jpeg(image_dirs["test"], QUALITIES, optimize)
        assert set(ours["results_by_image"]) == set(ref)
        for n, row in ref.items():
            assert ours["results_by_image"][n]["bpp"] == row["bpp"], (name, n)
            assert ours["results_by_image"][n]["psnr"] == pytest.approx(row["psnr"], abs=1e-5), (name, n)
        assert ours["results"]["bpp"] == _mean_over_images(ref, "bpp")
        assert ours["results"]["psnr"] == pytest.approx(_mean_over_images(ref, "psnr"), abs=1e-5)
    # Huffman optimisation changes bytes, never pixels
    plain, opt = (json.loads((out / f"{n}.json").read_text())["results"] for n in ("jpeg", "jpeg_optimized"))
    assert opt["psnr"] == plain["psnr"]
    assert all(o < p for o, p in zip(opt["bpp"], plain["bpp"]))
    # the same JPEG in a .vcn file: the same pixels in fewer bytes (smaller header, recompressed coefficients)
    vcn = json.loads((out / "jpeg_vcn.json").read_text())["results"]
    assert vcn["psnr"] == opt["psnr"] and all(v < o for v, o in zip(vcn["bpp"], opt["bpp"]))
    assert (out / "baselines_psnr.png").stat().st_size > 0
    assert "BD against jpeg" in r.stdout

    # without baselines (~baseline_set): the BD summary of results files alone, per-image mean included
    from vcnlit.eval.bd import bd, bd_per_image

    files = [out / "jpeg.json", out / "jpeg_vcn.json"]
    r = run_module("vcnlit.baselines", "~baseline_set", f"compare=[{','.join(map(str, files))}]",
                   f"hydra.run.dir={tmp_path / 'bd'}")
    assert r.returncode == 0, r.stderr[-2000:]
    jpeg, vcn = (json.loads(f.read_text()) for f in files)
    row = next(line for line in r.stdout.splitlines() if "jpeg_vcn" in line)
    assert f"{bd(jpeg['results'], vcn['results']).bd_rate:+.1f} %" in row
    assert f"{bd_per_image(jpeg, vcn).mean:+.1f} %" in row and "per image" in r.stdout
    assert not list((tmp_path / "bd").glob("*.json"))
    r = run_module("vcnlit.baselines", "~baseline_set", f"hydra.run.dir={tmp_path / 'bd'}")
    assert r.returncode == 2 and "nothing to do" in r.stderr


def test_bicubic_baseline_codes_the_half_size_image(image_dirs):
    from vcnlit.data import load_folder
    from vcnlit.eval.baselines import CodecBaseline, ResampledCodecBaseline
    from vcnlit.nets import resize

    images = load_folder(image_dirs["test"], 1, "data.test_dir")
    spec = {"format": "jpeg", "optimize": True}
    bic = ResampledCodecBaseline("bicubic_jpeg", spec, [30], scale=2).evaluate(images, progress=False)
    half = [(n, resize(x[None], (round(x.shape[-2] / 2), round(x.shape[-1] / 2)))[0].clamp(0, 1))
            for n, x in images]
    plain = CodecBaseline("jpeg", spec, [30]).evaluate(half, progress=False)
    for (n, x), (_, h) in zip(images, half):
        # same bytes as JPEG of the half-size image, counted over the full-size pixels
        full_px, half_px = x.shape[-2] * x.shape[-1], h.shape[-2] * h.shape[-1]
        assert bic["results_by_image"][n]["bpp"][0] == pytest.approx(
            plain["results_by_image"][n]["bpp"][0] * half_px / full_px)


def test_a_model_with_psnr_tables_or_a_dead_zone_is_compared_with_the_standard_jpeg():
    from vcnlit.codecs import DnncCodec, StandardCodec
    from vcnlit.eval.baselines import baseline_codec_spec

    spec = baseline_codec_spec(StandardCodec("jpeg", 30, tables="psnr", deadzone=0.45))
    assert spec == {"format": "jpeg", "optimize": True, "subsampling": 2, "quality": 30.0}  # libjpeg's encoder
    assert baseline_codec_spec(DnncCodec())["format"] == "jpeg"


DCT = {"format": "dct", "entropy": "context", "colour": "ycbcr420", "deadzone": 0.45, "deadzone_hf": 0.1}


@pytest.mark.parametrize("channels", [1, 3])
def test_dnnc_control_counts_the_vcn_file_of_the_padded_signal(image_dirs, channels):
    """DNNC's codec alone, in a .vcn file: the file's bytes, the decoded image cropped to the image's size."""
    from vcnlit.codecs import DnncCodec, Header, pack, unpack
    from vcnlit.data import load_folder
    from vcnlit.eval.baselines import CodecBaseline
    from vcnlit.eval.metrics import bpp
    from vcnlit.pixels import pad_to_multiple

    images = load_folder(image_dirs["test"], channels, "data.test_dir")  # 40x56 and 37x45: one needs padding
    d = CodecBaseline("dnnc_vcn", DCT, [64, 16], container=True).evaluate(images, progress=False)
    assert d["meta"]["rate_key"] == "step" and d["results"]["step"] == [64, 16]
    assert "header_bytes" not in d["results"]
    codec = DnncCodec(**{k: v for k, v in DCT.items() if k != "format"})
    for n, x in images:
        c, h, w = x.shape
        row = d["results_by_image"][n]
        for i, step in enumerate((64, 16)):
            payload = codec.encode(pad_to_multiple(x, 8), step)
            file = pack(Header("dnnc", "dct", c, h, w, float(step), codec.header_params(c)), payload)
            assert unpack(file)[1] == payload
            assert row["bpp"][i] == bpp(len(file), h, w)
        assert row["bpp"][0] < row["bpp"][1] and row["psnr"][0] < row["psnr"][1]


def test_resampled_control_in_a_vcn_file(image_dirs):
    """bicubic /2 + JPEG (psnr tables) in a .vcn file + bicubic x2: the .vcn file of the half-size image's JPEG."""
    from vcnlit.data import load_folder
    from vcnlit.eval.baselines import CodecBaseline, ResampledCodecBaseline
    from vcnlit.nets import resize

    images = load_folder(image_dirs["test"], 1, "data.test_dir")
    spec = {"format": "jpeg", "optimize": True, "tables": "psnr"}
    vcn = ResampledCodecBaseline("b", spec, [30], container=True).evaluate(images, progress=False)
    plain = ResampledCodecBaseline("b", spec, [30]).evaluate(images, progress=False)
    assert vcn["meta"]["container"] is True and vcn["meta"]["scale"] == 2
    half = [(n, resize(x[None], (round(x.shape[-2] / 2), round(x.shape[-1] / 2)))[0].clamp(0, 1)) for n, x in images]
    ref = CodecBaseline("jpeg_psnr_vcn", spec, [30], container=True).evaluate(half, progress=False)
    for (n, x), (_, h) in zip(images, half):
        ratio = h.shape[-2] * h.shape[-1] / (x.shape[-2] * x.shape[-1])
        assert vcn["results_by_image"][n]["bpp"][0] == pytest.approx(ref["results_by_image"][n]["bpp"][0] * ratio)
        assert vcn["results_by_image"][n]["psnr"] == plain["results_by_image"][n]["psnr"]  # the same pixels
        assert vcn["results_by_image"][n]["bpp"][0] < plain["results_by_image"][n]["bpp"][0]  # in fewer bytes


def test_jpegxl_anchor_counts_its_stream(image_dirs):
    import imagecodecs

    from vcnlit.data import load_folder
    from vcnlit.eval.baselines import CodecBaseline
    from vcnlit.eval.metrics import bpp
    from vcnlit.pixels import to_uint8

    images = load_folder(image_dirs["test"], 3, "data.test_dir")
    d = CodecBaseline("jpegxl", {"format": "jpegxl", "effort": 7}, [8, 1]).evaluate(images, progress=False)
    assert d["meta"]["rate_key"] == "distance" and "header_bytes" not in d["results"]  # bit-packed: not measured
    assert "libjxl" in d["description"]
    for n, x in images:
        for i, dist in enumerate((8, 1)):
            stream = imagecodecs.jpegxl_encode(to_uint8(x), distance=dist, effort=7, usecontainer=False)
            assert d["results_by_image"][n]["bpp"][i] == bpp(len(stream), *x.shape[-2:])
