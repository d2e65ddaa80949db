"""Baselines evaluated through the same RD loop and metrics as the learned models.

Each baseline turns one image and one rate point into (restored image, bytes of
its real bitstream); :func:`evaluate` makes a CompressAI-format results dict of it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vcnlit.codecs import Codec, Header, pack
from vcnlit.codecs.dct import ENCODER_ONLY
from vcnlit.codecs.registry import build_codec, codec_spec
from vcnlit.compressor import Compressor
from vcnlit.eval.headers import HEADER_FORMATS, header_bytes
from vcnlit.eval.metrics import bpp, mean
from vcnlit.eval.rd import CodeFn, model_code_fn, rd_curve
from vcnlit.eval.results import results_json
from vcnlit.nets import resize
from vcnlit.pixels import pad_to_multiple

#: Huffman-optimised JPEG (the standard's tables, libjpeg, 4:2:0 in colour): the anchor of a model with no standard
#: codec of its own, and of every zoo model's BD-rate
JPEG_ANCHOR: dict[str, Any] = {"format": "jpeg", "optimize": True}


def baseline_codec_spec(codec: Codec) -> dict[str, Any]:
    """The plain codec a model is compared with: its own standard codec and settings (SCIC), with the
    standard's quantisation tables and libjpeg's encoder (the JPEG people use, whatever tables and encoder the
    model codes with), else JPEG (:data:`JPEG_ANCHOR`)."""
    if codec.mode != "scic":
        return dict(JPEG_ANCHOR)
    return {k: v for k, v in codec_spec(codec).items() if k not in ("tables", *ENCODER_ONLY)}


def _encoder(codec: Codec) -> str:
    """Who writes the codec's streams: the codec's own word (JPEG XL: libjxl), vcnlit's own encoder (DNNC,
    the dead-zone JPEG encoder of ``codec.deadzone``), or Pillow's libraries."""
    if getattr(codec, "encoder", None):
        return str(codec.encoder)
    if codec.mode == "dnnc":
        return "vcnlit's block DCT + torchac"
    return "vcnlit's dead-zone encoder" if getattr(codec, "deadzone", None) is not None else "Pillow"


class Baseline(ABC):
    """A named way of coding images at a list of rate points."""

    rate_key = "quality"

    def __init__(self, name: str, points: Sequence[float], description: str = "",
                 table_points: Sequence[float] | None = None) -> None:
        self.name, self.points = name, [float(p) for p in points]
        self.description = description or name
        self.table_points = [float(p) for p in table_points] if table_points else self.points

    @abstractmethod
    def code_fn(self) -> CodeFn: ...

    def settings(self) -> dict[str, Any]:
        return {}

    def evaluate(self, images: Sequence[tuple[str, Tensor]], prov: dict[str, Any] | None = None,
                 progress: bool = True) -> dict[str, Any]:
        """Results file (CompressAI layout) of this baseline on ``images``."""
        res, by = rd_curve(self.code_fn(), images, self.points, self.rate_key, label=self.name, progress=progress)
        channels = int(images[0][1].shape[-3]) if images else None
        meta = {"rate_key": self.rate_key, "rate_points": self.points, "table_points": self.table_points,
                "channels": channels, "images": [n for n, _ in images], **self.settings(), **(prov or {})}
        return results_json(self.name, self.description, res, by, meta)


class CodecBaseline(Baseline):
    """A codec without any network (a standard one, JPEG XL, or DNNC's) applied to the image itself.

    ``container=True`` counts the bytes of a ``.vcn`` file holding the codec's stream instead of the
    stream alone (for JPEG: recompressed, :mod:`vcnlit.codecs.jpeg_transcode`): what vcnlit's bitstream
    gives the plain codec, without any network. The rate points are the codec's rate knob
    (``rate_key``: a quality, a JPEG XL distance, a DNNC step).

    The plain files keep their headers (JPEG's tables, the AVIF/WebP/JP2 boxes), which the bpp counts:
    their sizes go beside the results as ``header_bytes`` and ``header_bpp`` (per rate point, mean over the
    images; per image in ``results_by_image``), measured from each file (:mod:`vcnlit.eval.headers`) of the
    formats it can read (not JPEG XL's bit-packed headers).
    """

    def __init__(self, name: str, codec: dict[str, Any], points: Sequence[float], description: str = "",
                 table_points: Sequence[float] | None = None, container: bool = False) -> None:
        self.codec = build_codec(dict(codec), rate=float(points[0]))
        self.rate_key = self.codec.rate_key
        self.container = bool(container)
        #: the plain files' headers are measured (a format :mod:`vcnlit.eval.headers` reads)
        self.headers = not self.container and self.codec.name in HEADER_FORMATS
        super().__init__(name, points, description or f"plain {self.codec.name} ({_encoder(self.codec)}) {codec_spec(self.codec)}",
                         table_points)
        #: the header bytes of every file coded, in coding order (images x rates)
        self._headers: list[int] = []

    def code_fn(self) -> CodeFn:
        def code(x: Tensor, rates: Sequence[float]) -> Iterator[tuple[Tensor, int]]:
            c, h, w = x.shape[-3:]
            padded = pad_to_multiple(x, self.codec.block)  # DNNC codes whole blocks, as the Compressor pads
            for rate in rates:
                res = self.codec.round_trip(padded, rate)
                decoded = res.decoded[..., :h, :w]
                if not self.container:
                    if self.headers:
                        self._headers.append(header_bytes(self.codec.name, res.payloads[0]))
                    yield decoded, res.nbytes[0]
                    continue
                header = Header(self.codec.mode, self.codec.name, c, h, w, float(rate), self.codec.header_params(c), bytes(8))
                yield decoded, len(pack(header, res.payloads[0]))

        return code

    def evaluate(self, images: Sequence[tuple[str, Tensor]], prov: dict[str, Any] | None = None,
                 progress: bool = True) -> dict[str, Any]:
        self._headers = []
        data = super().evaluate(images, prov, progress)
        if not self.headers:
            return data
        n = len(self.points)
        for k, (name, x) in enumerate(images):
            row = data["results_by_image"][name]
            row["header_bytes"] = self._headers[k * n:(k + 1) * n]
            row["header_bpp"] = [bpp(b, *x.shape[-2:]) for b in row["header_bytes"]]
        for key in ("header_bytes", "header_bpp"):
            data["results"][key] = [mean([r[key][i] for r in data["results_by_image"].values()]) for i in range(n)]
        return data

    def settings(self) -> dict[str, Any]:
        return {"codec": codec_spec(self.codec), **({"container": True} if self.container else {})}


class ResampledCodecBaseline(CodecBaseline):
    """Non-learned re-sampling: bicubic down-sampling by ``scale``, the codec, bicubic up-sampling.

    With ``container=True`` the bytes are those of a ``.vcn`` file of the small image's stream: the
    low-resolution models' bitstream without their networks.
    """

    def __init__(self, name: str, codec: dict[str, Any], points: Sequence[float], scale: int = 2,
                 description: str = "", table_points: Sequence[float] | None = None,
                 container: bool = False) -> None:
        super().__init__(name, codec, points,
                         description or f"bicubic /{scale}, {codec.get('format')}, bicubic x{scale}", table_points,
                         container)
        self.scale = int(scale)

    def code_fn(self) -> CodeFn:
        inner = super().code_fn()

        def code(x: Tensor, rates: Sequence[float]) -> Iterator[tuple[Tensor, int]]:
            h, w = x.shape[-2:]
            small = resize(x, (max(1, round(h / self.scale)), max(1, round(w / self.scale)))).clamp(0, 1)
            for z, nbytes in inner(small, rates):
                yield resize(z, (h, w)).clamp(0, 1), nbytes

        return code

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "scale": self.scale}


class StageModelBaseline(Baseline):
    """A trained run's system as it was after one stage, coded through the vcnlit container.

    With ``stage="imitation"`` this is the IDN-only ablation: the auto-encoder's RSN and
    an IDN trained on real codec output, without end-to-end training of the RSN.
    """

    def __init__(self, name: str, run_dir: str | Path, stage: str = "imitation",
                 points: Sequence[float] | None = None, description: str = "") -> None:
        from vcnlit.checkpoint import CheckpointError, load_model

        run_dir = Path(run_dir).expanduser()
        model = load_model(run_dir / "model.ckpt")
        state = run_dir / "stages" / stage / "done.pt"
        if not state.is_file():
            raise CheckpointError(f"{state} not found: {run_dir} has no finished {stage!r} stage")
        model.system.load_state_dict(torch.load(state, map_location="cpu", weights_only=True))
        model.system.eval()
        self.model, self.stage, self.run_dir = model, stage, run_dir
        self.rate_key = model.codec.rate_key
        trained = (model.meta.get("config") or {}).get("eval", {}).get("rate_points")
        pts = points or trained or [model.codec.rate]
        super().__init__(name, pts, description or f"{model.experiment} after the {stage} stage (no end-to-end)")

    def code_fn(self) -> CodeFn:
        return model_code_fn(Compressor(self.model.system, self.model.codec))

    def settings(self) -> dict[str, Any]:
        return {"experiment": self.model.experiment, "stage": self.stage, "run_dir": str(self.run_dir),
                "scale": self.model.system.scale, "codec": codec_spec(self.model.codec)}
