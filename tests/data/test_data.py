import re

import pytest
import torch
from conftest import natural_crop
from PIL import Image

from vcnlit.data import ImageDataModule, ImageError, load_image
from vcnlit.data.embedded import SPLITS, materialize


def test_missing_and_empty_folders_name_the_path(tmp_path):
    with pytest.raises(ImageError, match=re.escape(f"data.train_dir={tmp_path / 'nope'} does not exist")):
        ImageDataModule(train_dir=str(tmp_path / "nope")).images("train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match=r"no images in data\.test_dir="):
        ImageDataModule(test_dir=str(tmp_path / "empty")).images("test")


def test_unreadable_image_names_the_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    with pytest.raises(ImageError, match=r"bad\.png"):
        ImageDataModule(test_dir=str(tmp_path)).images("test")
    Image.fromarray(natural_crop()).save(tmp_path / "good.png")
    dm = ImageDataModule(test_dir=str(tmp_path), on_bad_image="skip")
    assert [n for n, _ in dm.images("test")] == ["good.png"]


def test_rgb_becomes_luma_for_grayscale_models(tmp_path):
    Image.fromarray(natural_crop("astronaut", (10, 12), rgb=True)).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png", 1).shape == (1, 10, 12)
    assert load_image(tmp_path / "a.png", 3).shape == (3, 10, 12)


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
    assert names["test"] == set(SPLITS["test"])
    assert not names["test"] & names["train"] and not names["val"] & names["train"]
