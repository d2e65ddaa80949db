"""The model zoo and the CLI that uses it: names, streams that name their model, colour, permissions."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, natural_crop
from PIL import Image

from vcnlit.checkpoint import load_model, save_model
from vcnlit.codecs import StandardCodec
from vcnlit.compressor import Compressor
from vcnlit.errors import CheckpointError
from vcnlit.nets import ResamplingSystem
from vcnlit.zoo import DEFAULT_MODEL, composites, entries, find_by_fingerprint, resolve

ZOO = entries()
#: the zoo model that codes a colour photo when nothing is asked for (the default composite's first member)
DEFAULT_SINGLE = composites()[DEFAULT_MODEL].members[0] if DEFAULT_MODEL in composites() else DEFAULT_MODEL


def vcnlit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcnlit.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, check=False)


def _tiny(path: Path, channels: int) -> Path:
    """An untrained tiny model whose file records its rate points (as a run's model.ckpt does)."""
    system = ResamplingSystem(channels=channels, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)
    return save_model(path, system.eval(), StandardCodec("jpeg", 40), "scic_lowres",
                      meta={"config": {"eval": {"rate_points": [10, 40, 70]}}})


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "colour.png"
    Image.fromarray(natural_crop("astronaut", (45, 61), rgb=True)).save(path)
    return path


def test_the_zoo_has_the_default_colour_model_and_names_resolve():
    assert DEFAULT_SINGLE in ZOO and ZOO[DEFAULT_SINGLE].info["channels"] == 3
    for name, m in ZOO.items():
        assert resolve(name) == m.path and m.path.stat().st_size <= 5_000_000
    for name, c in composites().items():  # a composite resolves to the member that codes without --bpp
        assert resolve(name) == ZOO[c.members[0]].path
    assert resolve(None) == ZOO[DEFAULT_SINGLE].path
    with pytest.raises(CheckpointError, match="not a zoo model"):
        resolve("no_such_model")


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_model_loads_safely_and_round_trips(name, photo):
    m = ZOO[name]
    torch.load(m.path, map_location="cpu", weights_only=True)  # plain tensors and values only
    model = load_model(m.path)
    assert model.experiment == m.info["experiment"] and model.system.channels == m.info["channels"]
    assert model.rate_points == m.info["rate_points"]
    for key in ("command", "seed", "training_data", "train_seconds", "trained_at_commit", "versions", "results"):
        assert m.info.get(key) is not None, key
    comp = Compressor(model.system, model.codec)
    assert comp.fingerprint.hex() == m.info["fingerprint"] and find_by_fingerprint(comp.fingerprint).name == name
    from vcnlit.data import load_image

    x = load_image(photo, model.system.channels)
    rate = model.rate_points[-1]
    data = comp.compress(x, rate)
    x_hat = comp.decompress(data)
    assert x_hat.shape == x.shape
    assert float(-10 * torch.log10(((x_hat - x) ** 2).mean())) > 20.0  # a trained model, not noise


def test_colour_round_trip_with_no_model_named(photo, tmp_path):
    """The README's first commands: no training, no --model; an RGB PNG of the original size comes back,
    readable by other users (the umask's permissions, like cp)."""
    old = os.umask(0o022)
    try:
        p = vcnlit("compress", str(photo), str(tmp_path / "out.vcn"))
        assert p.returncode == 0, p.stderr
        assert DEFAULT_MODEL in p.stdout
        p = vcnlit("decompress", str(tmp_path / "out.vcn"), str(tmp_path / "back.png"))
        assert p.returncode == 0, p.stderr
    finally:
        os.umask(old)
    back = Image.open(tmp_path / "back.png")
    assert back.mode == "RGB" and back.size == Image.open(photo).size
    for f in ("out.vcn", "back.png"):
        assert stat.S_IMODE((tmp_path / f).stat().st_mode) == 0o644, f


def test_models_lists_the_zoo():
    p = vcnlit("models")
    assert p.returncode == 0, p.stderr
    for name in (*ZOO, *composites()):
        assert name in p.stdout


def test_gray_model_warns_once_that_the_output_will_be_gray(photo, tmp_path):
    gray = _tiny(tmp_path / "gray.ckpt", 1)
    p = vcnlit("compress", str(photo), str(tmp_path / "g.vcn"), "--model", str(gray))
    assert p.returncode == 0, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "will be gray" in lines[0] and str(photo) in lines[0]
    rgb = _tiny(tmp_path / "rgb.ckpt", 3)
    p = vcnlit("compress", str(photo), str(tmp_path / "c.vcn"), "--model", str(rgb))
    assert p.returncode == 0 and "gray" not in p.stderr


@pytest.mark.slow
def test_rates_outside_the_trained_range_and_lossy_outputs_are_refused(photo, tmp_path):
    model = _tiny(tmp_path / "m.ckpt", 3)
    p = vcnlit("compress", str(photo), str(tmp_path / "a.vcn"), "--model", str(model), "--rate", "95")
    assert p.returncode == 2 and "outside" in p.stderr and "10, 40, 70" in p.stderr
    assert not (tmp_path / "a.vcn").exists()
    p = vcnlit("compress", str(photo), str(tmp_path / "a.vcn"), "--model", str(model), "--rate", "20")
    assert p.returncode == 0 and "interpolates" in p.stderr
    p = vcnlit("decompress", str(tmp_path / "a.vcn"), str(tmp_path / "a.jpg"), "--model", str(model))
    assert p.returncode == 2 and ".jpg cannot hold it" in p.stderr and not (tmp_path / "a.jpg").exists()
    for suffix in (".tiff", ".bmp", ".ppm", ".webp"):
        out = tmp_path / f"a{suffix}"
        p = vcnlit("decompress", str(tmp_path / "a.vcn"), str(out), "--model", str(model))
        assert p.returncode == 0, p.stderr
        assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(_png(tmp_path, model))))


def _png(tmp_path: Path, model: Path) -> Path:
    out = tmp_path / "ref.png"
    if not out.exists():
        assert vcnlit("decompress", str(tmp_path / "a.vcn"), str(out), "--model", str(model)).returncode == 0
    return out


def test_a_local_model_stream_asks_for_its_model(photo, tmp_path):
    model = _tiny(tmp_path / "m.ckpt", 3)
    assert vcnlit("compress", str(photo), str(tmp_path / "a.vcn"), "--model", str(model), "--rate", "40").returncode == 0
    p = vcnlit("decompress", str(tmp_path / "a.vcn"), str(tmp_path / "a.png"))
    assert p.returncode == 2 and "--model" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.skipif(DEFAULT_SINGLE not in ZOO, reason="needs the default zoo model")
def test_evaluate_a_zoo_model_by_name_writes_compressai_colour_keys(tmp_path, photo):
    from conftest import run_module

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.open(photo).save(folder / "p.png")
    p = run_module("vcnlit.evaluate", f"model={DEFAULT_SINGLE}", f"data.test_dir={folder}",
                   "eval.baseline_points=[10,40,80]", f"hydra.run.dir={tmp_path / 'ev'}")
    assert p.returncode == 0, p.stderr[-2000:]
    rd = json.loads((tmp_path / "ev" / "rd.json").read_text())
    assert rd["meta"]["channels"] == 3
    r = rd["results"]
    # what CompressAI's plotting reads: results["bpp"] and results[metric] lists of equal length
    assert r["psnr-rgb"] == r["psnr"] and len(r["bpp"]) == len(r["psnr-rgb"]) == len(r["ms-ssim-rgb"])
    assert all(v is None for v in r["ms-ssim-rgb"])  # too small for MS-SSIM: null, still readable
    assert all(y > 0 for y in r["psnr-y"])
    from vcnlit.eval.results import read_json

    assert read_json(tmp_path / "ev" / "rd.json")["results"]["psnr"] == r["psnr"]


def test_bpp_codes_the_highest_rate_whose_file_fits(photo, tmp_path):
    from vcnlit.data import load_image
    from vcnlit.errors import ConfigError
    from vcnlit.multirate import rate_grid

    m = load_model(_tiny(tmp_path / "m.ckpt", 3))
    assert rate_grid(m) == [float(q) for q in range(10, 71)]
    comp, x = Compressor(m.system, m.codec), load_image(photo, 3)
    sizes = {q: len(comp.compress(x, q)) for q in (10, 40, 70)}
    budget = (sizes[10] + sizes[40]) // 2
    data, q = comp.compress_to_size(x, budget, rate_grid(m))
    assert data == comp.compress(x, q) and len(data) <= budget < len(comp.compress(x, q + 1))
    assert comp.compress_to_size(x, 10**6, rate_grid(m)) == (comp.compress(x, 70), 70.0)  # capped at the top
    with pytest.raises(ConfigError, match="smallest file"):
        comp.compress_to_size(x, sizes[10] - 1, rate_grid(m))

    p = vcnlit("compress", str(photo), str(tmp_path / "a.vcn"), "--model", str(tmp_path / "m.ckpt"),
               "--bpp", str((budget + 0.5) * 8 / (45 * 61)))  # half a byte over: budget * 8 / n can round below
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "a.vcn").read_bytes() == data and f"quality={q:g}" in p.stdout
    assert "above what" not in p.stderr
    p = vcnlit("compress", str(photo), str(tmp_path / "c.vcn"), "--model", str(tmp_path / "m.ckpt"), "--bpp", "50")
    assert p.returncode == 0 and "quality=70" in p.stdout  # capped, and says so in one line
    assert [line for line in p.stderr.splitlines() if "--bpp 50 is above what" in line] == p.stderr.splitlines()
    for bad, msg in ((["--bpp", "0"], "positive"), (["--bpp", "0.5", "--rate", "40"], "not both")):
        p = vcnlit("compress", str(photo), str(tmp_path / "b.vcn"), "--model", str(tmp_path / "m.ckpt"), *bad)
        assert p.returncode == 2 and msg in p.stderr and not (tmp_path / "b.vcn").exists()


def test_index_names_the_photos_each_model_was_trained_on():
    """``training_data`` follows the run's data config (the extra colour photos of ``data.more_photos``)."""
    from vcnlit.zoo.build import _embedded_training_data

    assert "train_more" not in _embedded_training_data({}) and "train_more" in _embedded_training_data(
        {"more_photos": True})
    for name, model in entries().items():
        data = model.info["config"]["data"]
        assert model.info["training_data"] == (data.get("train_dir") or _embedded_training_data(data)), name
