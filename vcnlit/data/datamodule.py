"""LightningDataModule over train / val / test image folders (embedded default when unset)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from vcnlit.data.dead_leaves import dead_leaves
from vcnlit.data.embedded import materialize
from vcnlit.data.images import ImageError, is_colour, list_images, load_image
from vcnlit.errors import ConfigError, check_choice
from vcnlit.nets.resampling import resize
from vcnlit.pixels import from_uint8, pad_bottom_right

log = logging.getLogger(__name__)


ON_BAD_IMAGE = ("skip", "error")


def load_folder(folder: str | Path, channels: int, key: str, on_bad_image: str = "skip") -> list[tuple[str, Tensor]]:
    """All images of a folder as (name, tensor), read up front (so a bad file never stops a run halfway).

    ``on_bad_image="skip"``: unreadable files are skipped with one warning listing them, and a
    folder with no readable image is an :class:`ImageError` naming it; ``"error"``: the first
    unreadable file is an :class:`ImageError` naming it.
    """
    check_choice("data.on_bad_image", on_bad_image, ON_BAD_IMAGE)
    out, bad = [], []
    files = list_images(folder, key)
    for f in files:
        try:
            out.append((f.name, load_image(f, channels, warn_gray=False)))
        except ImageError as e:
            if on_bad_image == "error":
                raise
            bad.append(str(e))
    if not out:
        raise ImageError(f"none of the {len(files)} image file(s) in {key}={folder} is readable "
                         f"(first: {bad[0]}); set {key}=<folder of images>")
    gray = [f.name for f in files if channels == 3 and not is_colour(f)]
    if gray:
        log.info("%d of %d images in %s are grayscale (an RGB model reads their plane as R, G and B): %s",
                 len(gray), len(files), key, ", ".join(gray))
    if bad:
        log.warning("skipped %d unreadable image(s) of %d in %s:\n  %s", len(bad), len(files), folder,
                    "\n  ".join(bad))
    return out


def subset(items: list[tuple[str, Tensor]], count: int | None) -> list[tuple[str, Tensor]]:
    """``count`` of ``items`` (all when None), chosen by one fixed permutation of their names, so that
    every subset holds the smaller ones (4 images are among the 9) whatever the training seed."""
    if count is None or count >= len(items):
        return items
    order = sorted(items, key=lambda item: hashlib.sha1(item[0].encode()).hexdigest())
    return sorted(order[:count], key=lambda item: item[0])


def synthetic(count: int, size: int, channels: int) -> list[tuple[str, Tensor]]:
    """``count`` dead-leaves images (:mod:`vcnlit.data.dead_leaves`), image ``i`` from seed ``i``."""
    return [(f"dead_leaves_{i}", from_uint8(dead_leaves(size, channels, seed=i)))
            for i in range(count)]


class RandomCrops(Dataset):
    """``length`` random crops (with random flips) drawn from in-memory images; with ``upscale`` above 1, a
    share ``upscale_p`` of them are of the image enlarged by a factor drawn uniformly from 1 to ``upscale``
    (a smaller crop resized up to the patch, bicubic), as the composites' enlarged candidates code photos
    (:func:`vcnlit.multirate.resized`)."""

    def __init__(self, images: list[Tensor], patch_size: int, length: int, flips: bool = True,
                 upscale: float = 1.0, upscale_p: float = 0.5) -> None:
        if not upscale >= 1 or not 0 <= upscale_p <= 1:
            raise ConfigError(f"data.upscale must be >= 1 and data.upscale_p in [0, 1], got {upscale}, {upscale_p}")
        self.images = [_pad_to(x, patch_size) for x in images]
        self.patch, self.length, self.flips = patch_size, length, flips
        self.upscale, self.upscale_p = float(upscale), float(upscale_p)
        # images are drawn uniformly (one huge image does not dominate), then a crop inside it
        self.weights = torch.ones(len(self.images))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, idx: int) -> Tensor:
        x = self.images[int(torch.multinomial(self.weights, 1))]
        h, w = x.shape[-2:]
        side = self.patch
        if self.upscale > 1 and torch.rand(()) < self.upscale_p:
            side = round(self.patch / (1 + float(torch.rand(())) * (self.upscale - 1)))
        i = int(torch.randint(0, h - side + 1, ()))
        j = int(torch.randint(0, w - side + 1, ()))
        crop = x[:, i : i + side, j : j + side]
        if side != self.patch:
            crop = resize(crop[None], (self.patch, self.patch))[0].clamp(0, 1)
        if self.flips and torch.rand(()) < 0.5:
            crop = crop.flip(-1)
        if self.flips and torch.rand(()) < 0.5:
            crop = crop.flip(-2)
        return crop.contiguous()


class WholeImages(Dataset):
    """Whole images with their file names (batch size 1: sizes differ)."""

    def __init__(self, items: list[tuple[str, Tensor]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, idx: int) -> dict:
        name, x = self.items[idx]
        return {"image": x, "name": name}


def _pad_to(x: Tensor, size: int) -> Tensor:
    return pad_bottom_right(x, size, size)


class ImageDataModule(pl.LightningDataModule):
    """Train crops and whole val/test images from folders.

    Unset folders fall back to the embedded set (:mod:`vcnlit.data.embedded`), written once to
    ``embedded_dir``. The training images can be a fixed subset (``train_count``), grow by the
    embedded ``train_more`` photos (``more_photos``) and by procedural dead-leaves images
    (``dead_leaves`` of ``dead_leaves_size`` pixels square); ``upscale`` / ``upscale_p`` enlarge a share of the
    training crops (:class:`RandomCrops`).
    """

    def __init__(
        self,
        train_dir: str | None = None,
        val_dir: str | None = None,
        test_dir: str | None = None,
        embedded_dir: str = "~/.cache/vcnlit/embedded",
        channels: int = 1,
        patch_size: int = 64,
        batch_size: int = 16,
        steps_per_epoch: int = 100,
        num_workers: int = 0,
        max_eval_images: int | None = None,
        on_bad_image: str = "skip",
        train_count: int | None = None,
        dead_leaves: int = 0,
        dead_leaves_size: int = 256,
        more_photos: bool = False,
        upscale: float = 1.0,
        upscale_p: float = 0.5,
    ) -> None:
        super().__init__()
        if train_count is not None and (train_count < 0 or (train_count == 0 and not dead_leaves)):
            raise ConfigError(f"data.train_count must be a number of images >= 1 (0 only with data.dead_leaves) "
                              f"or null, got {train_count}")
        if dead_leaves < 0:
            raise ConfigError(f"data.dead_leaves must be a number of images >= 0, got {dead_leaves}")
        self.train_count, self.dead_leaves, self.dead_leaves_size = train_count, dead_leaves, dead_leaves_size
        self.more_photos, self.upscale, self.upscale_p = more_photos, upscale, upscale_p
        self.dirs = {"train": train_dir, "val": val_dir, "test": test_dir}
        self.embedded_dir = embedded_dir
        self.channels, self.patch_size, self.batch_size = channels, patch_size, batch_size
        self.steps_per_epoch, self.num_workers = steps_per_epoch, num_workers
        self.max_eval_images, self.on_bad_image = max_eval_images, on_bad_image
        self._cache: dict[str, list[tuple[str, Tensor]]] = {}

    def folder(self, split: str) -> Path:
        d = self.dirs[split]
        if d is None:
            return materialize(self.embedded_dir)[split]
        return Path(d)

    def images(self, split: str) -> list[tuple[str, Tensor]]:
        """(name, tensor) of every image of a split, read once."""
        if split not in self._cache:
            if split == "train":
                items = self._train_images()
            else:
                items = load_folder(self.folder(split), self.channels, f"data.{split}_dir", self.on_bad_image)
                items = items[: self.max_eval_images] if self.max_eval_images else items
            self._cache[split] = items
        return self._cache[split]

    def _train_images(self) -> list[tuple[str, Tensor]]:
        """The training photos (+ ``train_more``), cut to ``train_count``, then the dead-leaves images."""
        photos: list[tuple[str, Tensor]] = []
        if self.train_count != 0:
            photos = load_folder(self.folder("train"), self.channels, "data.train_dir", self.on_bad_image)
            if self.more_photos:
                more = materialize(self.embedded_dir)["train_more"]
                photos = sorted(photos + load_folder(more, self.channels, "data.more_photos", self.on_bad_image),
                                key=lambda item: item[0])
        return subset(photos, self.train_count) + synthetic(self.dead_leaves, self.dead_leaves_size, self.channels)

    def train_dataloader(self) -> DataLoader:
        ds = RandomCrops([x for _, x in self.images("train")], self.patch_size,
                         self.steps_per_epoch * self.batch_size, upscale=self.upscale, upscale_p=self.upscale_p)
        return DataLoader(ds, batch_size=self.batch_size, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, drop_last=True)

    def _whole(self, split: str) -> DataLoader:
        return DataLoader(WholeImages(self.images(split)), batch_size=1, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return self._whole("val")

    def test_dataloader(self) -> DataLoader:
        return self._whole("test")
