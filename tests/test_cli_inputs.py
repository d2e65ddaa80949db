"""`vcnlit compress` on every kind of input a user has, as a subprocess: one line of output or
error, never a traceback; decoded sizes match (EXIF rotation applied)."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, natural_crop
from PIL import Image

from vcnlit.checkpoint import save_model
from vcnlit.codecs import StandardCodec
from vcnlit.nets import ResamplingSystem

H, W = 20, 28


def vcnlit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcnlit.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """An untrained tiny RGB model file: decoding behaviour does not depend on training."""
    path = tmp_path_factory.mktemp("model") / "model.ckpt"
    system = ResamplingSystem(channels=3, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)
    return save_model(path, system.eval(), StandardCodec("jpeg", 50), "scic_lowres")


def _png16_rgb(a: np.ndarray, path: Path) -> None:
    """A 48-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = a.shape
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in a)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def _make(kind: str, d: Path) -> tuple[Path, tuple[int, int]]:
    """Write one input of ``kind``; returns its path and the (width, height) it decodes to."""
    rgb = natural_crop("astronaut", (H, W), rgb=True)
    im = Image.fromarray(rgb)
    p = d / {"cmyk": "in.jpg", "exif": "in.jpg", "corrupt": "in.jpg", "text": "in.png"}.get(kind, "in.png")
    if kind == "gray":
        im.convert("L").save(p)
    elif kind == "rgb":
        im.save(p)
    elif kind == "rgba":
        im.putalpha(128)
        im.save(p)
    elif kind == "palette":
        im.convert("P").save(p)
    elif kind == "gray16":
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(p)
    elif kind == "rgb16":
        _png16_rgb(rgb.astype(np.uint16) * 257, p)
    elif kind == "cmyk":
        im.convert("CMYK").save(p, quality=95)
    elif kind == "exif":
        exif = im.getexif()
        exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
        im.save(p, exif=exif)
        return p, (H, W)
    elif kind == "one_pixel":
        Image.fromarray(rgb[:1, :1]).save(p)
        return p, (1, 1)
    elif kind == "corrupt":
        im.save(p)
        p.write_bytes(p.read_bytes()[:100])
    elif kind == "text":
        p.write_text("this is not an image\n")
    return p, (W, H)


@pytest.mark.parametrize("kind", ["gray", "rgb", "rgba", "palette", "gray16", "rgb16", "cmyk", "exif", "one_pixel"])
def test_input_kinds_compress(kind, model, tmp_path):
    src, (w, h) = _make(kind, tmp_path)
    assert Image.open(src).mode in {"gray": ("L",), "rgba": ("RGBA",), "palette": ("P",), "cmyk": ("CMYK",),
                                    "gray16": ("I;16", "I")}.get(kind, ("RGB",))
    p = vcnlit("compress", str(src), str(tmp_path / "a.vcn"), "--model", str(model))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert f"({w}x{h}, 3 channel(s)" in p.stdout
    warned = [line for line in p.stderr.splitlines() if line.startswith("WARNING")]
    if kind == "rgba":
        assert len(warned) == 1 and "alpha channel dropped" in warned[0] and str(src) in warned[0]
    elif kind in ("gray", "gray16"):
        assert len(warned) == 1 and "grayscale" in warned[0]
    else:
        assert not warned, p.stderr
    if kind in ("exif", "one_pixel", "rgb16"):
        p = vcnlit("decompress", str(tmp_path / "a.vcn"), str(tmp_path / "out.png"), "--model", str(model))
        assert p.returncode == 0, p.stderr
        assert Image.open(tmp_path / "out.png").size == (w, h)


@pytest.mark.parametrize("kind", ["corrupt", "text"])
def test_bad_inputs_are_one_line_errors(kind, model, tmp_path):
    src, _ = _make(kind, tmp_path)
    p = vcnlit("compress", str(src), str(tmp_path / "a.vcn"), "--model", str(model))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and str(src) in lines[0] and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "a.vcn").exists()
    assert [f.name for f in tmp_path.iterdir()] == [src.name]  # no temporary file left behind
