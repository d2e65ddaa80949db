import re

import pytest
import torch
from conftest import natural_crop
from PIL import Image

from vcnlit.data import ImageDataModule, ImageError, load_image
from vcnlit.data.embedded import SPLITS, is_shipped, materialize
from vcnlit.errors import ConfigError


def test_missing_and_empty_folders_name_the_path(tmp_path):
    with pytest.raises(ImageError, match=re.escape(f"data.train_dir={tmp_path / 'nope'} does not exist")):
        ImageDataModule(train_dir=str(tmp_path / "nope")).images("train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match=r"no images in data\.test_dir="):
        ImageDataModule(test_dir=str(tmp_path / "empty")).images("test")


def test_unreadable_image_names_the_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    with pytest.raises(ImageError, match=r"none of the 1 image file\(s\) in data\.test_dir=.*bad\.png"):
        ImageDataModule(test_dir=str(tmp_path)).images("test")
    with pytest.raises(ImageError, match=r"cannot read image .*bad\.png: not an image"):
        ImageDataModule(test_dir=str(tmp_path), on_bad_image="error").images("test")
    Image.fromarray(natural_crop()).save(tmp_path / "good.png")
    with pytest.raises(ImageError, match=r"bad\.png"):
        ImageDataModule(test_dir=str(tmp_path), on_bad_image="error").images("test")
    with pytest.raises(ConfigError, match=r"on_bad_image='maybe'"):
        ImageDataModule(test_dir=str(tmp_path), on_bad_image="maybe").images("test")


def test_bad_images_in_a_folder_are_skipped_with_one_warning(tmp_path, caplog):
    """The default: every readable image is used, every bad one is listed once."""
    for i in range(3):
        Image.fromarray(natural_crop(size=(20 + i, 24))).save(tmp_path / f"{i}_good.png")
    (tmp_path / "1_text.jpg").write_text("hello")
    good = (tmp_path / "0_good.png").read_bytes()
    (tmp_path / "2_truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "3_empty.tif").write_bytes(b"")
    dm = ImageDataModule(train_dir=str(tmp_path))
    with caplog.at_level("WARNING"):
        items = dm.images("train")
    assert [n for n, _ in items] == ["0_good.png", "1_good.png", "2_good.png"]
    warnings = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(warnings) == 1 and "skipped 3 unreadable image(s) of 6" in warnings[0]
    for name in ("1_text.jpg", "2_truncated.png", "3_empty.tif"):
        assert name in warnings[0]


def test_image_kinds_load(tmp_path):
    import numpy as np

    a = natural_crop("astronaut", (12, 20), rgb=True)
    kinds = {"rgba.png": Image.fromarray(a).convert("RGBA"), "pal.png": Image.fromarray(a).convert("P"),
             "cmyk.jpg": Image.fromarray(a).convert("CMYK"), "bw.png": Image.fromarray(a).convert("1"),
             "g16.png": Image.fromarray(a[..., 0].astype(np.uint16) * 257),
             "f.tif": Image.fromarray(a[..., 0].astype(np.float32) / 255)}
    for name, im in kinds.items():
        im.save(tmp_path / name)
        for c in (1, 3):
            x = load_image(tmp_path / name, c)
            assert x.shape == (c, 12, 20) and 0 <= float(x.min()) <= float(x.max()) <= 1, name
    # 16-bit data scales to the full 8-bit range, even when dark
    assert torch.allclose(load_image(tmp_path / "g16.png", 1), torch.from_numpy(a[None, ..., 0] / 255).float(),
                          atol=1 / 255)
    dark = tmp_path / "dark16.png"
    Image.fromarray(np.full((4, 4), 200, np.uint16)).save(dark)
    assert float(load_image(dark, 1).max()) < 2 / 255


def test_oversized_image_is_refused_before_decoding(tmp_path, monkeypatch):
    from vcnlit.codecs import container

    Image.fromarray(natural_crop(size=(40, 40))).save(tmp_path / "big.png")
    monkeypatch.setattr(container, "MAX_SAMPLES", 1000)
    with pytest.raises(ImageError, match=r"big\.png: image of 3x40x40 exceeds 1000 samples"):
        load_image(tmp_path / "big.png", 3)


def test_rgb_becomes_luma_for_grayscale_models(tmp_path):
    """A grayscale model reads Pillow's ITU-R 601 luma of an RGB file, value for value."""
    import numpy as np

    a = natural_crop("chelsea", (24, 32), rgb=True)
    Image.fromarray(a).save(tmp_path / "a.png")
    luma = load_image(tmp_path / "a.png", 1)
    assert luma.shape == (1, 24, 32)
    pillow = np.asarray(Image.fromarray(a).convert("L"))
    np.testing.assert_array_equal((luma[0] * 255).round().to(torch.uint8).numpy(), pillow)
    # and Pillow's L is 0.299 R + 0.587 G + 0.114 B rounded (measured: equal at every pixel here)
    np.testing.assert_array_equal(pillow, np.round(a @ np.array([0.299, 0.587, 0.114])))
    rgb = load_image(tmp_path / "a.png", 3)
    np.testing.assert_array_equal((rgb * 255).round().to(torch.uint8).permute(1, 2, 0).numpy(), a)


def test_train_crops_and_whole_test_images(image_dirs):
    dm = ImageDataModule(**{f"{k}_dir": str(v) for k, v in image_dirs.items()}, patch_size=32,
                         batch_size=4, steps_per_epoch=3, channels=1)
    batches = list(dm.train_dataloader())
    assert len(batches) == 3 and batches[0].shape == (4, 1, 32, 32)
    test = list(dm.test_dataloader())
    assert [b["image"].shape[-2:] for b in test] == [torch.Size([40, 56]), torch.Size([37, 45])]


def test_embedded_split_is_fixed_and_disjoint(tmp_path):
    dirs = materialize(tmp_path)
    names = {s: {p.stem for p in d.glob("*.png")} for s, d in dirs.items()}
    assert names["test"] == set(SPLITS["test"]) == {"astronaut", "camera", "coffee"}  # never changes
    assert not names["test"] & names["train"] and not names["val"] & names["train"]
    assert names["val"] == set(SPLITS["val"]) and len(names["val"]) == 12  # choices are made on twelve photos
    assert len(names["train"]) == 18 and len(names["train_more"]) == 22
    splits = list(names.values())
    assert all(not a & b for i, a in enumerate(splits) for b in splits[i + 1:])  # train_more too


def test_shipped_photos_have_their_provenance_and_join_training_on_request(tmp_path):
    from vcnlit.data.embedded import PHOTOS

    shipped = {p.stem for p in PHOTOS.glob("*.webp")}
    listed = set(SPLITS["train_more"]) | {n for n in SPLITS["val"] if is_shipped(n)}
    assert shipped == listed and len(shipped) == 33
    provenance = (PHOTOS / "PROVENANCE.md").read_text()
    rows = {m[1]: m[2] for m in re.finditer(r"^\| (\w+)\.webp \|(.*)$", provenance, re.M)}
    assert set(rows) == shipped  # one row per photo: its package, file, credit, licence and split
    licences = ("GPL-2+", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0")
    for name, row in rows.items():
        split = "val" if name in SPLITS["val"] else "train (`data.more_photos`)"
        assert row.rstrip().endswith(f"| {split} |"), name
        assert name.startswith("mate_") or any(f"| {lic} " in row for lic in licences), name
    for name in shipped:  # natural colour photos, the longer side 512 pixels, lossless
        with Image.open(PHOTOS / f"{name}.webp") as im:
            assert max(im.size) == 512 and im.mode == "RGB", name
    base = ImageDataModule(embedded_dir=str(tmp_path)).images("train")
    more = ImageDataModule(embedded_dir=str(tmp_path), more_photos=True).images("train")
    assert {n for n, _ in more} == {n for n, _ in base} | {f"{n}.png" for n in SPLITS["train_more"]}


def test_a_cache_of_another_split_is_brought_up_to_date(tmp_path, monkeypatch):
    """A cache written for an older split (with or without a manifest) never keeps its old val set."""
    import numpy as np

    from vcnlit.data import embedded

    def val():
        return {p.stem for p in (tmp_path / "val").glob("*.png")}

    monkeypatch.setattr(embedded, "SPLITS", {"val": ("chelsea", "mate_dune", "mate_storm")})
    materialize(tmp_path)
    assert val() == {"chelsea", "mate_dune", "mate_storm"}
    monkeypatch.setattr(embedded, "SPLITS", {"val": ("mate_dune", "lomiri_life")})
    materialize(tmp_path)
    assert val() == {"mate_dune", "lomiri_life"}
    # a cache from before manifests: every photo is written again, stale files go
    (tmp_path / "val" / embedded.MANIFEST).unlink()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "val" / "mate_dune.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "val" / "mate_storm.png")
    materialize(tmp_path)
    assert val() == {"mate_dune", "lomiri_life"}
    with Image.open(tmp_path / "val" / "mate_dune.png") as a, Image.open(embedded.PHOTOS / "mate_dune.webp") as b:
        assert np.array_equal(np.asarray(a), np.asarray(b.convert("RGB")))
    # a shipped photo whose file changed is written again; an unchanged split writes nothing
    monkeypatch.setattr(embedded, "_key", lambda name: "changed" if name == "lomiri_life" else "same")
    materialize(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "val").glob("*.png")}
    (tmp_path / "val" / "lomiri_life.png").write_bytes(b"old")
    monkeypatch.setattr(embedded, "_key", lambda name: "changed again" if name == "lomiri_life" else "same")
    materialize(tmp_path)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "val").glob("*.png")}
    assert after["mate_dune.png"] == before["mate_dune.png"]
    with Image.open(tmp_path / "val" / "lomiri_life.png") as im:
        assert im.size == (512, 341)


def test_training_subsets_are_nested_and_dead_leaves_are_deterministic(tmp_path):
    from vcnlit.data.dead_leaves import dead_leaves

    names = {n: [name for name, _ in ImageDataModule(embedded_dir=str(tmp_path), train_count=n).images("train")]
             for n in (4, 9, None)}
    assert len(names[4]) == 4 and len(names[9]) == 9 and len(names[None]) == len(SPLITS["train"])
    assert set(names[4]) < set(names[9]) < set(names[None])
    dm = ImageDataModule(embedded_dir=str(tmp_path), train_count=0, dead_leaves=2, dead_leaves_size=40, channels=3)
    items = dm.images("train")
    assert [n for n, _ in items] == ["dead_leaves_0", "dead_leaves_1"] and items[0][1].shape == (3, 40, 40)
    a, b = dead_leaves(64, 1, seed=5), dead_leaves(64, 1, seed=5)
    assert a.dtype == "uint8" and (a == b).all() and not (a == dead_leaves(64, 1, seed=6)).all()
    assert len({int(v) for v in a.ravel()}) > 20  # many regions, not one flat disc
    with pytest.raises(ConfigError, match=r"data\.train_count"):
        ImageDataModule(train_count=0)
    with pytest.raises(ConfigError, match=r"data\.dead_leaves"):
        ImageDataModule(dead_leaves=-1)


@pytest.mark.parametrize("shape", [(3, 1, 1), (1, 1, 1), (3, 1, 7), (3, 5, 1), (1, 9, 4), (3, 37, 53)])
def test_decoded_images_are_written_losslessly(shape):
    """Every lossless output format holds the 8-bit image exactly, at any size (PNG through libpng, the
    others through Pillow)."""
    import io

    import numpy as np

    from vcnlit.data.images import LOSSLESS_FORMATS, encode_image
    from vcnlit.pixels import to_uint8

    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    for suffix in LOSSLESS_FORMATS:
        if suffix == ".pgm" and shape[0] == 3:
            continue
        with Image.open(io.BytesIO(encode_image(x, suffix))) as im:  # WebP holds gray as RGB
            assert np.array_equal(np.asarray(im.convert("L") if shape[0] == 1 else im), to_uint8(x)), suffix


def test_plain_pngs_read_by_libpng_give_pillows_pixels(tmp_path, monkeypatch):
    """8-bit RGB and gray PNGs are decoded by libpng (imagecodecs) to exactly what Pillow's path gives;
    16-bit ones and those that need a conversion go through Pillow."""
    import imagecodecs
    import numpy as np

    from vcnlit.data import images

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (21, 34, 3), dtype=np.uint8)
    files = {"rgb.png": (rgb, 3, True), "gray.png": (rgb[..., 0], 1, True), "rgb16.png": (rgb.astype(np.uint16) * 257, 3, False),
             "rgb_as_gray.png": (rgb, 1, False)}
    for name, (a, channels, plain) in files.items():
        path = tmp_path / name
        path.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(a)))
        with Image.open(path) as im:
            assert (images._plain_png(path, im, channels) is not None) == plain, name
        got = load_image(path, channels)
        with monkeypatch.context() as m:
            m.setattr(images, "_plain_png", lambda *args: None)
            assert torch.equal(got, load_image(path, channels)), name
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: Pillow's path turns it upright
    Image.fromarray(rgb).save(tmp_path / "rotated.png", exif=exif)
    with Image.open(tmp_path / "rotated.png") as im:
        assert images._plain_png(tmp_path / "rotated.png", im, 3) is None
    assert load_image(tmp_path / "rotated.png").shape == (3, 34, 21)


def test_enlarged_training_crops():
    """data.upscale: a share of the crops are of the photo enlarged (a smaller region resized up to the patch);
    at 1 (the default) the crops and the random stream are what they always were."""
    from vcnlit.data.datamodule import RandomCrops

    img = torch.rand(3, 80, 90)
    torch.manual_seed(0)
    plain = [RandomCrops([img], 32, 4)[i] for i in range(4)]
    torch.manual_seed(0)
    for i, crop in enumerate(plain):  # the draws of the crop before data.upscale existed
        torch.multinomial(torch.ones(1), 1)
        a, b = int(torch.randint(0, 80 - 32 + 1, ())), int(torch.randint(0, 90 - 32 + 1, ()))
        want = img[:, a : a + 32, b : b + 32]
        if torch.rand(()) < 0.5:
            want = want.flip(-1)
        if torch.rand(()) < 0.5:
            want = want.flip(-2)
        assert torch.equal(crop, want), i
    torch.manual_seed(0)
    crops = RandomCrops([img], 32, 200, flips=False, upscale=1.6, upscale_p=0.5)
    found = [crops[i] for i in range(200)]
    assert all(c.shape == (3, 32, 32) and 0 <= c.min() and c.max() <= 1 for c in found)
    smooth = sum(float((c[:, :, 1:] - c[:, :, :-1]).abs().mean()) < 0.25 for c in found)  # random pixels: ~0.33
    assert 60 < smooth < 140  # about half enlarged
    with pytest.raises(ConfigError, match="upscale"):
        RandomCrops([img], 32, 4, upscale=0.5)
