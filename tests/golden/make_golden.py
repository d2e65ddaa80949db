"""Write the golden streams of one commit into tests/golden and record them in manifest.json.

Each bitstream format is pinned by streams made with the code of the commit that defined it::

    git worktree add ../golden-<sha> <sha>
    PYTHONPATH=../golden-<sha> .venv/bin/python tests/golden/make_golden.py <sha>
    git worktree remove ../golden-<sha>

``current`` instead of a commit writes the streams of today's code for the current container version
(what ``VCNLIT_REGEN_GOLDEN=1`` rewrites); ``zoo`` records each zoo model's bytes and its stream and
PSNR on one crop (tests/golden/zoo.py). The streams are codec-level: the codec's payload of a small
input image (tests/golden/inputs) in the container with a fixed fingerprint, no trained model. The
decoded digest is what the making commit's own decoder gives (unpack + the codec's decode).

This script imports only the ``vcnlit`` on the path (the commit's) and the standard library besides
numpy, torch and Pillow, so it runs unchanged against every commit it names.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image

GOLDEN = Path(__file__).resolve().parent
MANIFEST = GOLDEN / "manifest.json"
#: header fingerprint of every codec-level golden stream
FINGERPRINT = b"golden\x00\x01"


class Case(NamedTuple):
    name: str  # file name without .vcn
    image: str  # tests/golden/inputs/<image>.png; gray images code one channel
    spec: dict[str, Any]  # the codec: format plus constructor settings
    rate: float
    note: str = ""
    out_size: tuple[int, int] | None = None  # the header's output size (container 6)


_BAND = {"format": "dct"}
_CONTEXT = {"format": "dct", "entropy": "context"}
_COLOUR = {**_CONTEXT, "colour": "ycbcr420"}
_JPEG = {"format": "jpeg"}
_PSNR = {"format": "jpeg", "tables": "psnr"}
_PSNR_RGB = {"format": "jpeg", "tables": "psnr_rgb"}
_AVIF = {"format": "avif"}

#: the streams each format-defining commit made (short sha -> cases); "current": today's code
CASES: dict[str, list[Case]] = {
    "da824af": [  # container 1, DNNC per-band histograms, JPEG payload whole
        Case("dnnc-band-gray", "camera", _BAND, 8.0),
        Case("dnnc-band-rgb", "astronaut", _BAND, 12.0),
        Case("jpeg-gray", "camera", _JPEG, 50),
    ],
    "8c069a1": [  # container 2: payload CRC
        Case("dnnc-band-gray", "camera", _BAND, 8.0),
        Case("dnnc-band-rgb", "astronaut", _BAND, 12.0),
        Case("jpeg-rgb", "astronaut", _JPEG, 40),
    ],
    "ceaf2cf": [  # container 3: the DNNC context model as first shipped
        Case("dnnc-context-gray", "camera", _CONTEXT, 6.0),
        Case("dnnc-context-ycbcr420", "astronaut", _COLOUR, 10.0),
    ],
    "5cff516": [  # container 3 still: the context model with the diagonal parent in its activity
        Case("dnnc-context-gray", "camera", _CONTEXT, 6.0),
        Case("dnnc-context-ycbcr420", "astronaut", _COLOUR, 10.0),
        Case("dnnc-context-ycbcr-jpegq", "astronaut", {**_CONTEXT, "colour": "ycbcr", "qmatrix": "jpeg"}, 6.0),
    ],
    "90205a3": [  # container 4: compact header, JPEG payload coding 1
        Case("jpeg-gray", "camera", _JPEG, 50),
        Case("jpeg-rgb", "astronaut", _JPEG, 40),
        Case("dnnc-context-ycbcr420", "astronaut", _COLOUR, 10.0),
    ],
    "2f01ef7": [  # payload coding 2: JPEG coefficients context coded
        Case("jpeg-gray", "camera", _JPEG, 90),
        Case("jpeg-rgb", "astronaut", _JPEG, 85),
    ],
    "ddb1a1a": [  # the psnr JPEG table set
        Case("jpeg-psnr-gray", "camera", _PSNR, 90),
        Case("jpeg-psnr-rgb", "astronaut", _PSNR, 50),
    ],
    "current": [
        Case("dnnc-band-gray", "camera", _BAND, 8.0),
        Case("dnnc-band-rgb", "astronaut", _BAND, 12.0),
        Case("dnnc-context-gray", "camera", {**_CONTEXT, "deadzone": 0.45, "deadzone_hf": 0.1}, 6.0),
        Case("dnnc-context-ycbcr420", "astronaut", {**_COLOUR, "deadzone": 0.45, "deadzone_hf": 0.1}, 10.0),
        Case("dnnc-context-ycbcr-jpegq", "astronaut", {**_CONTEXT, "colour": "ycbcr", "qmatrix": "jpeg",
                                                       "qmatrix_power": 0.5}, 6.0),
        Case("jpeg-gray", "camera", _JPEG, 50),
        Case("jpeg-gray-q90", "camera", _JPEG, 90),
        Case("jpeg-rgb", "astronaut", _JPEG, 40),
        Case("jpeg-rgb-q85", "astronaut", _JPEG, 85),
        Case("jpeg-rgb-444", "astronaut", {**_JPEG, "subsampling": 0}, 60),
        Case("jpeg-psnr-gray", "camera", _PSNR, 90),
        Case("jpeg-psnr-rgb", "astronaut", _PSNR, 50),
        Case("jpeg-deadzone-rgb", "astronaut", {**_PSNR, "deadzone": 0.4, "deadzone_hf": 0.2}, 50,
             "vcnlit's dead-zone JPEG encoder (an encoder choice: a plain baseline JPEG)"),
        Case("jpeg-psnr_rgb-gray", "camera", _PSNR_RGB, 90, "container 5: the psnr_rgb table set"),
        Case("jpeg-psnr_rgb-rgb", "astronaut", _PSNR_RGB, 50, "container 5: the psnr_rgb table set"),
        Case("jpeg-psnr_rgb-gray-out", "camera", _PSNR_RGB, 90, "container 6: an output size", (75, 90)),
        Case("jpeg-psnr_rgb-rgb-out", "astronaut", _PSNR_RGB, 50, "container 6: an output size", (200, 150)),
        Case("avif-gray", "camera", _AVIF, 60, "an AVIF payload (libavif through Pillow), stored whole"),
        Case("avif-rgb", "astronaut", _AVIF, 40, "an AVIF payload (libavif through Pillow), stored whole"),
        Case("avif-rgb-out", "astronaut", _AVIF, 30, "an AVIF payload, container 6: an output size", (200, 150)),
    ],
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signal_digest(x: torch.Tensor) -> str:
    """sha256 of a decoded tensor's exact bytes (C-contiguous)."""
    return sha256(x.detach().contiguous().numpy().tobytes())


def load_input(name: str) -> torch.Tensor:
    """A stored input image as a (C, H, W) float32 tensor in [0, 1] (``x / 255``)."""
    with Image.open(GOLDEN / "inputs" / f"{name}.png") as im:
        a = np.array(im)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(a)).to(torch.float32) / 255.0


def container_fields(data: bytes) -> tuple[int, int]:
    """(container version, payload coding) of a stream; versions 1-3 store payloads whole (coding 0)."""
    version = data[4]
    if version < 4:
        return version, 0
    pos, hlen, shift = 5, 0, 0
    while True:
        b = data[pos]
        hlen |= (b & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if b < 0x80:
            break
    if version < 6:
        return version, data[pos + hlen - 9]  # the header ends with the coding byte and the fingerprint
    return version, data[data.rindex(FINGERPRINT, pos, pos + hlen) - 1]  # ... then (version 6) the output size


def git_commit(path: Path) -> str:
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def read_manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {"streams": {}}


def write_manifest(manifest: dict[str, Any]) -> None:
    manifest["streams"] = dict(sorted(manifest["streams"].items()))
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")


def _codec(spec: dict[str, Any], rate: float):
    from vcnlit.codecs import DnncCodec, StandardCodec

    kw = {k: v for k, v in spec.items() if k != "format"}
    if spec["format"] == "dct":
        return DnncCodec(step=rate, **kw)
    return StandardCodec(format=spec["format"], quality=rate, **kw)


def _header_params(codec, channels: int) -> dict[str, Any]:
    """What the making commit's Compressor put in a header (params() before header_params existed)."""
    fn = getattr(codec, "header_params", None)
    if fn is None:
        return codec.params()
    return fn(channels) if "channels" in inspect.signature(fn).parameters else fn()


def make(case: Case) -> tuple[bytes, torch.Tensor]:
    """The stream of one case and what this code decodes it to."""
    from vcnlit.codecs import Header, pack, unpack

    y = load_input(case.image)
    codec = _codec(case.spec, case.rate)
    c, h, w = y.shape
    header = Header(mode=codec.mode, codec=codec.name, channels=c, height=h, width=w, rate=float(case.rate),
                    params=_header_params(codec, c), fingerprint=FINGERPRINT,
                    **({"out_size": case.out_size} if case.out_size else {}))
    data = pack(header, codec.encode(y, case.rate))
    hdr, payload = unpack(data)
    return data, codec.decode(payload, (c, h, w), hdr.rate)


def entry(data: bytes, decoded: torch.Tensor, commit: str, case: Case) -> dict[str, Any]:
    version, coding = container_fields(data)
    return {
        "commit": commit,
        "version": version,
        "coding": coding,
        "codec": case.spec,
        "rate": case.rate,
        "input": f"inputs/{case.image}.png",
        "bytes": len(data),
        "sha256": sha256(data),
        "decoded_shape": list(decoded.shape),
        "decoded_dtype": str(decoded.dtype).removeprefix("torch."),
        "decoded_sha256": signal_digest(decoded),
        **({"out_size": list(case.out_size)} if case.out_size else {}),
        **({"note": case.note} if case.note else {}),
    }


def folder(label: str, data: bytes) -> str:
    """Where a stream goes: the short sha of the commit that made it, or v<N> for today's code (N: the
    stream's container version)."""
    return label if label != "current" else f"v{container_fields(data)[0]}"


def generate(label: str, pinned: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Write the streams of ``label`` (a key of :data:`CASES`) and return their manifest entries. A stream
    already pinned keeps its file and entry (the commit that made it); one that today's code makes
    differently stops the script: a changed format needs a new container version, never a rewrite."""
    import vcnlit

    source = Path(vcnlit.__file__).resolve().parents[1]
    commit = git_commit(source)
    if label != "current" and not commit.startswith(label):
        raise SystemExit(f"vcnlit on the path is at {commit[:7]}, not {label}: set PYTHONPATH to its worktree")
    torch.set_num_threads(1)
    out: dict[str, dict[str, Any]] = {}
    for case in CASES[label]:
        data, decoded = make(case)
        rel = f"streams/{folder(label, data)}/{case.name}.vcn"
        if rel in pinned:
            if pinned[rel]["sha256"] != sha256(data) or pinned[rel]["decoded_sha256"] != signal_digest(decoded):
                raise SystemExit(f"{rel}: today's code makes another stream or signal than the pinned one")
            continue
        (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
        (GOLDEN / rel).write_bytes(data)
        out[rel] = entry(data, decoded, commit, case)
    return out


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in (*CASES, "zoo"):
        raise SystemExit(f"usage: make_golden.py {{{','.join(CASES)},zoo}}")
    manifest = read_manifest()
    if argv[0] == "zoo":
        sys.path.insert(0, str(GOLDEN))
        from zoo import zoo_record

        manifest["zoo"] = zoo_record()
    else:
        manifest["streams"].update(generate(argv[0], manifest["streams"]))
    write_manifest(manifest)


if __name__ == "__main__":
    main(sys.argv[1:])
