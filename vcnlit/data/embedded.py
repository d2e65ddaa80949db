"""The embedded default data set: natural photos shipped inside installed packages (no download).

A fixed split, written as PNG files so that the rest of the framework only ever
reads image folders. Test images are the classic ones (astronaut, camera,
coffee); no test image is used for training or validation. Most training photos
come from scikit-image's bundled data; the stereo motorcycle pair gives two
training photos, Grace Hopper's portrait ships with matplotlib, ascent and aero
with PyWavelets, china and flower with scikit-learn. Thirty-three natural colour
photos ship with vcnlit itself (``vcnlit/data/photos/``, from Debian's
mate-backgrounds, lomiri-wallpapers and plasma-workspace-wallpapers; the
provenance and licence of each in PROVENANCE.md there): eleven join chelsea in
the val split, twenty-two the training split when ``data.more_photos`` is on
(split ``train_more``).

Each split folder holds a manifest (``.split``: every name with the digest of
its shipped photo), so a cache written for another split is brought up to date:
files the split no longer lists are removed and photos whose file changed are
written again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from vcnlit.io import atomic_path

SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("rocket", "brick", "grass", "gravel", "coins", "moon", "clock", "page", "text", "immunohistochemistry",
              "motorcycle_left", "motorcycle_right", "hubble_deep_field", "grace_hopper", "ascent", "aero", "china",
              "flower"),
    # until the val split grew to twelve: chelsea, mate_dune, mate_ladybird, mate_storm
    "val": ("chelsea", "mate_dune", "mate_ladybird", "mate_storm", "lomiri_brushes", "lomiri_friends",
            "lomiri_kleiber", "lomiri_life", "lomiri_picosdeeuropa", "plasma_colorfulcups", "plasma_eveningglow",
            "plasma_path"),
    "test": ("astronaut", "camera", "coffee"),
    # added to the training split by data.more_photos=true
    "train_more": ("mate_aqua", "mate_blinds", "mate_freshflower", "mate_garden", "mate_greenmeadow",
                   "mate_raindrops", "mate_twowings", "mate_wood", "mate_yellowflower", "lomiri_aitzgorri",
                   "lomiri_bridge", "lomiri_dragonfly", "lomiri_fig", "lomiri_free", "lomiri_greentock",
                   "lomiri_seeding", "lomiri_sunset", "lomiri_wine", "plasma_bythewater", "plasma_fallenleaf",
                   "plasma_onestandsout", "plasma_summer1am"),
}
#: the photos that ship with vcnlit (vcnlit/data/photos/PROVENANCE.md)
PHOTOS = Path(__file__).parent / "photos"
#: the name prefixes (``<source>_``) of the photos that ship with vcnlit, one per package
SHIPPED = ("mate", "lomiri", "plasma")
#: each split folder's manifest: a line ``name key`` per image (key: see ``_key``)
MANIFEST = ".split"


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


def is_shipped(name: str) -> bool:
    """Whether ``name`` is one of the photos that ship with vcnlit (``vcnlit/data/photos/<name>.webp``)."""
    return name.split("_", 1)[0] in SHIPPED


def _key(name: str) -> str:
    """What the cached PNG of ``name`` depends on: the shipped photo's digest, else the name alone."""
    if is_shipped(name):
        return hashlib.sha256((PHOTOS / f"{name}.webp").read_bytes()).hexdigest()[:16]
    return "package"


def _read_manifest(folder: Path) -> dict[str, str] | None:
    """The manifest's names and keys; None for a folder without one (a cache from before manifests)."""
    try:
        lines = (folder / MANIFEST).read_text().splitlines()
    except OSError:
        return None
    return dict(line.split(" ", 1) for line in lines if " " in line)


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
    """Write the embedded split under ``root/<split>`` and return the folders.

    Idempotent, and kept in step with ``SPLITS``: a folder whose manifest differs from the split
    (or that has none) loses the PNG files the split does not list, and the photos whose key
    changed (all of them without a manifest) are written again; then the manifest is written.
    """
    root = Path(root).expanduser()
    out = {}
    for split, names in SPLITS.items():
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        keys = {name: _key(name) for name in names}
        manifest = "".join(f"{name} {keys[name]}\n" for name in sorted(keys))
        old = _read_manifest(folder)
        stale = old != keys
        if stale:
            for f in folder.glob("*.png"):
                if f.stem not in keys:
                    f.unlink(missing_ok=True)
        for name in names:
            f = folder / f"{name}.png"
            if f.exists() and not (stale and (old or {}).get(name) != keys[name]):
                continue
            a = SOURCES.get(name, _shipped(name) if is_shipped(name) else _skimage(name))()
            with atomic_path(f) as tmp:
                Image.fromarray(a.astype(np.uint8)).save(tmp, format="PNG")
        if stale:
            with atomic_path(folder / MANIFEST) as tmp:
                tmp.write_text(manifest)
        out[split] = folder
    return out
