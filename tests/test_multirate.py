"""Several models as one codec for a size budget (vcnlit/multirate.py): the better real PSNR within the
budget wins, every member's range is reachable, a budget above them all is said in one line, the files
decode like any other, and a composite's results file is drawn at bpp targets."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
from conftest import natural_crop, run_module
from PIL import Image

from vcnlit.checkpoint import load_model, save_model
from vcnlit.codecs import StandardCodec
from vcnlit.compressor import Compressor, largest_within
from vcnlit.errors import ConfigError
from vcnlit.multirate import TARGET_KEY, MultiRate, member, psnr8, rate_grid
from vcnlit.nets import ResamplingSystem
from vcnlit.zoo import DEFAULT_MODEL, composites, entries

H, W = 45, 61


def _tiny(path: Path, scale: int, seed: int) -> Path:
    """An untrained tiny SCIC/JPEG model (re-sampling ``scale``) whose file records its rate points."""
    torch.manual_seed(seed)
    system = ResamplingSystem(channels=3, scale=scale, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)
    return save_model(path, system.eval(), StandardCodec("jpeg", 40), f"tiny_x{scale}",
                      meta={"config": {"eval": {"rate_points": [10, 40, 70]}}})


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> MultiRate:
    d = tmp_path_factory.mktemp("multirate")
    members = []
    for scale, seed in ((2, 0), (1, 1)):
        model = load_model(_tiny(d / f"x{scale}.ckpt", scale, seed))
        members.append(member(f"tiny_x{scale}", model, Compressor(model.system, model.codec, bf16=False)))
    return MultiRate("tiny", members)


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.from_numpy(natural_crop("astronaut", (H, W), rgb=True)).permute(2, 0, 1).float() / 255


def _best(m, x: torch.Tensor, budget: int) -> tuple[bytes, float, float] | None:
    """A member's own best file within ``budget``, its rate and its decoded PSNR (None: none fits)."""
    try:
        data, rate = m.comp.compress_to_size(x, budget, m.grid)
    except ConfigError:
        return None
    return data, rate, psnr8(m.comp.decompress(data), x)


def test_the_member_with_the_better_real_psnr_within_the_budget_wins(group, x):
    low, full = group.members
    smallest_full = len(full.comp.compress(x, full.bottom))
    assert len(low.comp.compress(x, low.bottom)) < smallest_full
    for budget in (smallest_full - 1, 2 * smallest_full, 10**6):  # one fits, both do, both at their top
        want = [(b, m) for m in group.members if (b := _best(m, x, budget)) is not None]
        choice = group.compress_to_size(x, budget, decode=True)
        (data, rate, score), m = max(want, key=lambda w: w[0][2])
        assert (choice.data, choice.rate, choice.member.name) == (data, rate, m.name) and len(data) <= budget
        assert psnr8(choice.x_hat, x) == pytest.approx(score)
        assert choice.top == all(b[1] == mm.top for b, mm in want)
        assert (choice.member is low) if budget < smallest_full else len(want) == 2
    with pytest.raises(ConfigError, match="smallest file"):
        group.compress_to_size(x, 10)


def test_a_resized_image_is_one_more_candidate_and_decodes_at_the_original_size(group, x):
    """A member that also codes the image enlarged and shrunk: its files of the resized image compete with the
    rest, and every file decodes (header: the coded size and the original one) to the original size; a budget
    below the image's own smallest file is met by the shrunk image."""
    from vcnlit.codecs import unpack
    from vcnlit.multirate import resized

    low, full = group.members
    wide = MultiRate("tiny", [member(low.name, low.model, low.comp, resize=(0.75, 1.5)), full])
    assert resized(x, 1.5).shape[-2:] == (round(H * 1.5), round(W * 1.5)) and resized(x, 1) is x
    kinds = set()
    smallest = len(low.comp.compress(x, low.bottom))  # the image itself at the lowest quality
    for budget in (smallest - 1, smallest, 1600, 10**6):
        choice = wide.compress_to_size(x, budget, decode=True)
        assert len(choice.data) <= budget
        if budget >= smallest:
            assert psnr8(choice.x_hat, x) >= psnr8(group.compress_to_size(x, budget, decode=True).x_hat, x)
        hdr, _ = unpack(choice.data)
        assert hdr.image_size == (H, W) and choice.member.comp.decompress(choice.data).shape == x.shape
        if choice.resize != 1:
            size = (round(H * choice.resize), round(W * choice.resize))
            assert (hdr.height, hdr.width) == size and hdr.out_size == (H, W)
            data, _ = low.comp.compress_to_size(resized(x, choice.resize), budget, low.grid, out_size=(H, W))
            assert data == choice.data
        kinds.add(choice.resize)
    assert {0.75, 1.5} <= kinds <= {0.75, 1.0, 1.5}
    below = wide.smallest(x)  # a target below every candidate: the shrunk image's smallest file
    assert below.resize == 0.75 and len(below.data) < smallest and below.x_hat.shape == x.shape
    with pytest.raises(ConfigError, match=f"is {len(below.data)} bytes"):
        wide.compress_to_size(x, len(below.data) - 1)
    for bad in ((0.5,), (1.0,), (float("nan"),)):
        with pytest.raises(ConfigError, match="resize factors"):
            member(low.name, low.model, low.comp, resize=bad)


def test_an_enlargement_past_the_largest_stream_is_left_out(group, x, monkeypatch):
    """A photo near the size limit still codes: only its enlargements that no stream could hold are skipped."""
    from vcnlit.codecs import container

    low, full = group.members
    wide = MultiRate("tiny", [member(low.name, low.model, low.comp, resize=(1.5,)), full])
    monkeypatch.setattr(container, "MAX_SAMPLES", 3 * H * W)
    choice = wide.compress_to_size(x, 10**6, decode=True)
    assert choice.resize == 1 and choice.member.comp.decompress(choice.data).shape == x.shape


def test_a_member_may_search_past_its_trained_range(group):
    m = group.members[1].model
    assert rate_grid(m) == [float(q) for q in range(10, 71)]
    assert rate_grid(m, 95)[-1] == 95.0 and len(rate_grid(m, 95)) == 86


def test_a_composite_curve_is_drawn_at_bpp_targets(group, x):
    from vcnlit.eval.report import multirate_results

    targets = [0.05, 0.5, 4.0, 20.0]
    rd = multirate_results(group, [("a.png", x)], targets, progress=False)
    r, meta = rd["results"], rd["meta"]
    assert r[TARGET_KEY] == targets and meta["rate_key"] == TARGET_KEY and len(r["bpp"]) == len(targets)
    assert all(k in r for k in ("psnr", "ssim", "ms-ssim", "psnr-y", "bpp-jpeg"))
    coded = meta["coded_by"]["a.png"]
    assert coded[0]["member"] == "tiny_x2" and len(coded) == len(targets)
    smallest = 8 * len(group.members[0].comp.compress(x, 10)) / (H * W)
    assert r["bpp"][0] == pytest.approx(smallest)  # below every member's range: the smallest file
    assert all(b <= t for b, t in zip(r["bpp"][1:], targets[1:]))
    for c, b, p in zip(coded, r["bpp"], r["psnr"]):  # each point is the file compress --bpp writes
        m = next(m for m in group.members if m.name == c["member"])
        data = m.comp.compress(x, c["rate"])
        assert 8 * len(data) / (H * W) == pytest.approx(b) and psnr8(m.comp.decompress(data), x) == pytest.approx(p)


needs_zoo = pytest.mark.skipif(DEFAULT_MODEL not in composites(), reason="needs the zoo's default composite")


@needs_zoo
def test_the_default_is_a_composite_the_zoo_lists():
    c = composites()[DEFAULT_MODEL]
    assert all(n in entries() for n in (*c.members, *c.jpeg))
    assert {entries()[n].info["codec"]["format"] for n in c.members} == {"jpeg", "avif"}
    assert all(entries()[n].info["codec"]["format"] == "jpeg" for n in c.for_jpeg(True))  # .jpg outputs keep working
    assert c.for_jpeg(False) == c.members and c.for_jpeg(True)[0] == c.members[0]


@needs_zoo
def test_compress_bpp_is_honoured_across_both_members_and_decodes_without_model(capsys, caplog, tmp_path):
    from vcnlit.cli import main

    src = tmp_path / "photo.png"
    Image.fromarray(natural_crop("astronaut", (96, 128), rgb=True)).save(src)
    low, full = composites()[DEFAULT_MODEL].members
    used = set()
    for target in (0.15, 1.5):
        out = tmp_path / f"{target}.vcn"
        capsys.readouterr()
        assert main(["compress", str(src), str(out), "--bpp", str(target)]) == 0
        stdout, err = capsys.readouterr()
        assert out.stat().st_size <= math.floor(target * 96 * 128 / 8) and not err, err
        assert f"{DEFAULT_MODEL}: " in stdout
        used |= {n for n in (low, full) if f": {n}," in stdout or f": {n} on the image " in stdout}
        assert main(["decompress", str(out), str(tmp_path / f"{target}.png")]) == 0
        assert Image.open(tmp_path / f"{target}.png").size == (128, 96)
    assert used == {low, full}
    caplog.clear()
    assert main(["compress", str(src), str(tmp_path / "top.jpg"), "--bpp", "12"]) == 0
    notices = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(notices) == 1 and len(notices[0].splitlines()) == 1, notices
    jpeg_full = composites()[DEFAULT_MODEL].for_jpeg(True)[-1]  # a .jpg file: the JPEG members
    assert f"--bpp 12 is above what {DEFAULT_MODEL} reaches" in notices[0] and f"{jpeg_full}, quality 95" in notices[0]
    assert Image.open(tmp_path / "top.jpg").format == "JPEG"


@needs_zoo
@pytest.mark.slow
def test_evaluate_a_composite_writes_its_targets(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(natural_crop("astronaut", (64, 80), rgb=True)).save(folder / "p.png")
    first, full = composites()[DEFAULT_MODEL].members
    other = "scic_lowres_rgb_photos"  # eval.members: another zoo model in the half-size member's place
    p = run_module("vcnlit.evaluate", f"model={DEFAULT_MODEL}", f"data.test_dir={folder}", "eval.rate_points=[0.2,1.2]",
                   "eval.baseline_points=[10,50,90]", "eval.resize=[1.5]", f"eval.members=[{other},{full}]",
                   f"hydra.run.dir={tmp_path / 'ev'}")
    assert p.returncode == 0, p.stderr[-2000:]
    rd = json.loads((tmp_path / "ev" / "rd.json").read_text())
    assert rd["results"][TARGET_KEY] == [0.2, 1.2] and rd["meta"]["experiment"] == DEFAULT_MODEL
    assert first not in rd["meta"]["members"]
    assert rd["meta"]["members"][other]["resize"] == [1.5]  # eval.resize: the half-size member's factors
    assert [c["member"] for c in rd["meta"]["coded_by"]["p.png"]] == [other, full]
    assert (tmp_path / "ev" / "baseline_jpeg.json").is_file()


@pytest.mark.parametrize("seed", range(200))
def test_largest_within_is_the_bisection_answer_with_fewer_real_sizes(seed):
    """The guided search returns what a bisection on the real sizes returns, for any cheap estimate, and takes the
    real size at most a few times when the estimate tracks it."""
    rng = random.Random(seed)
    n = rng.randint(1, 95)
    sizes = sorted(rng.randint(100, 10**6) for _ in range(n))
    estimate = [round(s * rng.uniform(0.7, 1.3) if seed % 2 else s * 0.8 + rng.uniform(-50, 50)) for s in sizes]
    limit = rng.randint(50, 11 * 10**5)
    calls = []

    def size(k):
        calls.append(k)
        return sizes[k]

    fits = [k for k, s in enumerate(sizes) if s <= limit]
    assert largest_within(n, size, lambda k: estimate[k], limit) == (fits[-1] if fits else None)
    if seed % 2 == 0:  # an estimate in proportion to the size, give or take 50 bytes
        assert len(set(calls)) <= 5
