"""Reading images from disk into tensors, with errors that name the path."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from vcnlit.codecs.standard import from_uint8, to_uint8

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageError(ValueError):
    """An image or folder that cannot be used; the message names the path."""


def list_images(folder: str | Path, key: str = "folder") -> list[Path]:
    """Sorted image files of a folder; a missing or empty folder is a one-line error."""
    p = Path(folder).expanduser()
    if not p.is_dir():
        raise ImageError(f"{key}={p} does not exist or is not a folder; set {key}=<folder of images>")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not files:
        raise ImageError(
            f"no images in {key}={p} (expected {', '.join(IMAGE_SUFFIXES)} files); set {key}=<folder of images>"
        )
    return files


def _to_mode(im: Image.Image, channels: int, path: Path) -> Image.Image:
    """Convert any Pillow mode to L or RGB (16-bit scaled to 8-bit, alpha dropped, EXIF rotation applied)."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a / peak * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if "A" in im.getbands() or (im.mode == "P" and "transparency" in im.info):
        log.warning("%s: alpha channel dropped", path)
        im = im.convert("RGBA").convert("RGB")
    if channels == 1:
        return im.convert("L")
    if im.mode in ("L", "1", "LA"):
        log.warning("%s is grayscale; an RGB model receives it with the gray plane copied to R, G and B", path)
    return im.convert("RGB")


def load_image(path: str | Path, channels: int = 3) -> Tensor:
    """Read one image as a (C, H, W) float tensor in [0, 1]; RGB images become luma for ``channels=1``."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            im = _to_mode(im, channels, path)
    except FileNotFoundError:
        raise ImageError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"cannot read image {path}: {e}") from None
    return from_uint8(np.asarray(im, dtype=np.uint8))


def encode_png(x: Tensor) -> bytes:
    """A (C, H, W) tensor in [0, 1] as 8-bit PNG bytes (deterministic)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(x)).save(buf, format="PNG")
    return buf.getvalue()


def save_image(x: Tensor, path: str | Path) -> None:
    """Write a (C, H, W) tensor in [0, 1] as an 8-bit PNG."""
    Path(path).write_bytes(encode_png(x))
