"""Data: image folders, the embedded default set, the LightningDataModule."""

from vcnlit.data.datamodule import ImageDataModule, load_folder
from vcnlit.data.images import ImageError, encode_png, list_images, load_image, save_image

__all__ = ["ImageDataModule", "ImageError", "encode_png", "list_images", "load_folder", "load_image", "save_image"]
