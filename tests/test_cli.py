"""`vcnlit compress | decompress` as a user runs them (subprocesses)."""

import subprocess
import sys

import pytest
from conftest import ROOT, data_overrides, natural_crop, run_module
from PIL import Image

#: every test here runs `vcnlit` in subprocesses, as a user does (the fast tier calls it in-process:
#: tests/test_cli_jpeg.py, tests/test_zoo.py)
pytestmark = pytest.mark.slow


def vcnlit(*args):
    return subprocess.run([sys.executable, "-m", "vcnlit.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, check=False)


@pytest.fixture(scope="module", params=["scic_lowres", "dnnc_lowres"])
def model(request, image_dirs, tmp_path_factory):
    run = tmp_path_factory.mktemp(request.param)
    p = run_module("vcnlit.run", f"+experiment={request.param}", "debug=smoke", "logger=none",
                   f"hydra.run.dir={run}", *data_overrides(image_dirs))
    assert p.returncode == 0, p.stderr[-2000:]
    return run / "model.ckpt"


def test_round_trip_is_deterministic_and_sized(model, tmp_path):
    src = tmp_path / "odd.png"
    Image.fromarray(natural_crop("astronaut", (37, 51), rgb=True)).save(src)
    p = vcnlit("compress", str(src), str(tmp_path / "a.vcn"), "--model", str(model))
    assert p.returncode == 0, p.stderr
    size = (tmp_path / "a.vcn").stat().st_size
    assert f"{size} bytes" in p.stdout and f"{size * 8 / (37 * 51):.4f} bpp" in p.stdout
    assert len(p.stdout.splitlines()) == 1, p.stdout  # torchac's build messages (dnnc) go to stderr
    outs = []
    for name in ("x.png", "y.png"):
        p = vcnlit("decompress", str(tmp_path / "a.vcn"), str(tmp_path / name), "--model", str(model))
        assert p.returncode == 0, p.stderr
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    assert Image.open(tmp_path / "x.png").size == (51, 37)


def test_bad_streams_and_outputs(model, tmp_path):
    src = tmp_path / "i.png"
    Image.fromarray(natural_crop("camera", (32, 32))).save(src)
    assert vcnlit("compress", str(src), str(tmp_path / "a.vcn"), "--model", str(model)).returncode == 0
    data = (tmp_path / "a.vcn").read_bytes()
    cases = {"trunc.vcn": data[: len(data) // 2], "random.vcn": bytes(range(256)) * 3,
             "png.vcn": src.read_bytes(), "flip.vcn": data[:10] + bytes([data[10] ^ 4]) + data[11:]}
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        p = vcnlit("decompress", str(tmp_path / name), str(tmp_path / f"{name}.png"), "--model", str(model))
        assert p.returncode == 2, name
        assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / f"{name}.png").exists()
    p = vcnlit("compress", str(src), str(tmp_path / "a.vcn"), "--model", str(model))
    assert p.returncode == 2 and "--force" in p.stderr
    assert (tmp_path / "a.vcn").read_bytes() == data


def test_another_model_is_refused(model, tmp_path, image_dirs):
    run = tmp_path / "other"
    p = run_module("vcnlit.run", "+experiment=scic_lowres", "debug=smoke", "logger=none", "seed=7",
                   f"hydra.run.dir={run}", *data_overrides(image_dirs))
    assert p.returncode == 0
    src = tmp_path / "i.png"
    Image.fromarray(natural_crop("camera", (16, 16))).save(src)
    assert vcnlit("compress", str(src), str(tmp_path / "a.vcn"), "--model", str(model)).returncode == 0
    p = vcnlit("decompress", str(tmp_path / "a.vcn"), str(tmp_path / "o.png"), "--model", str(run / "model.ckpt"))
    assert p.returncode == 2 and "another model" in p.stderr


def test_decoder_flips_are_a_decode_time_choice(model, tmp_path):
    """--flips N averages the decoder over N flips: the model's own N decodes as with no flag, any N
    decodes the same stream to the same size, an N outside 1/2/4/8 is a one-line error."""
    from vcnlit.checkpoint import load_model

    src = tmp_path / "i.png"
    Image.fromarray(natural_crop("astronaut", (24, 40))).save(src)
    assert vcnlit("compress", str(src), str(tmp_path / "a.vcn"), "--model", str(model)).returncode == 0
    own = load_model(model).system.self_ensemble
    outs = {}
    for n in (None, own, 1, 8):
        name = tmp_path / f"{n}.png"
        p = vcnlit("decompress", str(tmp_path / "a.vcn"), str(name), "--model", str(model),
                   *(["--flips", str(n)] if n else []))
        assert p.returncode == 0, p.stderr
        outs[n] = name.read_bytes()
        assert Image.open(name).size == (40, 24)
    assert outs[None] == outs[own] and outs[1] != outs[8]
    p = vcnlit("decompress", str(tmp_path / "a.vcn"), str(tmp_path / "x.png"), "--model", str(model), "--flips", "3")
    assert p.returncode == 2 and "--flips" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "x.png").exists()


def test_refine_is_an_encoder_choice(model, tmp_path):
    """--refine N refines the coded signal for the image: another stream, decoded by the same model as any
    other; --refine with --bpp keeps the size limit; a negative N is a one-line error."""
    src = tmp_path / "i.png"
    Image.fromarray(natural_crop("astronaut", (32, 40))).save(src)
    for name, extra in (("a.vcn", []), ("b.vcn", ["--refine", "3"]), ("c.vcn", ["--refine", "3", "--bpp", "4"])):
        p = vcnlit("compress", str(src), str(tmp_path / name), "--model", str(model), *extra)
        assert p.returncode == 0, p.stderr
        p = vcnlit("decompress", str(tmp_path / name), str(tmp_path / f"{name}.png"), "--model", str(model))
        assert p.returncode == 0, p.stderr
    assert (tmp_path / "c.vcn").stat().st_size * 8 <= 4 * 32 * 40
    p = vcnlit("compress", str(src), str(tmp_path / "d.vcn"), "--model", str(model), "--refine", "-1")
    assert p.returncode == 2 and "--refine" in p.stderr and not (tmp_path / "d.vcn").exists()
