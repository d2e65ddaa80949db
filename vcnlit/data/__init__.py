"""Data: image folders, the embedded default set, the LightningDataModule."""

from typing import Any

from vcnlit.data.images import ImageError, encode_png, list_images, load_image, save_image

__all__ = ["ImageDataModule", "ImageError", "encode_png", "list_images", "load_folder", "load_image", "save_image"]


def __getattr__(name: str) -> Any:
    # the data module needs Lightning (seconds to import); `vcnlit compress` only reads images
    if name in ("ImageDataModule", "load_folder"):
        from vcnlit.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
