"""The self-describing model file (``model.ckpt``): weights plus what is needed to rebuild the model.

Loaded with ``torch.load(weights_only=True)``: a model file can hold tensors and
plain values only, never code. The codec is rebuilt from a whitelist.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vcnlit.codecs import Codec
from vcnlit.codecs.registry import build_codec, codec_spec
from vcnlit.compressor import DEFAULT_TILE_SIZE
from vcnlit.errors import CheckpointError
from vcnlit.io import save_torch
from vcnlit.nets import ResamplingSystem

FORMAT = "vcnlit-model"
VERSION = 1




@dataclass
class LoadedModel:
    """A model file's contents, rebuilt: what :func:`load_model` returns."""

    system: ResamplingSystem
    codec: Codec
    experiment: str
    meta: dict[str, Any]
    #: the run's ``eval.tile_size`` (None: no tiling); the Compressor's default when the run did not set it
    tile_size: int | None = DEFAULT_TILE_SIZE

    @property
    def rate_points(self) -> list[float]:
        """The rate points the model was trained for (``eval.rate_points`` of its run; [] if unrecorded)."""
        cfg = self.meta.get("config")
        points = (cfg.get("eval") or {}).get("rate_points") if isinstance(cfg, dict) else None
        return [float(r) for r in points] if isinstance(points, list) else []


def save_model(path: str | Path, system: ResamplingSystem, codec: Codec, experiment: str,
               meta: dict[str, Any] | None = None) -> Path:
    """Write a self-describing model file (atomically): weights, hyperparameters, codec, experiment.

    Args:
        path: the file to write (``model.ckpt``).
        system: the trained networks.
        codec: the codec the model was trained with (rebuilt from its spec on load).
        experiment: the experiment's name.
        meta: plain values to keep with it (seed, resolved config).

    Returns:
        ``path``.
    """
    data = {
        "format": FORMAT,
        "version": VERSION,
        "experiment": experiment,
        "model": dict(system.hparams),
        "codec": codec_spec(codec),
        "state_dict": {k: v.detach().cpu() for k, v in system.state_dict().items()},
        "meta": meta or {},
    }
    return save_torch(data, path)


def load_model(path: str | Path, expect_experiment: str | None = None) -> LoadedModel:
    """Load a model file safely (``torch.load(weights_only=True)``: tensors and plain values only).

    Args:
        path: a ``model.ckpt`` written by :func:`save_model`.
        expect_experiment: refuse a model of any other experiment.

    Returns:
        The networks (in eval mode), the codec, the experiment's name and the recorded metadata.

    Raises:
        CheckpointError: missing, corrupt, not a vcnlit model, another version or experiment, or
            weights that do not fit the architecture the file names.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        if isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in str(e):
            raise CheckpointError(f"{path} is not a vcnlit model file: corrupt, or it holds Python objects, which "
                                  "are refused (model files are loaded with weights_only=True; use a run's model.ckpt)"
                                  ) from None
        raise CheckpointError(f"{path} is not a vcnlit model file ({type(e).__name__}: {_short(e)})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        hint = " (a Lightning stage checkpoint? use the run's model.ckpt)" if isinstance(data, dict) and "state_dict" in data else ""
        raise CheckpointError(f"{path} is not a vcnlit model file{hint}")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path}: model file version {data.get('version')} is not supported (expected {VERSION})")
    exp = str(data.get("experiment"))
    if expect_experiment is not None and exp != expect_experiment:
        raise CheckpointError(f"{path} was trained by experiment {exp!r}, expected {expect_experiment!r}")
    try:
        hparams = dict(data["model"])
        system = ResamplingSystem(**hparams)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path} (experiment {exp!r}) names an architecture this vcnlit cannot build: {_short(e)}") from None
    mismatch = _mismatch(system.state_dict(), data.get("state_dict"))
    if mismatch:
        raise CheckpointError(f"{path} (experiment {exp!r}): its weights are not those of the architecture it names "
                              f"({_arch(hparams)}): {mismatch}")
    system.load_state_dict(data["state_dict"])
    system.eval()
    try:
        codec = build_codec(data["codec"])
    except (TypeError, ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"{path} (experiment {exp!r}) names a codec this vcnlit cannot build: {_short(e)}") from None
    meta = dict(data.get("meta", {}))
    return LoadedModel(system, codec, exp, meta, _tile_size(meta))


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:160]


def _arch(h: dict[str, Any]) -> str:
    return ", ".join(f"{k}={h[k]}" for k in ("channels", "scale", "width", "rsn_depth", "idn_depth", "block", "upsample")
                     if k in h)


def _mismatch(expected: dict[str, torch.Tensor], got: Any) -> str:
    """The first difference between two state dicts, in words ('' when they match)."""
    if not isinstance(got, dict):
        return "no state_dict"
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or extra:
        return f"{len(missing)} missing tensor(s) {missing[:2]}, {len(extra)} unexpected {extra[:2]}"
    for k, v in expected.items():
        t = got[k]
        if not isinstance(t, torch.Tensor) or t.shape != v.shape:
            return f"{k} has shape {tuple(getattr(t, 'shape', ()))}, expected {tuple(v.shape)}"
    return ""


def _tile_size(meta: dict[str, Any]) -> int | None:
    """None where the run turned tiling off (``eval.tile_size=0``), else :data:`DEFAULT_TILE_SIZE`: a tile's
    size is a speed and memory setting of this machine, not of the model (the output is the same beyond
    float rounding), so a run's own value, picked for the machine it ran on, is not carried over."""
    cfg = meta.get("config")
    ev = cfg.get("eval") if isinstance(cfg, dict) else None
    t = ev.get("tile_size", DEFAULT_TILE_SIZE) if isinstance(ev, dict) else DEFAULT_TILE_SIZE
    return DEFAULT_TILE_SIZE if isinstance(t, (int, float)) and t > 0 else None
