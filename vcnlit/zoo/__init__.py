"""The model zoo: trained models that ship inside the package, found by name.

Each model is a ``model.ckpt`` (``<name>.ckpt`` beside this file) and an entry of ``index.json``
that records how it was made (command, config, seed, commit, versions, training data, time) and
its results on the embedded test images. ``python -m vcnlit.zoo.build NAME`` trains and adds one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vcnlit.errors import CheckpointError

ZOO_DIR = Path(__file__).resolve().parent
INDEX = ZOO_DIR / "index.json"
#: the model ``vcnlit compress`` uses for a colour photo when none is named: the colour recipe trained twice
#: as long (how it compares: the README's zoo table)
DEFAULT_MODEL = "scic_lowres_rgb_long"
#: the model ``vcnlit compress`` uses for a grayscale image when none is named (the image comes back gray):
#: the grayscale recipe trained longer
DEFAULT_GRAY_MODEL = "scic_lowres_long"


@dataclass(frozen=True)
class ZooModel:
    """One zoo entry.

    Attributes:
        name: the model's name (``vcnlit compress --model NAME``).
        path: its model file.
        info: its ``index.json`` entry (channels, codec, rate points, fingerprint, provenance, results).
    """

    name: str
    path: Path
    info: dict[str, Any]


def entries() -> dict[str, ZooModel]:
    """Every model of the zoo by name (empty when none has been added)."""
    if not INDEX.is_file():
        return {}
    index = json.loads(INDEX.read_text())
    return {name: ZooModel(name, ZOO_DIR / info["file"], info) for name, info in sorted(index.items())}


def default_model(colour: bool = True) -> str:
    """The zoo model for an image when none is named: :data:`DEFAULT_MODEL`, or for a grayscale image
    :data:`DEFAULT_GRAY_MODEL`."""
    return DEFAULT_MODEL if colour else DEFAULT_GRAY_MODEL


def resolve(model: str | Path | None, colour: bool = True) -> Path:
    """The model file for ``--model``: a path to a ``model.ckpt``, a zoo name, or None for the default
    (:func:`default_model` of ``colour``).

    Raises:
        CheckpointError: neither an existing file nor a zoo name.
    """
    zoo = entries()
    name = default_model(colour) if model is None else str(model)
    if model is not None and Path(name).is_file():
        return Path(name)
    if name in zoo and zoo[name].path.is_file():
        return zoo[name].path
    known = ", ".join(zoo) or "none installed"
    if model is None:
        kind = "" if colour else "grayscale "
        raise CheckpointError(f"the default {kind}model {name!r} is not in the zoo ({known}); give --model")
    raise CheckpointError(f"--model {name}: no such file, and not a zoo model ({known}; `vcnlit models` lists them)")


def find_by_fingerprint(fingerprint: bytes) -> ZooModel | None:
    """The zoo model whose decoder made a stream with this header fingerprint, if any."""
    return next((m for m in entries().values() if m.info.get("fingerprint") == fingerprint.hex()), None)
