"""RD curves: each point is the real round trip of one image at one rate."""

import torch
from conftest import natural_crop

from vcnlit.codecs import StandardCodec
from vcnlit.codecs.standard import from_uint8
from vcnlit.compressor import Compressor
from vcnlit.eval.metrics import bpp, psnr, ssim_per_image
from vcnlit.eval.rd import model_code_fn, rd_curve
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
