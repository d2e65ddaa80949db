"""``vcnlit compress`` / ``decompress`` / ``pack`` / ``unpack`` / ``models``: a trained model (from the zoo
or a run) as a codec for files, ``.vcn`` streams or standard JPEG files."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path
from typing import NoReturn

from vcnlit import __version__
from vcnlit.errors import (
    USER_ERROR_EXIT,
    CheckpointError,
    ConfigError,
    check_choice,
    exit_on_user_error,
    one_line,
)
from vcnlit.io import write_bytes
from vcnlit.zoo import DEFAULT_GRAY_MODEL, DEFAULT_MODEL

#: streams are read whole; anything larger is not one of ours
MAX_STREAM_BYTES = 1 << 30
#: what ``compress`` writes, by the output's extension: a ``.vcn`` stream or a standard JPEG file
OUTPUT_FORMATS = {".vcn": "vcn", ".jpg": "jpeg", ".jpeg": "jpeg"}

log = logging.getLogger("vcnlit")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (by any name: the same path, a symlink, a hard link)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist
        return False


def _check_output(path: Path, force: bool, source: Path | None = None) -> None:
    """Refuse an output that is the input ``source`` (even with --force), exists (without --force), is a
    folder, or lies in a missing folder."""
    if source is not None and _same_file(source, path):
        raise FileExistsError(f"the output {path} is the input {source}: give another output name "
                              f"(nothing was written)")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; add --force to overwrite it")
    if not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise FileNotFoundError(f"output folder {path.parent} does not exist; create it first")


def _write(path: Path, data: bytes, force: bool, source: Path) -> None:
    """Write atomically with the usual permissions; never clobber without --force, never the input."""
    _check_output(path, force, source)
    write_bytes(path, data)


def _output_format(path: Path) -> str:
    """``vcn`` or ``jpeg``, by the output's extension (:data:`OUTPUT_FORMATS`); another is a ConfigError."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ConfigError(f"{path}: the output's extension decides what is written: .vcn (a vcnlit stream) or "
                          f".jpg/.jpeg (a standard JPEG file); {suffix or 'no extension'} is neither")
    return OUTPUT_FORMATS[suffix]


def _read_stream(src: Path) -> bytes:
    """A stream or tagged JPEG file, read whole (FileNotFoundError, or ValueError when too large)."""
    if not src.is_file():
        raise FileNotFoundError(f"{src} not found")
    if src.stat().st_size > MAX_STREAM_BYTES:
        raise ValueError(f"{src} is larger than any vcnlit stream ({src.stat().st_size} bytes)")
    return src.read_bytes()


def _load(model: str | None, tile_size: int | None, refine: int = 0, colour: bool = True):
    """The model (a zoo name, a model.ckpt, or None: the default zoo model for a colour or grayscale image)
    and its Compressor (with ``refine`` steps of encoder-side refinement)."""
    from vcnlit.checkpoint import load_model
    from vcnlit.compressor import Compressor
    from vcnlit.refinement import Refinement, proxy_name
    from vcnlit.zoo import resolve

    m = load_model(resolve(model, colour))
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


def _check_jpeg_form(model, comp, out: Path) -> None:
    """Refuse a ``.jpg`` output for a model whose codec writes no standard JPEG (DNNC, other SCIC codecs)."""
    from vcnlit.codecs.jpeg_tag import NoStandardFormError, jpeg_settings

    try:
        jpeg_settings(comp.header((model.system.channels, 1, 1), model.codec.rate))
    except NoStandardFormError:
        kind = "a DNNC" if model.codec.mode == "dnnc" else f"a {model.codec.name}"
        raise ConfigError(f"{out}: model {model.experiment} is {kind} model and has no standard stream to write "
                          f"as a JPEG file; write .vcn, or use a SCIC JPEG model (the default)") from None


def compress(args: argparse.Namespace) -> None:
    from vcnlit.codecs.jpeg_stream import layout_of
    from vcnlit.codecs.jpeg_tag import to_jpeg
    from vcnlit.data import load_image
    from vcnlit.data.images import is_colour
    from vcnlit.eval.metrics import bpp
    from vcnlit.multirate import MultiRate, member
    from vcnlit.zoo import composite, default_model

    src, out = Path(args.input), Path(args.output)
    _check_output(out, args.force, src)
    jpeg = _output_format(out) == "jpeg"
    if args.bpp is not None and args.rate is not None:
        raise ConfigError("give --rate or --bpp, not both")
    if args.bpp is not None and not (math.isfinite(args.bpp) and args.bpp > 0):
        raise ConfigError(f"--bpp must be a positive number, got {args.bpp:g}")
    colour = is_colour(src)
    group = composite(args.model, colour)
    model, comp = _load(args.model, args.tile_size, args.refine, colour)  # a composite's first member
    members = [(group.members[0] if group else str(args.model or default_model(colour)), model, comp)]
    if group and args.bpp is not None:  # a .jpg file: the composite's JPEG members
        members += [(n, *_load(n, args.tile_size, args.refine)) for n in group.for_jpeg(jpeg)[1:]]
    if jpeg:
        for _, m, c in members:
            _check_jpeg_form(m, c, out)
    if model.system.channels == 1 and colour:
        log.warning("%s is in colour but model %s is grayscale: the decoded image will be gray "
                    "(a colour model: --model %s)", src, model.experiment, DEFAULT_MODEL)
    x = load_image(src, model.system.channels)
    form = to_jpeg if jpeg else None
    if args.bpp is None:
        rate = _rate(model, args.rate)
        data = comp.compress(x, rate)
        data = form(data) if form else data
    else:
        h, w = x.shape[-2:]
        name = group.name if group else model.experiment
        group_members = [member(*m, **(group.options(m[0]) if group else {})) for m in members]
        choice = MultiRate(name, group_members).compress_to_size(
            x, math.floor(args.bpp * h * w / 8), form)
        data, rate, model = choice.data, choice.rate, choice.member.model
        if choice.top and bpp(len(data), h, w) < 0.95 * args.bpp:
            log.warning("--bpp %g is above what %s reaches on this image: its best file (%s, %s %g) is %.3f bpp%s",
                        args.bpp, name, model.experiment, model.codec.rate_key, rate, bpp(len(data), h, w),
                        "" if group else "; `vcnlit models` lists models for higher rates")
    _write(out, data, args.force, src)
    h, w = x.shape[-2:]
    what = ""
    if jpeg:
        _, jh, jw = layout_of(data)
        what = f"; a standard JPEG of the {jw}x{jh} re-sampled image"
    by = f"{group.name}: {model.experiment}" if group else model.experiment
    if args.bpp is not None and choice.resize != 1:
        by += f" on the image {'enlarged' if choice.resize > 1 else 'shrunk'} {choice.resize:.3g}x"
    print(f"{out}: {len(data)} bytes, {bpp(len(data), h, w):.4f} bpp ({w}x{h}, {x.shape[0]} channel(s), "
          f"{by}, {model.codec.name} {model.codec.rate_key}={rate:g}{what})")


def _stream_model(header) -> str:
    """The zoo model that made a stream (its header's fingerprint), for a decompress without --model."""
    from vcnlit.zoo import find_by_fingerprint

    found = find_by_fingerprint(header.fingerprint)
    if found is None:
        raise CheckpointError(f"this stream was made by a model outside the zoo (fingerprint "
                              f"{header.fingerprint.hex()}); give its model.ckpt with --model PATH")
    return found.name


def decompress(args: argparse.Namespace) -> None:
    from vcnlit.codecs import unpack
    from vcnlit.codecs.jpeg_tag import is_jpeg, untag
    from vcnlit.data.images import encode_image, image_format
    from vcnlit.nets.system import ENSEMBLE_SIZES

    src, out = Path(args.input), Path(args.output)
    _check_output(out, args.force, src)
    suffix = image_format(out)
    data = _read_stream(src)
    header, payload = untag(data) if is_jpeg(data) else unpack(data)
    model, comp = _load(args.model or _stream_model(header), args.tile_size)
    if args.flips is not None:
        check_choice("--flips", args.flips, ENSEMBLE_SIZES)
        model.system.set_self_ensemble(args.flips)
    x = comp.decode(header, payload)
    _write(out, encode_image(x, suffix), args.force, src)
    print(f"{out}: {x.shape[-1]}x{x.shape[-2]}, {x.shape[0]} channel(s)")


def _convert(args: argparse.Namespace, to: str) -> tuple[Path, bytes, bytes]:
    """(output, input bytes, output bytes) of a lossless conversion to ``to`` (``vcn`` or ``jpeg``)."""
    from vcnlit.codecs.jpeg_tag import to_jpeg, to_vcn

    src, out = Path(args.input), Path(args.output)
    _check_output(out, args.force, src)
    if _output_format(out) != to:
        raise ConfigError(f"{out}: {args.command} writes a {'.vcn stream' if to == 'vcn' else 'JPEG file'}; "
                          f"name it {'.vcn' if to == 'vcn' else '.jpg or .jpeg'}")
    data = _read_stream(src)
    converted = to_vcn(data) if to == "vcn" else to_jpeg(data)
    _write(out, converted, args.force, src)
    return out, data, converted


def pack_jpeg(args: argparse.Namespace) -> None:
    """A tagged JPEG file -> its .vcn stream (lossless; ``unpack`` gives back the same bytes)."""
    out, jpeg, vcn = _convert(args, "vcn")
    print(f"{out}: {len(vcn)} bytes ({len(jpeg) - len(vcn)} bytes, {1 - len(vcn) / len(jpeg):.1%} smaller "
          f"than the JPEG file; `vcnlit unpack` gives it back byte for byte)")


def unpack_vcn(args: argparse.Namespace) -> None:
    """A SCIC/JPEG .vcn stream -> its tagged JPEG file (lossless; ``pack`` gives back the stream's coefficients)."""
    out, _, jpeg = _convert(args, "jpeg")
    print(f"{out}: {len(jpeg)} bytes, a standard JPEG file (`vcnlit decompress` restores the full image)")


def models(args: argparse.Namespace) -> None:
    """Print the zoo: name, channels, codec, rate range, size and BD-rate against JPEG."""
    from rich.console import Console
    from rich.table import Table

    from vcnlit.zoo import composites, entries

    zoo = entries()
    if not zoo:
        print("the zoo is empty (python -m vcnlit.zoo.build NAME adds a model)")
        return
    table = Table(title="vcnlit model zoo (BD-rate: PSNR vs Huffman-optimised JPEG, embedded test images)")
    for col in ("name", "channels", "codec", "rate points", "size", "BD-rate vs JPEG"):
        table.add_column(col, justify="left" if col in ("name", "codec") else "right", no_wrap=col == "name")
    defaults = {DEFAULT_MODEL: " (default)", DEFAULT_GRAY_MODEL: " (default, gray)"}
    for name, m in zoo.items():
        i = m.info
        rates = ", ".join(f"{r:g}" for r in i["rate_points"])
        bd = i.get("bd_rate_vs_jpeg")
        table.add_row(name + defaults.get(name, ""), str(i["channels"]),
                      f"{i['codec']['format']} ({i['rate_key']})", rates, f"{m.path.stat().st_size / 1e6:.1f} MB",
                      "n/a" if bd is None else f"{bd:+.1f} %")
    for name, c in composites().items():  # no model file: its members' rates, each by --bpp
        i = zoo[c.members[0]].info
        table.add_row(name + defaults.get(name, ""), str(i["channels"]), f"{i['codec']['format']} ({i['rate_key']})",
                      " + ".join(c.members), f"{sum(zoo[n].path.stat().st_size for n in c.members) / 1e6:.1f} MB", "n/a")
    Console(width=max(Console().width, 120)).print(table)


def compare(args: argparse.Namespace) -> None:
    """A photo coded by the model and the standard codecs at one file size: :mod:`vcnlit.compare`."""
    from vcnlit.compare import DEFAULT_BPP, report, run

    src = Path(args.input)
    out = args.output = Path(args.output) if args.output else Path(f"{src.stem}_compare")
    print(report(*run(src, out, DEFAULT_BPP if args.bpp is None else args.bpp, args.model, args.force)))


def _non_negative(v: str) -> int:
    n = int(v)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def _force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="overwrite an existing output file (never the input)")


def _common(p: argparse.ArgumentParser) -> None:
    _force(p)
    p.add_argument("--tile-size", type=_non_negative, default=None, metavar="N",
                   help="run the networks on equal tiles of at most N x N pixels (bounded memory, seam-free); "
                        "0: whole image; default: 512 (0 for a model trained with eval.tile_size=0)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vcnlit", description="Compress images with a trained vcnlit model.")
    p.add_argument("--version", action="version", version=f"vcnlit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compress", help="image -> .vcn bitstream, or a standard JPEG file (.jpg, .jpeg; SCIC "
                                        "models), by the output's extension")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--model", default=None,
                   help=f"a zoo model's name (`vcnlit models`) or a training run's model.ckpt; default: "
                        f"{DEFAULT_MODEL} ({DEFAULT_GRAY_MODEL} for a grayscale image)")
    c.add_argument("--rate", type=float, default=None,
                   help="codec quality (SCIC) or step size (DNNC), within the model's trained range (a "
                        "composite's first member's); default: the model's")
    c.add_argument("--bpp", type=float, default=None,
                   help="the largest file allowed, in bits per pixel: codes at the highest rate within the "
                        "model's trained range whose file fits (instead of --rate); a composite model (the "
                        "default) codes with each member and keeps the file that decodes best")
    c.add_argument("--refine", type=_non_negative, default=0, metavar="N",
                   help="refine the coded signal for this image with N gradient steps (fewer bits at equal PSNR for "
                        "a much slower encode: docs/results.md; the file decodes as any other); default: 0")
    _common(c)
    c.set_defaults(func=compress)
    d = sub.add_parser("decompress", help=".vcn bitstream or a JPEG file of `compress` -> image (PNG, TIFF, BMP, "
                                          "PPM/PGM or lossless WebP, by the output's extension)")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--model", default=None,
                   help="the model that compressed the file; not needed for a stream made by a zoo model")
    d.add_argument("--flips", type=int, default=None, metavar="N",
                   help="average the decoder over N flips of the decoded signal (1, 2, 4 or 8; more: a little "
                        "better and proportionally slower; any N decodes any stream); default: the model's")
    _common(d)
    d.set_defaults(func=decompress)
    for name, func, what in (("pack", pack_jpeg, "a JPEG file of `compress` -> its .vcn stream (lossless, smaller)"),
                             ("unpack", unpack_vcn, "a .vcn stream of a SCIC JPEG model -> its JPEG file (lossless)")):
        q = sub.add_parser(name, help=what)
        q.add_argument("input")
        q.add_argument("output")
        _force(q)
        q.set_defaults(func=func)
    m = sub.add_parser("models", help="list the model zoo")
    m.set_defaults(func=models, output=None)
    k = sub.add_parser("compare", help="a photo coded by the model and by JPEG, WebP, AVIF, JPEG XL and JPEG 2000 at "
                                       "the same file size -> an HTML page, a PNG sheet of crops and an RD plot")
    k.add_argument("input")
    k.add_argument("--output", default=None, metavar="DIR",
                   help="the folder written (created if its parent exists); default: INPUT's name + _compare")
    k.add_argument("--bpp", type=float, default=None,
                   help="the model's largest file, in bits per pixel; every codec then codes at or under the "
                        "model's file; default: 0.25")
    k.add_argument("--model", default=None, help=f"a zoo model's name or a model.ckpt; default: {DEFAULT_MODEL} "
                                                 f"({DEFAULT_GRAY_MODEL} for a grayscale photo)")
    _force(k)
    k.set_defaults(func=compare)
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


def run() -> NoReturn:
    """The ``vcnlit`` command: :func:`main`, then :func:`exit_now`."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once the logs and standard streams are flushed, without the interpreter's
    teardown: every file the command wrote is closed by then, and what is skipped (freeing every module,
    torch's shutdown) is a fixed cost of every command (docs/benchmarks.md)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
