"""Shared fixtures: tiny natural images on disk, no network, W&B disabled."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as vcnlit/__init__.py: test modules import torch first


def natural_crop(name: str = "camera", size: tuple[int, int] = (48, 64), rgb: bool = False) -> np.ndarray:
    import skimage.data

    a = getattr(skimage.data, name)()
    if a.ndim == 3 and not rgb:
        a = np.asarray(Image.fromarray(a).convert("L"))
    if a.ndim == 2 and rgb:
        a = np.stack([a] * 3, -1)
    h, w = size
    return np.ascontiguousarray(a[100 : 100 + h, 120 : 120 + w])


@pytest.fixture(scope="session")
def image_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """train/val/test folders of small natural crops (RGB files: grayscale models read their luma)."""
    root = tmp_path_factory.mktemp("images")
    spec = {
        "train": [("astronaut", (80, 96)), ("rocket", (72, 72)), ("coffee", (64, 80))],
        "val": [("chelsea", (48, 48))],
        "test": [("camera", (40, 56)), ("astronaut", (37, 45))],
    }
    out = {}
    for split, items in spec.items():
        d = root / split
        d.mkdir()
        for i, (name, size) in enumerate(items):
            Image.fromarray(natural_crop(name, size, rgb=True)).save(d / f"{i}_{name}.png")
        out[split] = d
    return out


@pytest.fixture(autouse=True)
def _own_wandb_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Subprocesses start their own W&B service, as a user's command does: a service started by an
    in-process test is shared with children through WANDB_SERVICE and would outlive a killed run."""
    monkeypatch.delenv("WANDB_SERVICE", raising=False)


def pack_v3(header, payload: bytes, version: int = 3) -> bytes:
    """A stream of the fixed-width container of versions 1-3 (what earlier vcnlit wrote)."""
    pj = json.dumps(header.params, separators=(",", ":"), sort_keys=True).encode()
    body = (bytes([len(header.mode)]) + header.mode.encode() + bytes([len(header.codec)]) + header.codec.encode()
            + struct.pack(">BIId", header.channels, header.height, header.width, header.rate)
            + struct.pack(">H", len(pj)) + pj + header.fingerprint)
    return repack_v3(payload, body, version)


def repack_v3(payload: bytes, body: bytes, version: int = 3) -> bytes:
    """A version 1-3 stream around a hand-made header body, with valid CRCs."""
    head = b"VCNL" + bytes([version]) + struct.pack(">H", len(body)) + body
    crc = struct.pack(">I", zlib.crc32(payload)) if version >= 2 else b""
    return head + struct.pack(">I", zlib.crc32(head)) + struct.pack(">I", len(payload)) + crc + payload


def run_module(module: str, *args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` the way a user does."""
    env = {**os.environ, "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def data_overrides(dirs: dict[str, Path]) -> list[str]:
    return [f"data.{k}_dir={v}" for k, v in dirs.items()]


@pytest.fixture
def one_thread():
    """torch on one thread for the test (results that must not depend on the thread count; less contention)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
