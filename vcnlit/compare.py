"""``vcnlit compare``: one photo coded by a vcnlit model and by the standard codecs at the same file size,
written as an HTML page, a PNG sheet of the crops where the codecs differ most, and the photo's RD plot.

The model codes at the largest file of at most ``--bpp`` (as ``vcnlit compress --bpp``); each standard codec
then codes at its highest setting whose real file is at or under the model's file. Every number comes from a
real file and its real decode.
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.codecs.registry import build_codec
from vcnlit.errors import ConfigError
from vcnlit.eval.metrics import bpp, distortion, psnr
from vcnlit.io import write_bytes
from vcnlit.pixels import to_uint8

log = logging.getLogger("vcnlit")

#: the file size compared when ``--bpp`` is not given, in bits per pixel of the photo
DEFAULT_BPP = 0.25
#: crops on the sheet, their side (photo pixels; smaller photos get smaller crops) and their zoom
CROPS, CROP_SIDE, ZOOM = 3, 128, 2
#: a standard codec's RD curve reaches this multiple of the compared size
RD_REACH = 4.0


def _log_grid(large: float, small: float, n: int) -> list[float]:
    """``n`` values from ``large`` down to ``small``, evenly spaced in log (rounded to 3 significant digits)."""
    return [float(f"{large * (small / large) ** (i / (n - 1)):.3g}") for i in range(n)]


@dataclass(frozen=True)
class Standard:
    """A standard codec as compared: its name, settings, rate knob (its word and its values, along which files
    grow) and file extension."""

    name: str
    spec: dict
    knob: str
    grid: list[float]
    suffix: str

    @property
    def key(self) -> str:
        return str(self.spec["format"])


#: the codecs compared, in the sheet's order: JPEG as people use it (libjpeg, Huffman-optimised, 4:2:0), WebP
#: and AVIF (Pillow), JPEG XL (libjxl through imagecodecs), JPEG 2000 (OpenJPEG; its knob is a compression ratio)
STANDARDS = (
    Standard("JPEG", {"format": "jpeg", "optimize": True, "subsampling": 2}, "quality",
             [float(q) for q in range(1, 96)], ".jpg"),
    Standard("WebP", {"format": "webp"}, "quality", [float(q) for q in range(0, 101)], ".webp"),
    Standard("AVIF", {"format": "avif"}, "quality", [float(q) for q in range(0, 101)], ".avif"),
    Standard("JPEG XL", {"format": "jpegxl"}, "distance", _log_grid(25.0, 0.1, 192), ".jxl"),
    Standard("JPEG 2000", {"format": "jpeg2000"}, "ratio", _log_grid(400.0, 2.0, 192), ".jp2"),
)


@dataclass
class Coded:
    """One file of the photo and what it decodes to."""

    name: str  # what the sheet and page call it
    setting: str  # its rate knob, e.g. "quality 41"
    data: bytes
    file: str  # its file name
    image: Tensor  # decoded, (C, H, W) in [0, 1]
    psnr: float
    ms_ssim: float

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "")


@dataclass
class Outcome:
    """The comparison: the photo's files (the model's first), the codecs that cannot reach the size, the RD
    curves and the crops."""

    coded: list[Coded]
    too_large: dict[str, int]  # codec -> its smallest file, in bytes, when larger than the model's
    curves: list[dict]
    crops: list[tuple[int, int, int]]  # (top, left, side) in photo pixels


def largest_within(size: Callable[[int], int], n: int, max_bytes: int) -> int | None:
    """The highest index ``i < n`` with ``size(i) <= max_bytes`` for sizes that grow with the index (a binary
    search: about ``log2(n)`` calls), or None when even ``size(0)`` is larger."""
    if size(0) > max_bytes:
        return None
    small, large = 0, n - 1
    if size(large) <= max_bytes:
        return large
    while large - small > 1:  # size(small) fits, size(large) does not
        mid = (small + large) // 2
        small, large = (mid, large) if size(mid) <= max_bytes else (small, mid)
    return small


class _Files:
    """A codec's files of one photo at settings of its grid, each encoded once."""

    def __init__(self, codec: Codec, grid: Sequence[float], x: Tensor) -> None:
        self.codec, self.grid, self.x = codec, grid, x
        self.encoded: dict[int, bytes] = {}

    def __call__(self, i: int) -> bytes:
        if i not in self.encoded:
            self.encoded[i] = self.codec.encode(self.x, self.grid[i])
        return self.encoded[i]

    def size(self, i: int) -> int:
        return len(self(i))

    def decode(self, i: int) -> Tensor:
        return self.codec.decode(self(i), tuple(self.x.shape), self.grid[i])


def _measure(x: Tensor, x_hat: Tensor) -> tuple[float, float]:
    p, _, ms = distortion(x_hat[None], x[None])
    return p, ms


def _curve(name: str, sizes: Sequence[int], decoded: Sequence[Tensor], x: Tensor, meta: dict) -> dict:
    """A results dict (CompressAI layout) of one photo: bpp and PSNR at each point."""
    h, w = x.shape[-2:]
    return {"name": name, "meta": meta, "results": {
        "bpp": [bpp(n, h, w) for n in sizes], "psnr": [float(psnr(d[None], x[None])[0]) for d in decoded]}}


def load_group(model_name: str | None, colour: bool):
    """The models ``--model`` names as a :class:`~vcnlit.multirate.MultiRate` (a zoo composite's members, or one
    model; None: the default for a colour or grayscale photo), as ``vcnlit compress --bpp`` codes with them."""
    from vcnlit.checkpoint import load_model
    from vcnlit.compressor import Compressor
    from vcnlit.multirate import MultiRate, member
    from vcnlit.zoo import composite, default_model, resolve

    group = composite(model_name, colour)
    names = list(group.members) if group else [model_name or default_model(colour)]
    members = []
    for n in names:
        m = load_model(resolve(n, colour))
        members.append(member(m.experiment if Path(n).is_file() else n, m,
                              Compressor(m.system, m.codec, tile_size=m.tile_size), **(group.options(n) if group else {})))
    return MultiRate(group.name if group else members[0].name, members)


def code_model(x: Tensor, group, max_bytes: int, stem: str) -> tuple[Coded, list[dict]]:
    """The group's best ``.vcn`` file of at most ``max_bytes`` (``vcnlit compress --bpp``), decoded from its
    bytes, and each member's RD curve at its trained rate points and the ends of its search."""
    from vcnlit.multirate import ImageMemo

    memo = ImageMemo()
    choice = group.compress_to_size(x, max_bytes, memo=memo, decode=True)
    m = choice.member
    who = f"{m.name}, " if len(group.members) > 1 else ""
    who += f"{'enlarged' if choice.resize > 1 else 'shrunk'} {choice.resize:.3g}x, " if choice.resize != 1 else ""
    coded = Coded("vcnlit", f"{who}{m.model.codec.rate_key} {choice.rate:g}", choice.data, f"{stem}.vcn",
                  choice.x_hat, *_measure(x, choice.x_hat))
    if choice.top and len(choice.data) < 0.95 * max_bytes:
        h, w = x.shape[-2:]
        log.warning("the target (%.3f bpp) is above what %s reaches on this photo: its best file is %.3f bpp, "
                    "the size every codec is compared at", bpp(max_bytes, h, w), group.name, bpp(len(choice.data), h, w))
    curves = []
    for m in group.members:
        points = sorted({*(float(r) for r in m.model.rate_points), m.top, m.bottom})
        trips = [m.comp.round_trip(x[None], r, y=memo.ys[m.name][None]) for r in points]
        curves.append(_curve(f"vcnlit {m.name}", [t.nbytes[0] for t in trips], [t.x_hat[0] for t in trips], x,
                             {"experiment": m.name, "scale": m.model.system.scale}))
    return coded, curves


def code_standard(x: Tensor, std: Standard, max_bytes: int, stem: str) -> tuple[Coded | int, dict]:
    """The codec's file at its highest setting at or under ``max_bytes`` (or, when none fits, the size of its
    smallest file), and its RD curve up to :data:`RD_REACH` times ``max_bytes``: the settings the searches for
    both sizes coded (bisection spreads them over the range and packs them near both sizes)."""
    codec = build_codec(std.spec, rate=std.grid[0])
    files = _Files(codec, std.grid, x)
    best = largest_within(files.size, len(std.grid), max_bytes)
    reach = largest_within(files.size, len(std.grid), int(RD_REACH * max_bytes))
    points = sorted(i for i in files.encoded if reach is None or i <= reach)
    decoded = {i: files.decode(i) for i in points}
    curve = _curve(std.name, [files.size(i) for i in points], [decoded[i] for i in points], x, {})
    if best is None:
        return files.size(0), curve
    x_hat = decoded[best]
    return Coded(std.name, f"{std.knob} {std.grid[best]:g}", files(best), f"{stem}{std.suffix}", x_hat,
                 *_measure(x, x_hat)), curve


def choose_crops(x: Tensor, decoded: Sequence[Tensor], count: int = CROPS, side: int = CROP_SIDE) -> list[tuple[int, int, int]]:
    """Up to ``count`` square crops, half a side apart or more, where the decoded images differ most: the
    largest spread (max - min over the images) of the window's RMS error, on a grid of a quarter of the side.

    Returns:
        ``(top, left, side)`` of each crop, the largest spread first.
    """
    h, w = x.shape[-2:]
    side = max(8, min(side, h // 2, w // 2) // 8 * 8) if min(h, w) >= 16 else min(h, w)
    stride = max(1, side // 4)
    err = torch.stack([(d - x).pow(2).mean(0) for d in decoded])[:, None]  # (N, 1, H, W)
    rmse = F.avg_pool2d(err, side, stride).sqrt()[:, 0]  # (N, rows, cols)
    spread = (rmse.max(0).values - rmse.min(0).values).numpy() if len(decoded) > 1 else rmse[0].numpy()
    chosen: list[tuple[int, int, int]] = []
    for k in np.argsort(-spread, axis=None):
        top, left = (int(v) * stride for v in np.unravel_index(k, spread.shape))
        if all(max(abs(top - t), abs(left - x0)) >= side * 3 // 2 for t, x0, _ in chosen):
            chosen.append((top, left, side))
            if len(chosen) == count:
                break
    return chosen


def run(src: Path, out: Path, target_bpp: float = DEFAULT_BPP, model_name: str | None = None,
        force: bool = False) -> tuple[Outcome, dict[str, Path]]:
    """Compare the photo ``src`` at ``target_bpp`` and write the page, sheet, RD plot and files into ``out``.

    Returns:
        The comparison and the paths written (``html``, ``sheet``, ``rd``, ``files``).
    """
    from vcnlit.data import load_image
    from vcnlit.data.images import is_colour
    from vcnlit.eval.progress import progress

    if not (math.isfinite(target_bpp) and target_bpp > 0):
        raise ConfigError(f"--bpp must be a positive number, got {target_bpp:g}")
    if not src.is_file():
        raise FileNotFoundError(f"{src} not found" if not src.exists() else f"{src} is not a file")
    paths = _outputs(src, out, force)
    colour = is_colour(src)
    group = load_group(model_name, colour)
    x = load_image(src, group.members[0].model.system.channels, warn_gray=False)
    h, w = x.shape[-2:]
    stem = src.stem
    with progress(f"coding {src.name}", 1 + len(STANDARDS)) as step:
        first, curves = code_model(x, group, math.floor(target_bpp * h * w / 8), stem)
        step()

        def standard(std: Standard) -> tuple[Coded | int, dict]:
            got = code_standard(x, std, len(first.data), stem)
            step()
            return got

        with ThreadPoolExecutor(2) as pool:  # the encoders release the GIL
            results = list(pool.map(standard, STANDARDS))
        coded, too_large = [first], {}
        for std, (got, curve) in zip(STANDARDS, results):
            curves.append(curve)
            if isinstance(got, Coded):
                coded.append(got)
            else:
                too_large[std.name] = got
    outcome = Outcome(coded, too_large, curves, choose_crops(x, [c.image for c in coded]))
    write(outcome, x, src, paths, group.name, target_bpp)
    return outcome, paths


def _outputs(src: Path, out: Path, force: bool) -> dict[str, Path]:
    """The paths written for ``src`` into the folder ``out`` (created, when its parent exists, by :func:`write`);
    refuses a folder that is a file or lies in a missing folder, outputs that exist (without ``force``) and the
    input itself."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--output {out} is a file; give a folder")
    if not out.exists() and not out.parent.is_dir():
        raise FileNotFoundError(f"--output {out}: its folder {out.parent} does not exist; create it first")
    stem = src.stem
    paths = {"html": out / f"{stem}.html", "sheet": out / f"{stem}.png", "rd": out / f"{stem}_rd.png",
             "files": out / f"{stem}_files"}
    for p in paths.values():
        if p.exists() and os.path.samefile(p, src):
            raise FileExistsError(f"{p} is the input photo; give another --output folder (nothing was written)")
    if not force and (existing := [str(p) for p in paths.values() if p.exists()]):
        raise FileExistsError(f"{existing[0]} exists; add --force to overwrite")
    if paths["files"].exists() and not paths["files"].is_dir():
        raise FileExistsError(f"{paths['files']} is a file; remove it or give another --output folder")
    return paths


def _crop(t: Tensor, box: tuple[int, int, int]) -> np.ndarray:
    top, left, side = box
    return to_uint8(t[:, top : top + side, left : left + side])


def _save_png(a: np.ndarray, path: Path) -> None:
    import io

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", optimize=True)
    write_bytes(path, buf.getvalue())


def write(outcome: Outcome, x: Tensor, src: Path, paths: dict[str, Path], model_name: str, target_bpp: float) -> None:
    """The coded files, the crops and the overview (under ``paths['files']``), the sheet, the RD plot and the page."""
    from vcnlit.eval.plots import plot_rd

    files = paths["files"]
    files.mkdir(parents=True, exist_ok=True)
    for c in outcome.coded:
        write_bytes(files / c.file, c.data)
    _save_png(_overview(x, outcome.crops), files / "overview.png")
    for k, box in enumerate(outcome.crops, 1):
        _save_png(_crop(x, box), files / f"crop{k}_original.png")
        for c in outcome.coded:
            _save_png(_crop(c.image, box), files / f"crop{k}_{c.slug}.png")
    h, w = x.shape[-2:]
    limit = len(outcome.coded[0].data)
    plot_rd(outcome.curves, paths["rd"], title=f"{src.name} ({w}x{h}): PSNR against file size",
            xmax=RD_REACH * bpp(limit, h, w), mark=bpp(limit, h, w))
    sheet(outcome, x, paths["sheet"], f"{src.name} ({w}x{h}): every file at most {limit:,} bytes "
          f"({bpp(limit, h, w):.3f} bpp); crops at {ZOOM}x")
    write_bytes(paths["html"], page(outcome, x, src, paths, model_name, target_bpp).encode())


def _overview(x: Tensor, crops: Sequence[tuple[int, int, int]], width: int = 512) -> np.ndarray:
    """The photo (at most ``width`` wide) with each crop's box and number."""
    im = Image.fromarray(to_uint8(x)).convert("RGB")
    f = min(1.0, width / im.width)
    im = im.resize((round(im.width * f), round(im.height * f)), Image.LANCZOS) if f < 1 else im
    draw = ImageDraw.Draw(im)
    for k, (top, left, side) in enumerate(crops, 1):
        box = [left * f, top * f, (left + side) * f - 1, (top + side) * f - 1]
        draw.rectangle(box, outline=(255, 40, 40), width=2)
        draw.text((box[0] + 4, box[1] + 2), str(k), fill=(255, 40, 40))
    return np.asarray(im)


def _label(c: Coded, x: Tensor) -> str:
    h, w = x.shape[-2:]
    ms = "n/a" if math.isnan(c.ms_ssim) else f"{c.ms_ssim:.4f}"
    return f"{len(c.data):,} B, {bpp(len(c.data), h, w):.3f} bpp\nPSNR {c.psnr:.2f} dB, MS-SSIM {ms}"


def sheet(outcome: Outcome, x: Tensor, path: Path, title: str) -> Path:
    """One PNG: a row per crop, a column for the original and each file, the crops at :data:`ZOOM` times their
    size pixel for pixel; each column headed by its codec, bytes, PSNR and MS-SSIM (of the whole photo)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi, gap, left, head, top = 100, 8, 30, 62, 34
    side = outcome.crops[0][2] if outcome.crops else 0
    cell = side * ZOOM
    cols = [("original", "", x)] + [(c.name, _label(c, x), c.image) for c in outcome.coded]
    width = left + len(cols) * (cell + gap) + gap
    height = top + head + len(outcome.crops) * (cell + gap) + gap
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    fig.text(gap / width, 1 - 8 / height, title, ha="left", va="top", fontsize=13)
    gray = x.shape[0] == 1
    for j, (name, label, image) in enumerate(cols):
        x0 = left + j * (cell + gap) + gap
        fig.text(x0 / width, 1 - (top + 2) / height, name, ha="left", va="top", fontsize=12, weight="bold")
        fig.text(x0 / width, 1 - (top + 20) / height, label, ha="left", va="top", fontsize=9.5, linespacing=1.3)
        for i, box in enumerate(outcome.crops):
            y0 = height - (top + head + i * (cell + gap) + cell)
            ax = fig.add_axes((x0 / width, y0 / height, cell / width, cell / height))
            ax.imshow(_crop(image, box), interpolation="nearest", cmap="gray" if gray else None, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                fig.text((left - 6) / width, (y0 + cell / 2) / height, f"{i + 1}: x {box[1]}, y {box[0]}", rotation=90,
                         ha="right", va="center", fontsize=9.5)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def page(outcome: Outcome, x: Tensor, src: Path, paths: dict[str, Path], model_name: str, target_bpp: float) -> str:
    """The HTML page: the table of files, the crops side by side and the RD plot; every link relative."""
    from vcnlit import __version__

    h, w = x.shape[-2:]
    esc = html.escape

    def link(p: Path | str) -> str:
        return esc(quote(Path(p).relative_to(paths["html"].parent).as_posix() if isinstance(p, Path) else p))

    files = paths["files"]
    rows = "\n".join(
        f"<tr><td>{esc(c.name)}</td><td>{esc(c.setting)}</td><td><a href=\"{link(files / c.file)}\">{esc(c.file)}</a>"
        f"</td><td>{len(c.data):,}</td><td>{bpp(len(c.data), h, w):.4f}</td><td>{c.psnr:.2f}</td>"
        f"<td>{'n/a' if math.isnan(c.ms_ssim) else f'{c.ms_ssim:.4f}'}</td></tr>" for c in outcome.coded)
    missing = "".join(f"<p>{esc(n)}: its smallest file, {b:,} bytes, is larger than the model's; left out.</p>"
                      for n, b in outcome.too_large.items())
    crops = []
    for k, (top, left, side) in enumerate(outcome.crops, 1):
        figs = [("original", "", f"crop{k}_original.png")] + [
            (c.name, f"{len(c.data):,} B, {c.psnr:.2f} dB", f"crop{k}_{c.slug}.png") for c in outcome.coded]
        cells = "".join(f"<figure><img src=\"{link(files / f)}\" width=\"{side * ZOOM}\" height=\"{side * ZOOM}\" "
                        f"alt=\"{esc(n)}\"><figcaption><b>{esc(n)}</b><br>{esc(s)}</figcaption></figure>"
                        for n, s, f in figs)
        crops.append(f"<h3>Crop {k} (x {left}, y {top}, {side}x{side} at {ZOOM}x)</h3><div class=\"row\">{cells}</div>")
    limit = len(outcome.coded[0].data)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(src.name)}: vcnlit and the standard codecs at {limit:,} bytes</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }}
td:first-child, th:first-child, td:nth-child(2), td:nth-child(3) {{ text-align: left; }}
.row {{ display: flex; flex-wrap: wrap; gap: 8px; }} figure {{ margin: 0; }}
figure img {{ image-rendering: pixelated; display: block; }} figcaption {{ font-size: 0.85em; }}
</style></head><body>
<h1>{esc(src.name)} ({w}x{h}) at {limit:,} bytes ({bpp(limit, h, w):.4f} bpp)</h1>
<p>The photo coded by vcnlit's model {esc(model_name)} at the largest file of at most {target_bpp:g} bpp, and by each
standard codec at its highest setting whose file is at or under the model's. PSNR and MS-SSIM on the whole photo
(8 bits a sample); every file below is the one measured (the <code>.vcn</code> file decodes with
<code>vcnlit decompress</code>, the others with any viewer of their format).</p>
<table><tr><th>codec</th><th>setting</th><th>file</th><th>bytes</th><th>bpp</th><th>PSNR (dB)</th><th>MS-SSIM</th></tr>
{rows}
</table>
{missing}
<h2>Where they differ most</h2>
<p><img src="{link(files / 'overview.png')}" alt="the photo with the crops marked" style="max-width: 100%"></p>
{''.join(crops)}
<p>The same crops as one picture: <a href="{link(paths['sheet'])}">{esc(paths['sheet'].name)}</a>.</p>
<h2>Rate-distortion on this photo</h2>
<p><img src="{link(paths['rd'])}" alt="PSNR against bits per pixel" style="max-width: 100%"></p>
<p><small>vcnlit {esc(__version__)}: <code>vcnlit compare {esc(src.name)} --bpp {target_bpp:g}</code></small></p>
</body></html>
"""


def report(outcome: Outcome, paths: dict[str, Path]) -> str:
    """What ``vcnlit compare`` prints: a line per file and the paths written."""
    wide = max(len(c.setting) for c in outcome.coded)
    lines = [f"{c.name:<10} {c.setting:<{wide}} {len(c.data):>9,} B  PSNR {c.psnr:6.2f} dB  MS-SSIM "
             f"{'n/a' if math.isnan(c.ms_ssim) else f'{c.ms_ssim:.4f}'}" for c in outcome.coded]
    lines += [f"{n:<10} left out: its smallest file, {b:,} B, is larger than the model's" for n, b in outcome.too_large.items()]
    return "\n".join([*lines, f"wrote {paths['html']}, {paths['sheet']}, {paths['rd']} and {paths['files']}/"])
