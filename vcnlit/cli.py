"""``vcnlit compress`` / ``vcnlit decompress``: a trained model as a codec for files."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from vcnlit.errors import USER_ERROR_EXIT, exit_on_user_error, one_line
from vcnlit.io import write_bytes

#: streams are read whole; anything larger is not one of ours
MAX_STREAM_BYTES = 1 << 30


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


def _load(args: argparse.Namespace):
    from vcnlit.checkpoint import load_model
    from vcnlit.compressor import Compressor

    m = load_model(args.model)
    tile = m.tile_size if args.tile_size is None else args.tile_size
    return m, Compressor(m.system, m.codec, tile_size=tile)


def compress(args: argparse.Namespace) -> None:
    from vcnlit.data import load_image
    from vcnlit.eval.metrics import bpp

    out = Path(args.output)
    _check_output(out, args.force)
    model, comp = _load(args)
    x = load_image(args.input, model.system.channels)
    rate = model.codec.rate if args.rate is None else args.rate
    data = comp.compress(x, rate)
    _write(out, data, args.force)
    h, w = x.shape[-2:]
    print(f"{out}: {len(data)} bytes, {bpp(len(data), h, w):.4f} bpp "
          f"({w}x{h}, {x.shape[0]} channel(s), {model.codec.name} {model.codec.rate_key}={rate:g})")


def decompress(args: argparse.Namespace) -> None:
    from vcnlit.data import encode_png

    src, out = Path(args.input), Path(args.output)
    _check_output(out, args.force)
    if not src.is_file():
        raise FileNotFoundError(f"{src} not found")
    if src.stat().st_size > MAX_STREAM_BYTES:
        raise ValueError(f"{src} is larger than any vcnlit stream ({src.stat().st_size} bytes)")
    _, comp = _load(args)
    x = comp.decompress(src.read_bytes())
    _write(out, encode_png(x), args.force)
    print(f"{out}: {x.shape[-1]}x{x.shape[-2]}, {x.shape[0]} channel(s)")


def _tile_size(v: str) -> int:
    n = int(v)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--tile-size", type=_tile_size, default=None, metavar="N",
                   help="run the networks on N x N tiles (bounded memory, seam-free); 0: whole image; "
                        "default: the model's eval.tile_size")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vcnlit", description="Compress images with a trained vcnlit model.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compress", help="image -> .vcn bitstream")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--model", required=True, help="model.ckpt of a training run")
    c.add_argument("--rate", type=float, default=None,
                   help="codec quality (SCIC) or step size (DNNC); default: the model's")
    _common(c)
    c.set_defaults(func=compress)
    d = sub.add_parser("decompress", help=".vcn bitstream -> PNG")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--model", required=True, help="the model.ckpt that compressed the file")
    _common(d)
    d.set_defaults(func=decompress)
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
