"""Atomic file writes: every file vcnlit writes appears whole or not at all."""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block succeeds.

    A kill or an error inside the block never leaves half a file at ``path`` (the temporary file is
    removed on error). The file gets the usual permissions (the process's umask), like ``cp``.

    Args:
        path: the file to write; its parent folders are created.

    Yields:
        The temporary path (a hidden ``.<name>.<random>.part`` file in the same folder).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def _clean(v: Any) -> Any:
    """NaN is not JSON: write null instead."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically (NaN and inf become null); returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_clean(data), indent=2) + "\n")
    return Path(path)
