"""The model zoo: trained models that ship inside the package, found by name.

Each model is a ``model.ckpt`` (``<name>.ckpt`` beside this file) and an entry of ``index.json``
that records how it was made (command, config, seed, commit, versions, training data, time) and
its results on the embedded test images. ``python -m vcnlit.zoo.build NAME`` trains and adds one.
A composite (:data:`COMPOSITES`) is a name for several zoo models of one kind, each coding the rates it
codes best (:mod:`vcnlit.multirate`); it has no model file of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcnlit.errors import CheckpointError

ZOO_DIR = Path(__file__).resolve().parent
INDEX = ZOO_DIR / "index.json"
#: the model ``vcnlit compress`` uses for a colour photo when none is named: a composite (:data:`COMPOSITES`)
#: of the half-size and the full-size colour models that code chroma with finer steps (the psnr_rgb tables),
#: the half-size one on the photo resized too, picked per image and target (results: experiments/results/auto_default/)
DEFAULT_MODEL = "auto_rgb"
#: the model ``vcnlit compress`` uses for a grayscale image when none is named (the image comes back gray):
#: the grayscale composite, as the colour one (results: experiments/results/auto_default/)
DEFAULT_GRAY_MODEL = "auto_gray"


@dataclass(frozen=True)
class Composite:
    """A zoo name for several zoo models of one channel count: ``vcnlit compress --bpp`` codes with each
    and keeps the file, within the budget, that decodes with the highest PSNR; with ``--rate`` or neither,
    the first member codes alone. Its streams are its members' own (their fingerprints name them).

    Attributes:
        name: the composite's name (``vcnlit compress --model NAME``, ``python -m vcnlit.evaluate model=NAME``).
        members: the zoo models, the first one coding when no ``--bpp`` is asked for.
        about: one line on what it is.
        best: for a member whose budget search goes past its trained range, its best-quality rate
            there (the highest quality).
        resize: for a member that also codes the image resized (enlarged or shrunk), the factors
            (:mod:`vcnlit.multirate`).
        jpeg: the members that code a standard JPEG file (``vcnlit compress photo.png photo.jpg --bpp X``) when
            not all of ``members`` do (one codes AVIF), the same first member; empty: ``members``.
    """

    name: str
    members: tuple[str, ...]
    about: str
    best: dict[str, float] = field(default_factory=dict)
    resize: dict[str, tuple[float, ...]] = field(default_factory=dict)
    jpeg: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.jpeg and self.jpeg[0] != self.members[0]:
            raise ValueError(f"{self.name}: its JPEG members must start with its first member, {self.members[0]}")

    def for_jpeg(self, jpeg: bool) -> tuple[str, ...]:
        """The members that code a ``.jpg`` file (``jpeg``) or a ``.vcn`` stream."""
        return (self.jpeg or self.members) if jpeg else self.members

    def options(self, member: str) -> dict[str, Any]:
        """The keyword arguments of :func:`vcnlit.multirate.member` for one of its members."""
        return {"best": self.best.get(member), "resize": self.resize.get(member, ())}


#: every composite, by name
COMPOSITES = {c.name: c for c in (
    # the full-size model's PSNR keeps rising past its trained qualities (5-70) up to the codec's 95 on every
    # val photo, so its search goes on there: the range reaches 1.5 bpp on photos that code small
    # the half-size model codes the image enlarged 4/3 and 1.6x too (a signal 2/3 and 4/5 of the photo's size):
    # between the two models' ranges those files decode better on the val photos (experiments/results/enlarge/),
    # in colour and in gray; and shrunk to 3/4 (a signal 3/8 of its size), for the low rates of smooth photos
    # (experiments/results/auto_default/)
    # the full-size member codes AVIF (scic_fullres_rgb_avif): ahead of AVIF itself on the val photos, where the
    # JPEG one was behind it (experiments/results/avif/); a .jpg file is coded by the JPEG pair, the former default
    Composite("auto_rgb", ("scic_lowres_rgb_upscaled", "scic_fullres_rgb_avif"),
              "colour, SCIC: half size (JPEG) at low rates, full size (AVIF) at high rates, by each image's real PSNR",
              {"scic_fullres_rgb_avif": 95.0, "scic_fullres_rgb_photos": 95.0},
              {"scic_lowres_rgb_upscaled": (0.75, 4 / 3, 1.6)}, ("scic_lowres_rgb_upscaled", "scic_fullres_rgb_photos")),
    # the grayscale half-size member trained on the extra natural photos too; the full-size one codes AVIF, as in
    # colour (experiments/results/avif/); a .jpg file: the JPEG pair before it (scic_fullres, as the one trained
    # with the photos, scic_fullres_photos, did no better on the val photos: experiments/results/more_photos/)
    Composite("auto_gray", ("scic_lowres_photos", "scic_fullres_avif"),
              "grayscale, SCIC: half size (JPEG) at low rates, full size (AVIF) at high rates, by each image's real PSNR",
              {"scic_fullres_avif": 95.0, "scic_fullres": 95.0}, {"scic_lowres_photos": (0.75, 4 / 3, 1.6)},
              ("scic_lowres_photos", "scic_fullres")),
)}


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


def composites() -> dict[str, Composite]:
    """The composites whose members are all in the zoo, by name."""
    zoo = entries()
    return {n: c for n, c in COMPOSITES.items() if all(m in zoo for m in (*c.members, *c.jpeg))}


def composite(model: str | Path | None, colour: bool = True) -> Composite | None:
    """The composite that ``--model`` names (None: the default of ``colour``), or None for a single model."""
    name = default_model(colour) if model is None else str(model)
    return None if model is not None and Path(name).is_file() else composites().get(name)


def default_model(colour: bool = True) -> str:
    """The zoo model for an image when none is named: :data:`DEFAULT_MODEL`, or for a grayscale image
    :data:`DEFAULT_GRAY_MODEL`."""
    return DEFAULT_MODEL if colour else DEFAULT_GRAY_MODEL


def resolve(model: str | Path | None, colour: bool = True) -> Path:
    """The model file for ``--model``: a path to a ``model.ckpt``, a zoo name, or None for the default
    (:func:`default_model` of ``colour``); a composite's is its first member's (what codes without ``--bpp``).

    Raises:
        CheckpointError: neither an existing file nor a zoo name.
    """
    zoo = entries()
    name = default_model(colour) if model is None else str(model)
    if model is not None and Path(name).is_file():
        return Path(name)
    name = COMPOSITES[name].members[0] if name in COMPOSITES else name
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
