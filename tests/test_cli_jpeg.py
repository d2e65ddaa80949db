"""`vcnlit compress photo.png photo.jpg`: a standard JPEG any viewer opens, tagged so that `vcnlit decompress`
restores the full photo; `pack` / `unpack` convert it to and from `.vcn` byte for byte; outputs that are the
input are refused; the default model keeps a grayscale photo gray. In-process calls of the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, natural_crop
from PIL import Image

from vcnlit import __version__
from vcnlit.cli import main
from vcnlit.codecs import unpack
from vcnlit.codecs.jpeg_tag import TAG_MARKER, to_jpeg, untag
from vcnlit.zoo import DEFAULT_GRAY_MODEL, DEFAULT_MODEL, composites, entries

pytestmark = pytest.mark.skipif(not {DEFAULT_MODEL, DEFAULT_GRAY_MODEL, "dnnc_lowres"} <= {*entries(), *composites()},
                                reason="needs the zoo's default models")


def cli(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``vcnlit ARGS``, run in this process."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error(code: int, err: str) -> str:
    """The one line a refused command prints (exit status 2, no traceback)."""
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("photos")
    out = {"colour": d / "colour.png", "gray": d / "gray.png"}
    Image.fromarray(natural_crop("astronaut", (45, 61), rgb=True)).save(out["colour"])
    Image.fromarray(natural_crop("camera", (40, 52))).save(out["gray"])
    return out


def test_jpeg_output_is_a_standard_picture_that_restores_like_the_vcn(capsys, photos, tmp_path):
    """The default model writes a baseline, Huffman-optimised JPEG of the re-sampled image, tagged with the
    model (APP15); decompress gives the full photo with the pixels of the .vcn of the same compress."""
    src = photos["colour"]
    jpg, vcn = tmp_path / "out.jpg", tmp_path / "out.vcn"
    code, out, err = cli(capsys, "compress", src, jpg)
    assert code == 0, err
    assert f"{jpg.stat().st_size} bytes" in out and DEFAULT_MODEL in out and len(out.splitlines()) == 1
    with Image.open(jpg) as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (31, 23)  # the re-sampled image: half size
        assert not im.info.get("progressive") and "jfif" in im.info
        im.load()
    data = jpg.read_bytes()
    assert data[:4] == b"\xff\xd8\xff\xe0" and data[20:22] == bytes([0xFF, TAG_MARKER])  # SOI, JFIF, the tag
    assert cli(capsys, "compress", src, vcn)[0] == 0
    header, _ = untag(data)
    assert header == unpack(vcn.read_bytes())[0]
    for name in ("out.jpg", "out.vcn"):
        code, _, err = cli(capsys, "decompress", tmp_path / name, tmp_path / f"{name}.png")
        assert code == 0, err
    back = np.asarray(Image.open(tmp_path / "out.jpg.png"))
    assert back.shape == (45, 61, 3) and np.array_equal(back, np.asarray(Image.open(tmp_path / "out.vcn.png")))
    code, out, err = cli(capsys, "compress", src, tmp_path / "small.JPEG", "--bpp", "2")
    assert code == 0, err
    assert (tmp_path / "small.JPEG").stat().st_size * 8 <= 2 * 45 * 61 and Image.open(tmp_path / "small.JPEG")


def test_pack_and_unpack_are_lossless(capsys, photos, tmp_path):
    """pack: the tagged JPEG as a smaller .vcn; unpack gives back the identical bytes, and the .vcn
    decodes to the same pixels as the JPEG."""
    jpg = tmp_path / "photo.jpg"
    assert cli(capsys, "compress", photos["colour"], jpg)[0] == 0
    code, out, err = cli(capsys, "pack", jpg, tmp_path / "photo.vcn")
    assert code == 0, err
    size = (tmp_path / "photo.vcn").stat().st_size
    assert f"{size} bytes" in out and size < jpg.stat().st_size
    code, _, err = cli(capsys, "unpack", tmp_path / "photo.vcn", tmp_path / "again.jpg")
    assert code == 0, err
    assert (tmp_path / "again.jpg").read_bytes() == jpg.read_bytes()
    for name in ("photo.jpg", "photo.vcn"):
        assert cli(capsys, "decompress", tmp_path / name, tmp_path / f"{name}.png")[0] == 0
    assert (tmp_path / "photo.jpg.png").read_bytes() == (tmp_path / "photo.vcn.png").read_bytes()
    assert to_jpeg((tmp_path / "photo.vcn").read_bytes()) == jpg.read_bytes()


def test_a_grayscale_photo_stays_gray(capsys, photos, tmp_path):
    for name in ("g.vcn", "g.jpg"):
        code, out, err = cli(capsys, "compress", photos["gray"], tmp_path / name)
        assert code == 0 and DEFAULT_GRAY_MODEL in out and "channel(s)" in out and not err, err
        assert cli(capsys, "decompress", tmp_path / name, tmp_path / f"{name}.png")[0] == 0
        back = Image.open(tmp_path / f"{name}.png")
        assert back.mode == "L" and back.size == (52, 40)
    assert Image.open(tmp_path / "g.jpg").mode == "L"


def test_an_output_that_is_the_input_is_refused(capsys, photos, tmp_path):
    """By its name, a symlink or a hard link, even with --force: nothing is written, the input is kept."""
    x = tmp_path / "x.png"
    x.write_bytes(photos["colour"].read_bytes())
    before = x.read_bytes()
    (tmp_path / "link.vcn").symlink_to(x)
    os.link(x, tmp_path / "hard.jpg")
    for out in ("x.png", "link.vcn", "hard.jpg"):
        line = one_error(*cli(capsys, "compress", "--force", x, tmp_path / out)[::2])
        assert "is the input" in line
    assert x.read_bytes() == before
    assert cli(capsys, "compress", x, tmp_path / "a.vcn")[0] == 0
    a = (tmp_path / "a.vcn").read_bytes()
    for cmd, out in (("decompress", "a.vcn"), ("unpack", "a.vcn")):
        assert "is the input" in one_error(*cli(capsys, cmd, "--force", tmp_path / "a.vcn", tmp_path / out)[::2])
    assert (tmp_path / "a.vcn").read_bytes() == a


def test_the_output_extension_decides_the_format(capsys, photos, tmp_path):
    for name in ("x.webp", "x.png", "x"):
        line = one_error(*cli(capsys, "compress", photos["colour"], tmp_path / name)[::2])
        assert ".vcn" in line and ".jpg" in line
        assert not (tmp_path / name).exists()
    assert cli(capsys, "compress", photos["colour"], tmp_path / "a.vcn")[0] == 0
    assert ".vcn" in one_error(*cli(capsys, "pack", tmp_path / "a.vcn", tmp_path / "b.jpg")[::2])
    assert ".jpg" in one_error(*cli(capsys, "unpack", tmp_path / "a.vcn", tmp_path / "b.vcn")[::2])


def test_dnnc_has_no_jpeg_form(capsys, photos, tmp_path):
    line = one_error(*cli(capsys, "compress", photos["colour"], tmp_path / "d.jpg", "--model", "dnnc_lowres")[::2])
    assert "DNNC" in line and "no standard stream" in line and not (tmp_path / "d.jpg").exists()
    assert cli(capsys, "compress", photos["gray"], tmp_path / "d.vcn", "--model", "dnnc_lowres")[0] == 0
    line = one_error(*cli(capsys, "unpack", tmp_path / "d.vcn", tmp_path / "d.jpg")[::2])
    assert "DNNC" in line and not (tmp_path / "d.jpg").exists()


def test_jpegs_without_the_tag_or_changed_since(capsys, photos, tmp_path):
    """An ordinary JPEG: decompress and pack say it has no tag. A changed tagged file: a CRC error. A tagged
    file re-written in another form (the standard Huffman tables): it still decodes, but pack refuses it
    (its .vcn would not give back those bytes)."""
    from vcnlit.codecs.jpeg_tag import _insert
    from vcnlit.codecs.jpeg_transcode import coefficients, rebuild

    buf = io.BytesIO()
    Image.open(photos["colour"]).save(buf, "JPEG")
    (tmp_path / "plain.jpg").write_bytes(buf.getvalue())
    for cmd, out in (("decompress", "p.png"), ("pack", "p.vcn")):
        assert "no vcnlit tag" in one_error(*cli(capsys, cmd, tmp_path / "plain.jpg", tmp_path / out)[::2])
    assert cli(capsys, "compress", photos["colour"], tmp_path / "t.jpg")[0] == 0
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "flip.jpg").write_bytes(data[:-20] + bytes([data[-20] ^ 1]) + data[-19:])
    assert "CRC" in one_error(*cli(capsys, "decompress", tmp_path / "flip.jpg", tmp_path / "f.png")[::2])
    header, stream = untag(data)
    layout, h, w, planes = coefficients(stream)
    tables = header.params.get("tables", "standard")
    (tmp_path / "std.jpg").write_bytes(_insert(rebuild(layout, h, w, round(header.rate), planes, tables), header))
    assert cli(capsys, "decompress", tmp_path / "std.jpg", tmp_path / "std.png")[0] == 0
    assert cli(capsys, "decompress", tmp_path / "t.jpg", tmp_path / "t.png")[0] == 0
    assert (tmp_path / "std.png").read_bytes() == (tmp_path / "t.png").read_bytes()
    assert len(data) < (tmp_path / "std.jpg").stat().st_size  # ours: Huffman tables optimised for the image
    assert "not in the form" in one_error(*cli(capsys, "pack", tmp_path / "std.jpg", tmp_path / "s.vcn")[::2])
    assert not (tmp_path / "s.vcn").exists()


def test_version(capsys):
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.strip() == f"vcnlit {__version__}"


def test_file_commands_start_without_training_stack(photos, tmp_path):
    """compress, decompress, pack and unpack import neither Lightning, Hydra nor W&B (start-up time)."""
    script = f"""
import sys
from vcnlit.cli import main
d = {str(tmp_path)!r}
for args in (["compress", {str(photos['colour'])!r}, d + "/a.jpg"], ["decompress", d + "/a.jpg", d + "/a.png"],
             ["pack", d + "/a.jpg", d + "/a.vcn"], ["unpack", d + "/a.vcn", d + "/b.jpg"]):
    assert main(args) == 0, args
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"lightning", "pytorch_lightning", "hydra", "wandb"}})
print(heavy)
"""
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "[]"
