"""Reading images from disk into tensors, with errors that name the path."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from vcnlit.codecs.container import check_size
from vcnlit.errors import ImageError
from vcnlit.pixels import from_uint8, to_uint8

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")




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


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float images -> 8-bit L (full range kept)."""
    a = np.asarray(im, dtype=np.float64)
    if im.mode.startswith("I;16"):
        peak = 65535.0
    elif im.mode == "F" and a.size and np.nanmax(a) <= 1.0:
        peak = 1.0
    else:  # "I" (16-bit PNGs in older Pillow) or "F": 8-bit data unless values say otherwise
        peak = 65535.0 if a.size and np.nanmax(a) > 255 else 255.0
    return Image.fromarray(np.clip(np.nan_to_num(a) / peak * 255.0 + 0.5, 0, 255).astype(np.uint8))


def _to_mode(im: Image.Image, channels: int, path: Path) -> Image.Image:
    """Any Pillow mode -> L or RGB: EXIF rotation applied, 16-bit scaled to 8-bit, alpha dropped
    (with a warning), palette and CMYK converted."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        im = _to_8bit(im)
    if "A" in im.getbands() or "a" in im.getbands() or (im.mode == "P" and "transparency" in im.info):
        log.warning("%s: alpha channel dropped", path)
        im = im.convert("RGBA").convert("RGB")
    gray = im.mode in ("L", "1")
    if im.mode not in ("L", "RGB"):
        im = im.convert("L" if gray else "RGB")  # P, CMYK, YCbCr, LAB, HSV, 1
    if channels == 1:
        return im.convert("L")
    if gray:
        log.warning("%s is grayscale; an RGB model receives it with the gray plane copied to R, G and B", path)
    return im.convert("RGB")


def load_image(path: str | Path, channels: int = 3) -> Tensor:
    """Read one image as a (C, H, W) float tensor in [0, 1]; RGB images become luma for ``channels=1``.

    Any failure (missing, not an image, truncated, corrupt, larger than ``MAX_SAMPLES``) is an
    :class:`ImageError` whose one-line message names the file. The size is checked from the
    file's header, before its pixels are decoded.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            check_size((channels, h, w), ImageError)
            im.load()
            im = _to_mode(im, channels, path)
    except FileNotFoundError:
        raise ImageError(f"image not found: {path}") from None
    except ImageError as e:
        raise ImageError(f"cannot read image {path}: {e}") from None
    except UnidentifiedImageError:
        raise ImageError(f"cannot read image {path}: not an image file (or a format Pillow cannot read)") from None
    except Exception as e:  # Pillow's decoders raise many types on corrupt files; none may escape as a traceback
        raise ImageError(f"cannot read image {path}: {type(e).__name__}: {' '.join(str(e).split())[:160]}") from None
    return from_uint8(np.asarray(im, dtype=np.uint8))


def encode_png(x: Tensor) -> bytes:
    """A (C, H, W) tensor in [0, 1] as 8-bit PNG bytes (deterministic)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(x)).save(buf, format="PNG")
    return buf.getvalue()


def save_image(x: Tensor, path: str | Path) -> None:
    """Write a (C, H, W) tensor in [0, 1] as an 8-bit PNG."""
    Path(path).write_bytes(encode_png(x))
