"""``vcnlit compress`` / ``decompress`` / ``models``: a trained model (from the zoo or a run) as a codec for files."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path

from vcnlit.errors import (
    USER_ERROR_EXIT,
    CheckpointError,
    ConfigError,
    check_choice,
    exit_on_user_error,
    one_line,
)
from vcnlit.io import write_bytes
from vcnlit.zoo import DEFAULT_MODEL

#: streams are read whole; anything larger is not one of ours
MAX_STREAM_BYTES = 1 << 30

log = logging.getLogger("vcnlit")


def _check_output(path: Path, force: bool) -> None:
    """Refuse an output that exists (without --force), is a folder, or lies in a missing folder."""
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; add --force to overwrite it")
    if not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise FileNotFoundError(f"output folder {path.parent} does not exist; create it first")


def _write(path: Path, data: bytes, force: bool) -> None:
    """Write atomically with the usual permissions; never clobber without --force."""
    _check_output(path, force)
    write_bytes(path, data)


def _load(model: str | None, tile_size: int | None, refine: int = 0):
    """The model (a zoo name, a model.ckpt, or None: the default zoo model) and its Compressor (with
    ``refine`` steps of encoder-side refinement)."""
    from vcnlit.checkpoint import load_model
    from vcnlit.compressor import Compressor
    from vcnlit.refinement import Refinement, proxy_name
    from vcnlit.zoo import resolve

    m = load_model(resolve(model))
    tile = m.tile_size if tile_size is None else tile_size
    if refine:
        proxy_name(m.codec)  # a codec without a differentiable stand-in: one line before any work
    return m, Compressor(m.system, m.codec, tile_size=tile, refinement=Refinement(steps=refine))


def _rate(model, rate: float | None) -> float:
    """The rate to code at: ``--rate``, or the model's codec rate when it was trained for it, else the
    middle trained rate point. A rate outside the trained range is a :class:`ConfigError`."""
    trained = sorted(float(r) for r in model.rate_points)
    key = model.codec.rate_key
    if rate is None:
        own = float(model.codec.rate)
        return own if not trained or own in trained else trained[len(trained) // 2]
    if trained and not trained[0] <= rate <= trained[-1]:
        raise ConfigError(f"--rate {rate:g} is outside the {key} range this model was trained for "
                          f"({', '.join(f'{r:g}' for r in trained)})")
    if trained and rate not in trained:
        log.warning("--rate %g is not one of the model's trained %s points (%s): it interpolates between them",
                    rate, key, ", ".join(f"{r:g}" for r in trained))
    return rate


def rate_grid(model) -> list[float]:
    """The rates ``--bpp`` searches, over the model's trained range: every integer quality (SCIC), or 64
    step sizes evenly spaced in log (DNNC)."""
    trained = sorted(float(r) for r in model.rate_points) or [float(model.codec.rate)]
    lo, hi = trained[0], trained[-1]
    if model.codec.rate_key == "quality":
        return [float(q) for q in range(math.ceil(lo), math.floor(hi) + 1)] or [lo]
    return [lo * (hi / lo) ** (i / 63) for i in range(64)] if hi > lo else [lo]


def compress(args: argparse.Namespace) -> None:
    from vcnlit.data import load_image
    from vcnlit.data.images import is_colour
    from vcnlit.eval.metrics import bpp

    out = Path(args.output)
    _check_output(out, args.force)
    if args.bpp is not None and args.rate is not None:
        raise ConfigError("give --rate or --bpp, not both")
    if args.bpp is not None and not (math.isfinite(args.bpp) and args.bpp > 0):
        raise ConfigError(f"--bpp must be a positive number, got {args.bpp:g}")
    model, comp = _load(args.model, args.tile_size, args.refine)
    if model.system.channels == 1 and is_colour(args.input):
        log.warning("%s is in colour but model %s is grayscale: the decoded image will be gray "
                    "(a colour model: --model scic_lowres_rgb)", args.input, model.experiment)
    x = load_image(args.input, model.system.channels)
    if args.bpp is None:
        rate = _rate(model, args.rate)
        data = comp.compress(x, rate)
    else:
        h, w = x.shape[-2:]
        data, rate = comp.compress_to_size(x, math.floor(args.bpp * h * w / 8), rate_grid(model))
    _write(out, data, args.force)
    h, w = x.shape[-2:]
    print(f"{out}: {len(data)} bytes, {bpp(len(data), h, w):.4f} bpp "
          f"({w}x{h}, {x.shape[0]} channel(s), {model.experiment}, {model.codec.name} {model.codec.rate_key}={rate:g})")


def _stream_model(data: bytes) -> str:
    """The zoo model that made a stream (its header's fingerprint), for a decompress without --model."""
    from vcnlit.codecs import unpack
    from vcnlit.zoo import find_by_fingerprint

    header, _ = unpack(data)
    found = find_by_fingerprint(header.fingerprint)
    if found is None:
        raise CheckpointError(f"this stream was made by a model outside the zoo (fingerprint "
                              f"{header.fingerprint.hex()}); give its model.ckpt with --model PATH")
    return found.name


def decompress(args: argparse.Namespace) -> None:
    from vcnlit.data.images import encode_image, image_format
    from vcnlit.nets.system import ENSEMBLE_SIZES

    src, out = Path(args.input), Path(args.output)
    _check_output(out, args.force)
    suffix = image_format(out)
    if not src.is_file():
        raise FileNotFoundError(f"{src} not found")
    if src.stat().st_size > MAX_STREAM_BYTES:
        raise ValueError(f"{src} is larger than any vcnlit stream ({src.stat().st_size} bytes)")
    data = src.read_bytes()
    model, comp = _load(args.model or _stream_model(data), args.tile_size)
    if args.flips is not None:
        check_choice("--flips", args.flips, ENSEMBLE_SIZES)
        model.system.set_self_ensemble(args.flips)
    x = comp.decompress(data)
    _write(out, encode_image(x, suffix), args.force)
    print(f"{out}: {x.shape[-1]}x{x.shape[-2]}, {x.shape[0]} channel(s)")


def models(args: argparse.Namespace) -> None:
    """Print the zoo: name, channels, codec, rate range, size and BD-rate against JPEG."""
    from rich.console import Console
    from rich.table import Table

    from vcnlit.zoo import entries

    zoo = entries()
    if not zoo:
        print("the zoo is empty (python -m vcnlit.zoo.build NAME adds a model)")
        return
    table = Table(title="vcnlit model zoo (BD-rate: PSNR vs Huffman-optimised JPEG, embedded test images)")
    for col in ("name", "channels", "codec", "rate points", "size", "BD-rate vs JPEG"):
        table.add_column(col, justify="left" if col in ("name", "codec") else "right", no_wrap=col == "name")
    for name, m in zoo.items():
        i = m.info
        rates = ", ".join(f"{r:g}" for r in i["rate_points"])
        bd = i.get("bd_rate_vs_jpeg")
        table.add_row(name + (" (default)" if name == DEFAULT_MODEL else ""), str(i["channels"]),
                      f"{i['codec']['format']} ({i['rate_key']})", rates, f"{m.path.stat().st_size / 1e6:.1f} MB",
                      "n/a" if bd is None else f"{bd:+.1f} %")
    Console(width=max(Console().width, 120)).print(table)


def _non_negative(v: str) -> int:
    n = int(v)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--tile-size", type=_non_negative, default=None, metavar="N",
                   help="run the networks on N x N tiles (bounded memory, seam-free); 0: whole image; "
                        "default: the model's eval.tile_size")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vcnlit", description="Compress images with a trained vcnlit model.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compress", help="image -> .vcn bitstream")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--model", default=None,
                   help=f"a zoo model's name (`vcnlit models`) or a training run's model.ckpt; default: {DEFAULT_MODEL}")
    c.add_argument("--rate", type=float, default=None,
                   help="codec quality (SCIC) or step size (DNNC), within the model's trained range; "
                        "default: the model's")
    c.add_argument("--bpp", type=float, default=None,
                   help="the largest file allowed, in bits per pixel: codes at the highest rate within the "
                        "model's trained range whose file fits (instead of --rate)")
    c.add_argument("--refine", type=_non_negative, default=0, metavar="N",
                   help="refine the coded signal for this image with N gradient steps (10: 2-4.5 %% fewer bits "
                        "at equal PSNR with the JPEG-based models, under 1 %% with DNNC's, for 25-50x the encode "
                        "time; the file decodes as any other); default: 0")
    _common(c)
    c.set_defaults(func=compress)
    d = sub.add_parser("decompress", help=".vcn bitstream -> image (PNG, TIFF, BMP, PPM/PGM or lossless WebP, "
                                                         "by the output's extension)")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--model", default=None,
                   help="the model that compressed the file; not needed for a stream made by a zoo model")
    d.add_argument("--flips", type=int, default=None, metavar="N",
                   help="average the decoder over N flips of the decoded signal (1, 2, 4 or 8; more: a little "
                        "better and proportionally slower; any N decodes any stream); default: the model's")
    _common(d)
    d.set_defaults(func=decompress)
    m = sub.add_parser("models", help="list the model zoo")
    m.set_defaults(func=models, output=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    prog = f"vcnlit {args.command}"
    try:
        # a file command's user errors also include the operating system's (missing or unwritable files)
        with exit_on_user_error(prog, also=(OSError, ValueError)):
            args.func(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; {args.output} was not written", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{prog}: error: out of memory; try a smaller --tile-size", file=sys.stderr)
        return USER_ERROR_EXIT
    except Exception as e:  # a bug: still one line for the user, the traceback on request
        if os.environ.get("VCNLIT_DEBUG"):
            raise
        print(f"{prog}: unexpected {type(e).__name__}: {one_line(e)[:200]} (set VCNLIT_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
