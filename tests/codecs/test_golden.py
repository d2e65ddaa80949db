"""Golden streams: every stored stream (tests/golden, made by the commit that defined its format) decodes with
today's code to exactly the signal its maker decoded, and the format-defining values match the digest pinned
for the current container version.

``VCNLIT_REGEN_GOLDEN=1`` first rewrites what today's code makes (the streams of tests/golden/streams/v<N>,
the zoo record, and the format digest of a container version not pinned yet); nothing is written without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vcnlit.codecs import unpack
from vcnlit.codecs.container import FORMAT_VERSION
from vcnlit.codecs.formats import format_digest
from vcnlit.codecs.rate_proxy import JPEG_TABLES
from vcnlit.codecs.registry import build_codec

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REGEN = os.environ.get("VCNLIT_REGEN_GOLDEN") == "1"


def _regenerate() -> None:
    """Today's streams, the zoo record and a new version's format digest, written by make_golden.py."""
    for what in ("current", "zoo"):
        subprocess.run([sys.executable, str(GOLDEN / "make_golden.py"), what], check=True)
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    manifest.setdefault("format_digests", {}).setdefault(str(FORMAT_VERSION), format_digest())
    (GOLDEN / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if REGEN:
    _regenerate()
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())


def decode(data: bytes) -> torch.Tensor:
    """A stream's decoded signal, as Compressor.decompress gets it (its header's codec, the header's size)."""
    hdr, payload = unpack(data)
    codec = build_codec({**hdr.params, "format": hdr.codec}, rate=hdr.rate)
    return codec.decode(payload, (hdr.channels, hdr.height, hdr.width), hdr.rate)


@pytest.mark.parametrize("name", sorted(MANIFEST["streams"]))
def test_golden_stream_decodes(name: str, one_thread: None) -> None:
    want = MANIFEST["streams"][name]
    data = (GOLDEN / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == want["sha256"], f"{name}: the stored file changed"
    version = data[4]
    assert version == want["version"]
    assert unpack(data)[0].out_size == (tuple(want["out_size"]) if "out_size" in want else None)
    z = decode(data)
    assert [list(z.shape), str(z.dtype)] == [want["decoded_shape"], "torch." + want["decoded_dtype"]]
    got = hashlib.sha256(z.contiguous().numpy().tobytes()).hexdigest()
    assert got == want["decoded_sha256"], f"{name} (made at {want['commit'][:7]}) no longer decodes to its signal"


def test_every_format_has_golden_streams() -> None:
    """Each container version, each payload coding, gray and colour, both JPEG table sets and both DNNC
    entropy models are pinned; each of today's streams records a stored file."""
    entries = MANIFEST["streams"].values()
    assert {e["version"] for e in entries} >= {1, 2, 3, FORMAT_VERSION}
    assert {e["coding"] for e in entries} == {0, 1, 2}
    jpeg = [e for e in entries if e["codec"]["format"] == "jpeg"]
    assert {(e.get("coding"), e["input"]) for e in jpeg if e["version"] == FORMAT_VERSION} >= {
        (2, "inputs/camera.png"), (2, "inputs/astronaut.png")}
    assert {e["codec"].get("tables", "standard") for e in jpeg} == set(JPEG_TABLES)
    dnnc = [e for e in entries if e["codec"]["format"] == "dct"]
    assert {(e["codec"].get("entropy", "band"), e["version"]) for e in dnnc} >= {
        ("band", 1), ("band", 2), ("context", 3), ("context", 4)}  # DNNC streams stay version 4
    for name in MANIFEST["streams"]:
        assert (GOLDEN / name).is_file(), name
    assert sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file()) < 1 << 20


def test_format_digest_pinned() -> None:
    """A change to a format-defining value (vcnlit/codecs/formats.py) needs a new container version; the
    values of every earlier version from 4 on (the same layout, fewer table sets) stay as they were."""
    digests = MANIFEST.get("format_digests", {})
    pinned = digests.get(str(FORMAT_VERSION))
    assert pinned is not None, f"no format digest pinned for container version {FORMAT_VERSION}: run with VCNLIT_REGEN_GOLDEN=1"
    assert format_digest() == pinned, (
        f"a format-defining value changed (vcnlit/codecs/formats.py) but FORMAT_VERSION is still {FORMAT_VERSION}: "
        "bump FORMAT_VERSION in vcnlit/codecs/container.py and add golden files (VCNLIT_REGEN_GOLDEN=1)")
    assert set(digests) >= {str(v) for v in range(4, FORMAT_VERSION + 1)}
    for version, digest in digests.items():
        assert format_digest(int(version)) == digest, f"a format-defining value of container version {version} changed"


def test_streams_are_written_as_the_oldest_version_that_holds_them() -> None:
    """A stream of a table set version 5 added is a version 5 stream (a version 4 reader says it cannot read
    it); every other stream is still version 4, byte for byte what the stored files hold."""
    from vcnlit.codecs import Header, pack
    from vcnlit.codecs.container import stream_version
    from vcnlit.errors import BitstreamError

    for name, want in MANIFEST["streams"].items():
        if want["version"] >= 4:
            hdr, _ = unpack((GOLDEN / name).read_bytes())
            assert stream_version(hdr) == want["version"], name
    hdr = Header("scic", "jpeg", 1, 8, 8, 50.0, {"tables": "psnr_rgb"}, b"\0" * 8)
    data = (GOLDEN / "streams/v5/jpeg-psnr_rgb-gray.vcn").read_bytes()
    assert data[4] == 5 and pack(*unpack(data)) == data
    relabelled = pack(hdr, b"")[:4] + b"\x04" + pack(hdr, b"")[5:]
    with pytest.raises(BitstreamError, match="corrupt"):  # the CRC, then the version check
        unpack(relabelled)
