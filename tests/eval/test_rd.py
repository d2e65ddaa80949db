"""RD curves: each point is the real round trip of one image at one rate."""

import json
from pathlib import Path

import torch
from conftest import natural_crop

from vcnlit.codecs import StandardCodec
from vcnlit.codecs.standard import from_uint8
from vcnlit.compressor import Compressor
from vcnlit.eval.metrics import bpp, psnr, ssim_per_image
from vcnlit.eval.rd import codec_code_fn, model_code_fn, rd_curve
from vcnlit.eval.results import results_json, write_results
from vcnlit.nets import ResamplingSystem


def test_model_curve_points_are_single_round_trips():
    torch.manual_seed(0)
    system = ResamplingSystem(channels=1, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3).eval()
    coder = Compressor(system, StandardCodec("jpeg", 20))
    images = [("camera", from_uint8(natural_crop("camera", (40, 56)))),
              ("astronaut", from_uint8(natural_crop("astronaut", (37, 45))))]
    rates = [10.0, 40.0, 70.0]
    results, by_image = rd_curve(model_code_fn(coder), images, rates, progress=False)
    # the RSN runs once per image for all rates: the same values as coding each rate on its own
    for name, x in images:
        for i, rate in enumerate(rates):
            rt = coder.round_trip(x[None], rate)
            assert by_image[name]["bpp"][i] == bpp(rt.nbytes[0], *x.shape[-2:])
            assert by_image[name]["psnr"][i] == float(psnr(rt.x_hat, x[None])[0])
            assert by_image[name]["ssim"][i] == float(ssim_per_image(rt.x_hat, x[None])[0])
    assert results["quality"] == rates and results["bpp"] == sorted(results["bpp"])
    assert results["psnr"][1] == (by_image["camera"]["psnr"][1] + by_image["astronaut"]["psnr"][1]) / 2


def _compressai_plot_points(path, metric="psnr-rgb"):
    """What CompressAI's ``compressai.utils.plot`` takes from a results file (its ``parse_json_file``):
    ``results`` (or the whole file) must hold ``bpp`` and the metric, ``psnr-rgb`` unless told otherwise."""
    data = json.loads(Path(path).read_text())
    results = data["results"] if "results" in data else data
    if metric not in results:
        raise ValueError(f'Error: metric "{metric}" not available. Available metrics: {", ".join(results)}')
    return results["bpp"], results[metric]


def test_compressai_plot_reads_grayscale_and_colour(tmp_path):
    codec = StandardCodec("jpeg", 20)
    for channels in (1, 3):
        images = [("camera", from_uint8(natural_crop("camera", (40, 56), rgb=channels == 3)))]
        results, _ = rd_curve(codec_code_fn(codec), images, [20.0, 60.0], progress=False)
        path = write_results(tmp_path / f"c{channels}.json", results_json("jpeg", "plain JPEG", results))
        written = json.loads(path.read_text())["results"]  # MS-SSIM of so small an image: null
        for metric, key in (("psnr-rgb", "psnr"), ("ms-ssim-rgb", "ms-ssim")):
            assert _compressai_plot_points(path, metric) == (written["bpp"], written[key])
