"""The embedded default data set: natural photos shipped inside scikit-image (no download).

A fixed split, written once as PNG files so that the rest of the framework only
ever reads image folders. Test images are the classic ones (astronaut, camera,
coffee); no test image is used for training or validation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("rocket", "brick", "grass", "gravel", "coins", "moon", "clock", "page", "text", "immunohistochemistry"),
    "val": ("chelsea",),
    "test": ("astronaut", "camera", "coffee"),
}


def materialize(root: str | Path) -> dict[str, Path]:
    """Write the embedded split under ``root/{train,val,test}`` (idempotent) and return the folders."""
    import skimage.data

    root = Path(root).expanduser()
    out = {}
    for split, names in SPLITS.items():
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            f = folder / f"{name}.png"
            if f.exists():
                continue
            a = np.asarray(getattr(skimage.data, name)())
            tmp = f.with_suffix(".tmp")
            Image.fromarray(a.astype(np.uint8)).save(tmp, format="PNG")
            tmp.replace(f)
        out[split] = folder
    return out
