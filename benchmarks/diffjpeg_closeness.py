"""How closely the ``diffjpeg`` gradient proxy's forward pass tracks the real JPEG codec.

    python -m benchmarks.diffjpeg_closeness [--split val] [--qualities 5 10 20 40 70] [--channels 1]

For each image of a split of the embedded set (or ``--folder``) and each quality, prints the PSNR
(dB) between the proxy's decoded signal (kornia's differentiable JPEG with the real encoder's
quantisation tables, :class:`vcnlit.stages.proxies.DiffJpegProxy`) and Pillow's decoded JPEG of
the same image, next to the PSNR of Pillow's JPEG against the image itself. Nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vcnlit.codecs import StandardCodec
from vcnlit.data.datamodule import load_folder
from vcnlit.data.embedded import materialize
from vcnlit.eval.metrics import psnr
from vcnlit.stages.proxies import DiffJpegProxy


def closeness(images: list[tuple[str, torch.Tensor]], qualities: list[float]) -> list[dict]:
    """One row per image and quality: ``psnr_to_jpeg`` (proxy vs real decoded), ``jpeg_psnr`` (real vs image)."""
    codec = StandardCodec("jpeg", 20)
    proxy = DiffJpegProxy(codec)
    rows = []
    for name, x in images:
        y = x[None]
        for q in qualities:
            real = codec.round_trip(y, q).decoded
            with torch.no_grad():
                fake = proxy.decoded(y, [q])
            rows.append({"image": name, "quality": q, "psnr_to_jpeg": psnr(fake, real).item(),
                         "jpeg_psnr": psnr(real, y).item()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--folder", type=Path, default=None, help="images to use instead of the embedded split")
    parser.add_argument("--qualities", type=float, nargs="+", default=[5, 10, 20, 40, 70])
    parser.add_argument("--channels", type=int, default=1, choices=(1, 3))
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/vcnlit/embedded"))
    args = parser.parse_args()
    folder = args.folder or materialize(args.cache)[args.split]
    rows = closeness(load_folder(folder, args.channels, "folder"), args.qualities)
    print(f"{'image':>16} {'quality':>7} {'proxy vs JPEG':>14} {'JPEG vs image':>14}")
    for r in rows:
        print(f"{r['image']:>16} {r['quality']:>7g} {r['psnr_to_jpeg']:>11.2f} dB {r['jpeg_psnr']:>11.2f} dB")


if __name__ == "__main__":
    main()
