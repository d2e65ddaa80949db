"""The ``.vcn`` container's saving on JPEG files against the lossless JPEG recompressors people use.

    python -m benchmarks.bench_recompress [--qualities 5 10 20 40 75] [--out DIR] [--quick]

Huffman-optimised JPEGs (Pillow/libjpeg, the standard's tables, 4:2:0 in colour: vcnlit's ``jpeg_optimized``
baseline) of the embedded test images and val photos, in grayscale and in colour, at each quality; for
each file the bytes of

- the JPEG itself;
- ``vcn``: a ``.vcn`` file (:func:`vcnlit.codecs.container.pack` of a SCIC/JPEG header with the JPEG as
  payload: what vcnlit stores; coefficients context coded, :mod:`vcnlit.codecs.jpeg_transcode`);
- ``lepton``: Lepton (``lepton_jpeg_python``, the Rust port);
- ``brunsli``: brunsli (imagecodecs; its JPEG is rebuilt through libbrunslidec's C API, which imagecodecs
  ships but does not expose);
- ``jpegxl``: JPEG XL's lossless JPEG transcoding (imagecodecs / libjxl, bare codestream);

and whether each round trip gives the JPEG back: byte for byte (``bytes``), or for ``vcn``, which rebuilds
a JPEG with the same coefficients and its own Huffman tables, the same decoded pixels (``pixels``).
Writes ``recompress.json`` and ``RECOMPRESS.md`` (savings: 1 - bytes / JPEG bytes, over all images of a set).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import io
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch import Tensor

from vcnlit.codecs import Header, StandardCodec, pack, unpack
from vcnlit.data.datamodule import load_folder
from vcnlit.data.embedded import materialize
from vcnlit.eval.results import git_commit, versions, write_results
from vcnlit.portable import portable

HERE = Path(__file__).resolve().parent
QUALITIES = (5, 10, 20, 40, 75)
#: the recompressors, in the tables' order
TOOLS = ("vcn", "lepton", "brunsli", "jpegxl")
#: image sets: (embedded split, channels)
SETS = {"test_gray": ("test", 1), "test_rgb": ("test", 3), "val_gray": ("val", 1), "val_rgb": ("val", 3)}

Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]


def _pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        return np.asarray(im)


@cache
def _brunsli_decoder() -> Callable[[bytes], bytes] | None:
    """brunsli -> the original JPEG bytes, through ``DecodeBrunsli`` of the libbrunslidec that imagecodecs
    bundles (its ``brunsli_decode`` returns pixels only); None where that library is not found."""
    import imagecodecs

    libs = Path(imagecodecs.__file__).resolve().parent.parent / "imagecodecs.libs"
    found = sorted(glob.glob(str(libs / "libbrunslidec-c*.so*")))
    if not found:
        return None
    lib = ctypes.CDLL(found[0])
    sink_fn = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
    lib.DecodeBrunsli.argtypes = [ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p, sink_fn]
    lib.DecodeBrunsli.restype = ctypes.c_int

    def decode(data: bytes) -> bytes:
        out = bytearray()

        def write(_: int, buf: Any, size: int) -> int:
            out.extend(ctypes.string_at(buf, size))
            return size

        if lib.DecodeBrunsli(len(data), data, None, sink_fn(write)) != 1:  # BRUNSLI_OK
            raise ValueError("DecodeBrunsli failed")
        return bytes(out)

    return decode


def recompressors() -> dict[str, Codec]:
    """(compress, decompress) of each third-party tool this environment has, by name."""
    out: dict[str, Codec] = {}
    try:
        import lepton_jpeg_python as lepton

        out["lepton"] = (lambda j: bytes(lepton.compress_bytes(j)), lambda d: bytes(lepton.decompress_bytes(d)))
    except ImportError:
        pass
    try:
        import imagecodecs
    except ImportError:
        return out
    if imagecodecs.BRUNSLI.available and _brunsli_decoder() is not None:
        out["brunsli"] = (lambda j: bytes(imagecodecs.brunsli_encode(j)), _brunsli_decoder())
    if imagecodecs.JPEGXL.available:
        out["jpegxl"] = (lambda j: bytes(imagecodecs.jpegxl_encode_jpeg(j, usecontainer=False)),
                         lambda d: bytes(imagecodecs.jpegxl_decode_jpeg(d)))
    return out


def jpeg_file(x: Tensor, quality: int) -> tuple[bytes, Header]:
    """Huffman-optimised JPEG of a (C, H, W) image and the SCIC header vcnlit stores it under."""
    codec = StandardCodec("jpeg", quality, optimize=True, subsampling=2)
    c, h, w = x.shape
    return codec.encode(x, quality), Header("scic", "jpeg", c, h, w, float(quality), codec.header_params(c))


def recompress(jpeg: bytes, header: Header, tools: dict[str, Codec]) -> dict[str, Any]:
    """Bytes of ``jpeg`` in a ``.vcn`` file and through each tool, and how exactly each gives it back."""
    vcn = pack(header, jpeg)
    back = unpack(vcn)[1]
    row: dict[str, Any] = {"jpeg": len(jpeg), "vcn": len(vcn),
                           "vcn_exact": "bytes" if back == jpeg else
                           "pixels" if np.array_equal(_pixels(back), _pixels(jpeg)) else "no"}
    for name, (enc, dec) in tools.items():
        data = enc(jpeg)
        row[name], row[f"{name}_exact"] = len(data), "bytes" if dec(data) == jpeg else "no"
    return row


def run(qualities: tuple[int, ...], cache_dir: Path, quick: bool = False) -> dict[str, Any]:
    tools = recompressors()
    splits = materialize(cache_dir)
    out: dict[str, Any] = {}
    for set_name, (split, channels) in SETS.items():
        images = load_folder(splits[split], channels, "data.test_dir")
        if quick:
            images = [(n, x[:, :64, :96]) for n, x in images[:1]]
        rows = []
        for name, x in images:
            for q in qualities:
                rows.append({"image": name, "quality": q, **recompress(*jpeg_file(x, q), tools)})
        out[set_name] = {"images": [n for n, _ in images], "rows": rows, "totals": totals(rows, qualities, tools)}
        print(f"{set_name}: " + ", ".join(f"{t} {_saving(out[set_name]['totals']['all'], t)}"
                                          for t in ("vcn", *tools)), flush=True)
    return out


def totals(rows: list[dict[str, Any]], qualities: tuple[int, ...], tools: dict[str, Codec]) -> dict[str, Any]:
    """Summed bytes of each quality's files (and of all of them), and whether every round trip was exact."""
    groups = {**{str(q): [r for r in rows if r["quality"] == q] for q in qualities}, "all": rows}
    return {key: {**{t: sum(r[t] for r in keep) for t in ("jpeg", "vcn", *tools)},
                  **{f"{t}_exact": sorted({r[f"{t}_exact"] for r in keep}) for t in ("vcn", *tools)}}
            for key, keep in groups.items()}


def _saving(t: dict[str, Any], tool: str) -> str:
    return f"{100 * (1 - t[tool] / t['jpeg']):.1f} %" if tool in t else "n/a"


def render(results: dict[str, Any]) -> str:
    """RECOMPRESS.md: the savings per image set and quality."""
    tools = [t for t in TOOLS if any(t in s["totals"]["all"] for s in results["sets"].values())]
    counts = {name.split("_")[0]: len(s["images"]) for name, s in results["sets"].items()}
    lines = ["# Lossless JPEG recompression: the `.vcn` container against Lepton, brunsli and JPEG XL", "",
             f"Generated by `{results['command']}` at commit {results['git_commit'] or 'unknown'} "
             f"({results['date']}); numbers in `recompress.json`.", "",
             "Huffman-optimised JPEG files (libjpeg through Pillow, the standard's tables, 4:2:0 in colour) of "
             f"the embedded test images ({counts.get('test')}) and val photos ({counts.get('val')}). Each cell: the saving, 1 - bytes / JPEG bytes, "
             "over all images of the set at that quality. Every round trip is checked: Lepton, brunsli and "
             "JPEG XL give the JPEG back byte for byte; a `.vcn` file gives back a JPEG with the same "
             "coefficients (its own Huffman tables), which decodes to the same pixels. "
             f"Versions: {', '.join(f'{k} {v}' for k, v in results['tools'].items())}.", ""]
    head = ["set", "quality", "JPEG bytes", *tools]
    lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for set_name, s in results["sets"].items():
        for key, t in s["totals"].items():
            cells = [set_name, key, str(t["jpeg"]), *(_saving(t, tool) + _flag(t, tool) for tool in tools)]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Round trips: every cell is exact (`bytes`; `.vcn`: `pixels`) unless marked `!`."]
    return "\n".join(lines) + "\n"


def _flag(t: dict[str, Any], tool: str) -> str:
    want = ["pixels", "bytes"] if tool == "vcn" else ["bytes"]
    return "" if set(t.get(f"{tool}_exact", [])) <= set(want) else " !"


def tool_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for p in ("lepton-jpeg-python", "imagecodecs"):
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    try:
        import imagecodecs

        out.update(libjxl=imagecodecs.jpegxl_version().split()[-1], brunsli=imagecodecs.brunsli_version().split()[-1])
    except (ImportError, AttributeError):
        pass
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--qualities", type=int, nargs="+", default=list(QUALITIES))
    p.add_argument("--cache", type=Path, default=Path("~/.cache/vcnlit/embedded"), help="the embedded set's folder")
    p.add_argument("--out", type=Path, default=HERE, help="folder for recompress.json and RECOMPRESS.md")
    p.add_argument("--quick", action="store_true", help="one small crop per set: checks the script, no real figures")
    a = p.parse_args(argv)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": portable(" ".join(["python -m benchmarks.bench_recompress", *(argv if argv is not None else sys.argv[1:])])),
        "git_commit": git_commit(), "versions": versions(), "tools": tool_versions(),
        "qualities": a.qualities, "quick": a.quick,
        "sets": run(tuple(a.qualities), a.cache, a.quick),
    }
    results["seconds"] = time.perf_counter() - start
    a.out.mkdir(parents=True, exist_ok=True)
    write_results(a.out / "recompress.json", results)
    (a.out / "RECOMPRESS.md").write_text(render(results))
    print(f"wrote {a.out / 'recompress.json'} and {a.out / 'RECOMPRESS.md'} ({results['seconds']:.0f} s)")
    return results


if __name__ == "__main__":
    main()
