"""Paths as results files record them: never a machine's absolute path.

A path inside the repository is written relative to its root, the embedded data set by its name
(``embedded/<split>``), a path in the home folder as ``~/...`` and any other path by its name alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

#: the repository (or installed package's parent folder) that relative paths start from
REPO = Path(__file__).resolve().parents[1]
#: the absolute paths of a machine that no tracked file may hold (tests/test_portable.py)
MACHINE_PATH = "/(root|home|tmp|work|Users)/"
#: an absolute path of two or more parts inside a string (``ckpt_path=/x/y``, ```/x/y```, ``"/x/y"``)
ABS_PATH = re.compile(r"(?<![\w.~/-])/[^\s/\"'`,;:=()\[\]{}<>|]+(?:/[^\s/\"'`,;:=()\[\]{}<>|]*)+")


def _embedded_root() -> Path:
    """Where the embedded data set is written (``paths.cache_dir``/embedded of the config)."""
    return Path(os.environ.get("VCNLIT_CACHE") or "~/.cache/vcnlit").expanduser() / "embedded"


def _under(path: PurePosixPath, root: Path, prefix: str) -> str | None:
    try:
        rest = path.relative_to(PurePosixPath(os.path.normpath(root)))
    except ValueError:
        return None
    return str(PurePosixPath(prefix) / rest) if prefix else (str(rest) or ".")


def portable_path(path: str | Path) -> str:
    """``path`` as a results file records it; relative paths and ``~/...`` are kept as they are."""
    text = str(path)
    if not text.startswith("/"):
        return text
    p = PurePosixPath(os.path.normpath(text))
    for root, prefix in ((_embedded_root(), "embedded"), (REPO, ""), (Path.home(), "~")):
        found = _under(p, root, prefix) if root != Path("/") else None
        if found is not None:
            return found
    return p.name or text


def portable(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every absolute path in its strings made portable."""
    if isinstance(value, str):
        return ABS_PATH.sub(lambda m: portable_path(m.group(0)), value)
    if isinstance(value, Path):
        return portable_path(value)
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v) for v in value]
    return value
