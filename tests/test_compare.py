"""`vcnlit compare`: the photo's files at one size, the page, the sheet and the crops, real codecs throughout."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import torch
from conftest import ROOT, natural_crop
from PIL import Image

from vcnlit.checkpoint import save_model
from vcnlit.cli import main
from vcnlit.codecs import StandardCodec
from vcnlit.compare import STANDARDS, choose_crops, largest_within
from vcnlit.nets import ResamplingSystem


def _tiny(path: Path) -> Path:
    """An untrained tiny colour model whose file records its rate points (as a run's model.ckpt does)."""
    system = ResamplingSystem(channels=3, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)
    return save_model(path, system.eval(), StandardCodec("jpeg", 40), "scic_lowres",
                      meta={"config": {"eval": {"rate_points": [10, 40, 70]}}})


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "my photo.png"  # a space: links must be quoted
    Image.fromarray(natural_crop("astronaut", (176, 224), rgb=True)).save(path)
    return path


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("href", "src") and v]


@pytest.mark.slow
def test_compare_writes_the_page_the_sheet_and_crops_of_files_at_most_the_models_size(photo, tmp_path):
    model = _tiny(tmp_path / "tiny.ckpt")
    out = tmp_path / "D"
    p = subprocess.run([sys.executable, "-m", "vcnlit.cli", "compare", str(photo), "--output", str(out),
                        "--bpp", "0.5", "--model", str(model)], capture_output=True, text=True, timeout=300, cwd=ROOT,
                       check=False)
    assert p.returncode == 0, p.stderr
    html, sheet, files = out / "my photo.html", out / "my photo.png", out / "my photo_files"
    assert sheet.is_file() and (out / "my photo_rd.png").is_file()
    assert Image.open(sheet).size[0] > 7 * 2 * 64  # seven columns of crops at 2x
    limit = (files / "my photo.vcn").stat().st_size
    assert limit <= 0.5 * 176 * 224 / 8
    for std in STANDARDS:  # every codec reaches the size here; each file at or under the model's, and real
        f = files / f"my photo{std.suffix}"
        assert f.is_file() and f.stat().st_size <= limit, std.name
        assert f"{f.stat().st_size:,} B" in p.stdout
    for std in STANDARDS[:3] + STANDARDS[4:]:  # Pillow opens all but JPEG XL (libjxl's decoder is the codec's)
        with Image.open(files / f"my photo{std.suffix}") as im:
            assert im.size == (224, 176)
    crops = sorted(files.glob("crop*_*.png"))
    assert len(crops) % 7 == 0 and len(crops) >= 14  # original + model + five codecs, two crops or more
    parser = _Links()
    parser.feed(html.read_text())
    assert len(parser.links) >= len(crops) + 6 + 2
    for link in parser.links:
        assert not urlparse(link).scheme and not link.startswith("/"), link
        assert (out / unquote(link)).is_file(), link


def test_bad_inputs_and_output_folders_are_one_line_errors(photo, tmp_path, capsys):
    cases = {
        "missing": ([str(tmp_path / "none.png"), "--output", str(tmp_path / "a")], "not found"),
        "not an image": ([str(Path(__file__)), "--output", str(tmp_path / "b")], "cannot read image"),
        "a file": ([str(photo), "--output", str(photo)], "is a file"),
        "no parent": ([str(photo), "--output", str(tmp_path / "no" / "such")], "does not exist"),
        "the input": ([str(photo), "--output", str(photo.parent), "--force"], "is the input"),
        "bpp": ([str(photo), "--output", str(tmp_path / "c"), "--bpp", "-1"], "positive"),
    }
    for name, (args, message) in cases.items():
        with pytest.raises(SystemExit) as e:
            main(["compare", *args])
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, (name, err)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "my photo.html").write_text("mine")
    with pytest.raises(SystemExit):
        main(["compare", str(photo), "--output", str(tmp_path / "d")])
    assert "--force" in capsys.readouterr().err and (tmp_path / "d" / "my photo.html").read_text() == "mine"
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_largest_within_finds_the_highest_setting_that_fits():
    sizes = [3, 5, 8, 8, 13, 21, 34]
    calls: list[int] = []

    def size(i: int) -> int:
        calls.append(i)
        return sizes[i]

    assert largest_within(size, len(sizes), 8) == 3
    assert len(calls) <= 6
    assert largest_within(sizes.__getitem__, len(sizes), 2) is None
    assert largest_within(sizes.__getitem__, len(sizes), 100) == 6
    assert largest_within(sizes.__getitem__, len(sizes), 20) == 4


def test_crops_go_where_the_decoded_images_differ_most_and_do_not_overlap():
    x = torch.rand(3, 96, 160)
    same, worse = x.clone(), x.clone()
    worse[:, 40:72, 100:132] = 0.5  # one image is wrong here only
    worse[:, 0:20, 0:20] += 0.05
    crops = choose_crops(x, [same, worse.clamp(0, 1)], count=3, side=32)
    top, left, side = crops[0]
    assert side == 32 and abs(top - 40) <= 8 and abs(left - 100) <= 8
    for i, (t, x0, _) in enumerate(crops):
        assert all(max(abs(t - t2), abs(x0 - x2)) >= 48 for t2, x2, _ in crops[i + 1:])
