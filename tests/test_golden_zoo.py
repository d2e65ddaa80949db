"""The zoo against its golden record (tests/golden/manifest.json ``zoo``), and the evaluation path against
the CLI: the same bytes and the same pixels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
from zoo import crop_png, middle_rate, model_record  # noqa: E402

from vcnlit.precision import fast_bf16  # noqa: E402
from vcnlit.zoo import entries  # noqa: E402

RECORD = json.loads((GOLDEN / "manifest.json").read_text())["zoo"]


@pytest.fixture(scope="module")
def crop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crop_png(tmp_path_factory.mktemp("zoo"))


def test_record_covers_the_zoo() -> None:
    from zoo import CROP, PHOTO

    assert sorted(RECORD["models"]) == sorted(entries())
    assert (RECORD["photo"], RECORD["crop"]) == (PHOTO, list(CROP))


@pytest.mark.parametrize("name", sorted(RECORD["models"]))
def test_zoo_model_matches_its_record(name: str, crop: Path, one_thread: None) -> None:
    """The model file's bytes, its stream's exact bytes and its PSNR (to 0.01 dB) on the crop, in float32
    and, on a CPU with bfloat16 hardware, in bfloat16."""
    want = RECORD["models"][name]
    got = model_record(name, crop)
    again = "if that is meant, rewrite the record: VCNLIT_REGEN_GOLDEN=1 or tests/golden/make_golden.py zoo"
    assert got["ckpt_sha256"] == want["ckpt_sha256"], f"{name}: the model file changed; {again}"
    for precision in ("fp32", "bf16") if fast_bf16() else ("fp32",):
        g, w = got[precision], want[precision]
        assert (g["vcn_bytes"], g["vcn_sha256"]) == (w["vcn_bytes"], w["vcn_sha256"]), \
            f"{name} codes the crop to other bytes in {precision}; {again}"
        assert g["psnr"] == pytest.approx(w["psnr"], abs=0.01)


@pytest.mark.parametrize("name", ["scic_lowres_rgb_long", "dnnc_lowres"])
def test_evaluation_path_matches_cli(name: str, crop: Path, tmp_path: Path, one_thread: None) -> None:
    """vcnlit.evaluate's numbers (model_results over Compressor.round_trip) are those of the files that
    ``vcnlit compress`` writes and ``vcnlit decompress`` reads: the same stream bytes, size and pixels."""
    from vcnlit.checkpoint import load_model
    from vcnlit.cli import main
    from vcnlit.codecs import pack
    from vcnlit.compressor import DEFAULT_TILE_SIZE, Compressor
    from vcnlit.data import load_image
    from vcnlit.eval.metrics import bpp, psnr
    from vcnlit.eval.report import model_results
    from vcnlit.pixels import from_uint8, to_uint8

    zoo = entries()[name]
    rate = middle_rate(zoo.info["rate_points"])
    vcn, png = tmp_path / "x.vcn", tmp_path / "x.png"
    assert main(["compress", str(crop), str(vcn), "--model", name, "--rate", f"{rate:g}"]) == 0
    assert main(["decompress", str(vcn), str(png)]) == 0
    data = vcn.read_bytes()
    cli_pixels = np.asarray(Image.open(png))

    model = load_model(zoo.path)
    x = load_image(crop, model.system.channels)
    comp = Compressor(model.system, model.codec, tile_size=DEFAULT_TILE_SIZE)
    rt = comp.round_trip(x[None], rate)
    assert rt.nbytes == [len(data)]
    coded = comp.codec.round_trip(rt.y, [rate])
    assert pack(comp.header(x.shape, rate), coded.payloads[0]) == data
    assert np.array_equal(to_uint8(rt.x_hat[0]), cli_pixels)

    rd = model_results(model.system, model.codec, [("crop", x)], [rate], name, progress=False)["results"]
    h, w = x.shape[-2:]
    assert rd["bpp"] == [bpp(len(data), h, w)]
    cli_image = from_uint8(cli_pixels)[None]
    assert rd["psnr"][0] == pytest.approx(float(psnr(cli_image, x[None])[0]), abs=1e-9)
    assert torch.equal(comp.decompress(data), rt.x_hat[0])
    if comp.has_jpeg_form:  # the standard JPEG file's size is the one `vcnlit compress IN OUT.jpg` writes
        jpg = tmp_path / "x.jpg"
        assert main(["compress", str(crop), str(jpg), "--model", name, "--rate", f"{rate:g}"]) == 0
        assert rd["bpp-jpeg"] == [bpp(jpg.stat().st_size, h, w)]
    else:
        assert "bpp-jpeg" not in rd
