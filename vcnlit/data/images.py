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


def _is_gray(im: Image.Image) -> bool:
    return im.mode in ("L", "LA", "1", "I", "F") or im.mode.startswith("I;16")


def is_colour(path: str | Path) -> bool:
    """Whether an image file holds colour (read from its header; False for anything unreadable)."""
    try:
        with Image.open(path) as im:
            return not _is_gray(im)
    except Exception:
        return False


def _to_mode(im: Image.Image, channels: int, path: Path, warn_gray: bool = True) -> Image.Image:
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
    if gray and warn_gray:
        log.warning("%s is grayscale; an RGB model receives it with the gray plane copied to R, G and B", path)
    return im.convert("RGB")


def _plain_png(path: Path, im: Image.Image, channels: int) -> np.ndarray | None:
    """The pixels of an 8-bit PNG that needs no conversion (RGB for 3 channels, gray for 1; no transparency,
    no EXIF), decoded by libpng through imagecodecs: the same pixels as Pillow's, faster
    (docs/benchmarks.md). None for any other image (Pillow reads and converts it)."""
    if im.format != "PNG" or im.mode != ("RGB" if channels == 3 else "L") or "transparency" in im.info:
        return None
    data = path.read_bytes()
    if b"eXIf" in data:  # a rotation may be stored, before or after the pixels: Pillow applies it
        return None
    import imagecodecs

    a = imagecodecs.png_decode(data)
    return a if a.dtype == np.uint8 and a.shape == (im.height, im.width, channels)[: 2 if channels == 1 else 3] else None


def load_image(path: str | Path, channels: int = 3, warn_gray: bool = True) -> Tensor:
    """Read one image as a (C, H, W) float tensor in [0, 1]; RGB images become luma for ``channels=1``.

    A grayscale image read for ``channels=3`` has its plane copied to R, G and B (with a warning
    unless ``warn_gray`` is False).

    Any failure (missing, not an image, truncated, corrupt, larger than ``MAX_SAMPLES``) is an
    :class:`ImageError` whose one-line message names the file. The size is checked from the
    file's header, before its pixels are decoded.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            check_size((channels, h, w), ImageError)
            plain = _plain_png(path, im, channels)
            if plain is not None:
                return from_uint8(plain)
            im.load()
            im = _to_mode(im, channels, path, warn_gray)
    except FileNotFoundError:
        raise ImageError(f"image not found: {path}") from None
    except ImageError as e:
        raise ImageError(f"cannot read image {path}: {e}") from None
    except UnidentifiedImageError:
        raise ImageError(f"cannot read image {path}: not an image file (or a format Pillow cannot read)") from None
    except Exception as e:  # Pillow's decoders raise many types on corrupt files; none may escape as a traceback
        raise ImageError(f"cannot read image {path}: {type(e).__name__}: {' '.join(str(e).split())[:160]}") from None
    return from_uint8(np.asarray(im, dtype=np.uint8))


#: file extensions that hold a decoded image without loss, and Pillow's format (and options) for each
#: (PNG is written by :func:`_png` instead)
LOSSLESS_FORMATS: dict[str, tuple[str, dict]] = {
    ".png": ("PNG", {}), ".tif": ("TIFF", {}), ".tiff": ("TIFF", {}), ".bmp": ("BMP", {}),
    ".ppm": ("PPM", {}), ".pgm": ("PPM", {}), ".pnm": ("PPM", {}), ".webp": ("WEBP", {"lossless": True}),
}


def image_format(path: str | Path) -> str:
    """The lossless format an output file's extension asks for; other extensions are an :class:`ImageError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in LOSSLESS_FORMATS:
        raise ImageError(f"{path}: a decoded image is written losslessly, and {suffix or 'no extension'} cannot "
                         f"hold it that way; use one of {', '.join(LOSSLESS_FORMATS)}")
    return suffix


def encode_image(x: Tensor, suffix: str = ".png") -> bytes:
    """A (C, H, W) tensor in [0, 1] as the bytes of an 8-bit lossless image file (deterministic).

    Args:
        x: the image.
        suffix: a key of :data:`LOSSLESS_FORMATS` (``.png`` by default).
    """
    fmt, options = LOSSLESS_FORMATS[suffix]
    a = to_uint8(x)
    if fmt == "PPM" and suffix == ".pgm" and a.ndim == 3:
        raise ImageError("a .pgm file holds grayscale only; use .ppm or .png for a colour image")
    if fmt == "PNG":
        return _png(a)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, **options)
    return buf.getvalue()


def _png(a: np.ndarray) -> bytes:
    """8-bit PNG bytes of an (H, W) or (H, W, C) array, through libpng (imagecodecs): zlib level 1 with
    run-length matching, every row filtered "up": faster than Pillow's writer at level 1, which tries every
    filter on every row, for a file no larger on photos (docs/benchmarks.md)."""
    import imagecodecs

    png = imagecodecs.PNG
    if a.strides != tuple(int(np.prod(a.shape[i + 1 :])) * a.itemsize for i in range(a.ndim)):
        a = a.copy()  # libpng's wrapper checks the strides themselves, also those of dimensions of size 1
    return bytes(imagecodecs.png_encode(a, level=1, strategy=png.STRATEGY.RLE, filter=png.FILTER.UP))


def encode_png(x: Tensor) -> bytes:
    """A (C, H, W) tensor in [0, 1] as 8-bit PNG bytes (deterministic)."""
    return encode_image(x, ".png")


def save_image(x: Tensor, path: str | Path) -> None:
    """Write a (C, H, W) tensor in [0, 1] as an 8-bit PNG."""
    Path(path).write_bytes(encode_png(x))
