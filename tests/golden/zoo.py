"""The zoo's golden record: each model's file, and its stream and PSNR on one crop of an embedded photo.

The crop is written as a PNG and read back with :func:`vcnlit.data.load_image`, as ``vcnlit compress``
reads its input; the model codes it at the middle of its trained rate points through the
:class:`~vcnlit.compressor.Compressor` that ``vcnlit compress`` builds, on one torch thread.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

#: an embedded test photo (vcnlit.data.embedded) and the crop (top, left, height, width) every model codes
PHOTO, CROP = "astronaut", (160, 180, 64, 96)


def crop_png(folder: Path) -> Path:
    """The crop, written as a PNG in ``folder``."""
    from vcnlit.data.embedded import SOURCES, _skimage

    top, left, h, w = CROP
    a = np.asarray(SOURCES.get(PHOTO, _skimage(PHOTO))())[top : top + h, left : left + w]
    path = folder / f"{PHOTO}-{h}x{w}.png"
    Image.fromarray(np.ascontiguousarray(a)).save(path)
    return path


def middle_rate(rate_points: list[float]) -> float:
    points = sorted(float(r) for r in rate_points)
    return points[len(points) // 2]


#: the Compressor's inference precisions (``bf16``: recorded on a CPU with bfloat16 hardware, checked there)
PRECISIONS = ("fp32", "bf16")


def model_record(name: str, image: Path) -> dict[str, Any]:
    """One model's file digest, rate, and its stream of ``image`` in each inference precision (float32,
    and bfloat16, whose bytes depend on the CPU's bfloat16 hardware): digest, size and PSNR (dB, 8-bit)."""
    from vcnlit.checkpoint import load_model
    from vcnlit.compressor import Compressor
    from vcnlit.data import load_image
    from vcnlit.eval.metrics import psnr
    from vcnlit.zoo import entries

    entry = entries()[name]
    model = load_model(entry.path)
    x = load_image(image, model.system.channels)
    rate = middle_rate(entry.info["rate_points"])
    record: dict[str, Any] = {"ckpt_sha256": hashlib.sha256(entry.path.read_bytes()).hexdigest(), "rate": rate}
    for precision in PRECISIONS:
        comp = Compressor(model.system, model.codec, tile_size=model.tile_size, bf16=precision == "bf16")
        data = comp.compress(x, rate)
        x_hat = comp.decompress(data)
        record[precision] = {"vcn_bytes": len(data), "vcn_sha256": hashlib.sha256(data).hexdigest(),
                             "psnr": round(float(psnr(x_hat[None], x[None])[0]), 4)}
    return record


def zoo_record() -> dict[str, Any]:
    """The record of every zoo model (what manifest.json's ``zoo`` holds)."""
    from vcnlit.zoo import entries

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            image = crop_png(Path(tmp))
            models = {name: model_record(name, image) for name in entries()}
    finally:
        torch.set_num_threads(n)
    return {"photo": PHOTO, "crop": list(CROP), "models": models}
