"""The embedded default data set: natural photos shipped inside installed packages (no download).

A fixed split, written once as PNG files so that the rest of the framework only
ever reads image folders. Test images are the classic ones (astronaut, camera,
coffee); no test image is used for training or validation. Most photos come
from scikit-image's bundled data; the stereo motorcycle pair gives two training
photos, Grace Hopper's portrait ships with matplotlib, ascent and aero with
PyWavelets, china and flower with scikit-learn. Twelve natural photos from
Debian's mate-backgrounds ship with vcnlit itself (``vcnlit/data/photos/``, their
provenance and licence in PROVENANCE.md there): three join the val split, nine
the training split when ``data.more_photos`` is on (split ``train_more``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from vcnlit.io import atomic_path

SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("rocket", "brick", "grass", "gravel", "coins", "moon", "clock", "page", "text", "immunohistochemistry",
              "motorcycle_left", "motorcycle_right", "hubble_deep_field", "grace_hopper", "ascent", "aero", "china",
              "flower"),
    "val": ("chelsea", "mate_dune", "mate_ladybird", "mate_storm"),
    "test": ("astronaut", "camera", "coffee"),
    # added to the training split by data.more_photos=true
    "train_more": ("mate_aqua", "mate_blinds", "mate_freshflower", "mate_garden", "mate_greenmeadow",
                   "mate_raindrops", "mate_twowings", "mate_wood", "mate_yellowflower"),
}
#: the photos that ship with vcnlit (vcnlit/data/photos/PROVENANCE.md)
PHOTOS = Path(__file__).parent / "photos"


def _skimage(name: str, index: int | None = None) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        a = getattr(skimage.data, name)()
        return np.asarray(a if index is None else a[index])

    return load


def _matplotlib_sample(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from matplotlib import cbook

        with Image.open(cbook.get_sample_data(filename)) as im:
            return np.asarray(im.convert("RGB"))

    return load


def _pywavelets(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import pywt.data

        return np.asarray(getattr(pywt.data, name)())

    return load


def _scikit_learn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(filename))

    return load


def _shipped(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        with Image.open(PHOTOS / f"{name}.webp") as im:
            return np.asarray(im.convert("RGB"))

    return load


#: how each image of the split is read; any other name is a scikit-image data function
SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "motorcycle_left": _skimage("stereo_motorcycle", 0),
    "motorcycle_right": _skimage("stereo_motorcycle", 1),
    "grace_hopper": _matplotlib_sample("grace_hopper.jpg"),
    "ascent": _pywavelets("ascent"),
    "aero": _pywavelets("aero"),
    "china": _scikit_learn("china.jpg"),
    "flower": _scikit_learn("flower.jpg"),
}


def materialize(root: str | Path) -> dict[str, Path]:
    """Write the embedded split under ``root/{train,val,test}`` (idempotent) and return the folders."""
    root = Path(root).expanduser()
    out = {}
    for split, names in SPLITS.items():
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            f = folder / f"{name}.png"
            if f.exists():
                continue
            a = SOURCES.get(name, _shipped(name) if name.startswith("mate_") else _skimage(name))()
            with atomic_path(f) as tmp:
                Image.fromarray(a.astype(np.uint8)).save(tmp, format="PNG")
        out[split] = folder
    return out
