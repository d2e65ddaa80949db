"""The self-describing model file (``model.ckpt``): weights plus what is needed to rebuild the model.

Loaded with ``torch.load(weights_only=True)``: a model file can hold tensors and
plain values only, never code. The codec is rebuilt from a whitelist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vcnlit.codecs import Codec
from vcnlit.codecs.registry import build_codec, codec_spec
from vcnlit.nets import ResamplingSystem

FORMAT = "vcnlit-model"
VERSION = 1


class CheckpointError(ValueError):
    """A model file that cannot be used; the message says why."""


@dataclass
class LoadedModel:
    system: ResamplingSystem
    codec: Codec
    experiment: str
    meta: dict[str, Any]


def save_model(path: str | Path, system: ResamplingSystem, codec: Codec, experiment: str,
               meta: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "experiment": experiment,
        "model": dict(system.hparams),
        "codec": codec_spec(codec),
        "state_dict": {k: v.detach().cpu() for k, v in system.state_dict().items()},
        "meta": meta or {},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)
    return path


def load_model(path: str | Path, expect_experiment: str | None = None) -> LoadedModel:
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} is not a vcnlit model file ({type(e).__name__}: {str(e)[:120]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        hint = " (a Lightning stage checkpoint? use the run's model.ckpt)" if isinstance(data, dict) and "state_dict" in data else ""
        raise CheckpointError(f"{path} is not a vcnlit model file{hint}")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path}: model file version {data.get('version')} is not supported (expected {VERSION})")
    exp = str(data.get("experiment"))
    if expect_experiment is not None and exp != expect_experiment:
        raise CheckpointError(f"{path} was trained by experiment {exp!r}, expected {expect_experiment!r}")
    try:
        system = ResamplingSystem(**data["model"])
        system.load_state_dict(data["state_dict"])
    except (TypeError, RuntimeError, KeyError) as e:
        raise CheckpointError(f"{path}: weights do not match the architecture it names ({str(e)[:160]})") from None
    system.eval()
    return LoadedModel(system, build_codec(data["codec"]), exp, dict(data.get("meta", {})))
