"""The tagged JPEG file (vcnlit/codecs/jpeg_tag.py, tag version ``TAG_VERSION``) pinned by stored files.

Each ``tests/golden/streams/tag<N>/<name>.jpg`` is the standard file of the stored stream
``streams/v<4, 5 or 6>/<name>.vcn`` (whose decode ``test_golden.py`` pins): today's writer must make the same bytes
from the stream, and the file must convert back to the very same stream. A change to the tag or to the
canonical JPEG it wraps fails here: bump ``TAG_VERSION`` and keep the old files decoding. The files of a
new tag version are written with ``VCNLIT_REGEN_GOLDEN=1`` (files already stored are never rewritten).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vcnlit.codecs.jpeg_tag import TAG_VERSION, to_jpeg, to_vcn

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "streams"
TAGGED = GOLDEN / f"tag{TAG_VERSION}"
#: SCIC/JPEG streams of every layout and table set the container stores
CASES = ("jpeg-gray", "jpeg-rgb", "jpeg-psnr-gray", "jpeg-psnr-rgb", "jpeg-rgb-444", "jpeg-deadzone-rgb",
         "jpeg-psnr_rgb-rgb", "jpeg-psnr_rgb-rgb-out")


@pytest.mark.parametrize("name", CASES)
def test_tagged_jpeg_is_pinned(name: str) -> None:
    vcn = next(p for p in (GOLDEN / f"v{v}" / f"{name}.vcn" for v in (4, 5, 6)) if p.is_file()).read_bytes()
    path = TAGGED / f"{name}.jpg"
    if os.environ.get("VCNLIT_REGEN_GOLDEN") and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(to_jpeg(vcn))
    jpg = path.read_bytes()
    assert to_jpeg(vcn) == jpg, f"{name}: the tagged JPEG writer changed; bump TAG_VERSION (vcnlit/codecs/jpeg_tag.py)"
    assert to_vcn(jpg) == vcn
