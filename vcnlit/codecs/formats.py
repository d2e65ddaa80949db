"""What defines the bitstream formats, apart from what each encoder is free to choose.

:func:`format_values` collects every value a decoder depends on: the container's layout constants,
the DNNC settings a header may leave out, the per-band and context entropy models (their constants,
their integer frequency and count tables, the contexts of a fixed probe plane), and the JPEG
quantisation tables and frame layouts that compact and recompressed payloads rebuild.
:func:`format_digest` hashes them (values, not source text); tests/golden/manifest.json pins that
digest for each container version, so a change to any of them without a new
:data:`~vcnlit.codecs.container.FORMAT_VERSION` fails a test.

:data:`ENCODER_CHOICES` names what an encoder may change freely: streams made either way decode with
the same decoder, so none of it is hashed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from vcnlit.codecs import container, dnnc, jpeg_stream, jpeg_transcode, rate_proxy
from vcnlit.codecs.dct import ENCODER_ONLY
from vcnlit.codecs.entropy import context, model, shapes

#: settings and procedures only the encoder uses (decoding does not depend on them)
ENCODER_CHOICES: dict[str, str] = {
    "vcnlit.codecs.dct.ENCODER_ONLY": f"the dead-zone quantiser's rounding offsets ({', '.join(ENCODER_ONLY)}), "
                                      "for DNNC and vcnlit's JPEG encoder",
    "vcnlit.codecs.entropy.model.choose_model": "the per-band model's preset and binnings (searched by "
                                                "estimated bits, sent as side info)",
    "vcnlit.codecs.entropy.shapes.bits_table": "the code lengths the context model's encoder scores shapes with",
    "vcnlit.codecs.entropy.context._choose": "each context's shape, the sign biases and escape orders (all sent)",
    "vcnlit.codecs.container.pack": "the payload coding of a JPEG stream (the smallest of 0, 1, 2)",
    "vcnlit.codecs.standard.StandardCodec": "optimize, subsampling and the JPEG encoder (libjpeg or "
                                            "vcnlit.codecs.jpeg_encoder): any baseline stream is read",
    "vcnlit.codecs.jpeg_transcode.rebuild": "the Huffman tables of a rebuilt JPEG (the same coefficients, "
                                            "the same pixels)",
}


def _probe_plane(rows: int = 5, cols: int = 6, b: int = 8) -> np.ndarray:
    """A fixed plane of small coefficients, sparser at high frequency (no random generator)."""
    i = np.arange(rows * cols * b * b, dtype=np.int64).reshape(rows, cols, b * b)
    band = np.arange(b * b) // b + np.arange(b * b) % b
    v = (i * 7919 + 13) % 23 - 11
    return np.where((i * 31) % (band + 2) == 0, v, 0) * (band < 9)


def _contexts(revision: int) -> list[np.ndarray]:
    """Context ids, sign predictions and coded values of every pass over the probe planes (luma, chroma)."""
    planes = [_probe_plane(), _probe_plane(3, 4)]
    states = [context._Plane(p.shape[0], p.shape[1], 8, k, revision) for k, p in enumerate(planes)]
    out = []
    for ps, x in context._coded_passes(planes, states):
        out += [a.astype(np.int64) for a in (ps.ctx, ps.pred, x)]  # values, whatever dtype they are held in
    return out


def format_values(version: int | None = None) -> dict[str, Any]:
    """Every format-defining value of container ``version`` (default: the newest), by the module that holds
    it: a version's values leave out the JPEG table sets later versions added."""
    from vcnlit.codecs.container import FORMAT_VERSION

    version = FORMAT_VERSION if version is None else version
    tables = {k: v for k, v in rate_proxy.JPEG_TABLES.items() if rate_proxy.TABLES_SINCE.get(k, 4) <= version}
    since = {k: v for k, v in rate_proxy.TABLES_SINCE.items() if v <= version}
    c, m, s = context, model, shapes
    return {
        "container": {"magic": container.MAGIC.hex(), "readable": tuple(v for v in container.READABLE_VERSIONS if v <= version),
                      "modes": container.MODES, "max_samples": container.MAX_SAMPLES,
                      "v3_structs": (container._PRE.format, container._DIMS.format),
                      **({"out_size_since": container.OUT_SIZE_SINCE} if version >= container.OUT_SIZE_SINCE else {})},
        "dnnc": {"entropy_models": dnnc.ENTROPY_MODELS, "colours": dnnc.COLOURS, "centre": dnnc.CENTRE,
                 "header_defaults": {k: v for k, v in dnnc.LEGACY.items() if k not in ENCODER_ONLY},
                 "qmatrix_jpeg": (rate_proxy.JPEG_LUMA_TABLE, rate_proxy.JPEG_CHROMA_TABLE)},
        "band_model": {"precision": m.PRECISION, "mass": m.MASS, "kmax": m.KMAX, "presets": m.PRESETS,
                       "tails": m.TAILS, "frac": m._FRAC, "log2_max_count": m._LOG2_MAX_COUNT, "int32": m.INT32,
                       "max_symbols": m.MAX_SYMBOLS, "counts": m._COUNTS, "tail_starts": m._TAIL_STARTS},
        "shapes": {"esc": s.ESC, "p0": (s.N_P0, s.P0_ZERO), "theta": (s.N_TH, s.TH_ZERO), "biases": s.BIASES,
                   "one": s._ONE, "quarter": s._QUARTER, "freqs": s.freq_table()},
        "context": {"fc_max": c.FC_MAX, "nf2": c.NF2, "nmu": c.NMU, "kinds": c.KINDS, "limit": c.LIMIT,
                    "own": c._OWN, "gradient": c._GRADIENT, "default": c._DEFAULT, "cap": c._CAP,
                    "revisions": c.REVISIONS, "mu_class": c._mu_class(np.arange(1 << 12)),
                    "probe": {r: _contexts(r) for r in c.REVISIONS}},
        "jpeg": {"tables": tables, **({"tables_since": since} if since else {}),
                 "quant": {t: [rate_proxy.jpeg_quant_table(q, ch, t).numpy() for q in range(1, 101) for ch in (0, 1)]
                           for t in tables},
                 "layouts": jpeg_stream.LAYOUTS, "zigzag": jpeg_stream.ZIGZAG,
                 "frames": {f"{layout}/{t}": jpeg_stream.frame_headers(layout, 17, 23, 50, t)
                            for layout in jpeg_stream.LAYOUTS for t in tables},
                 "max_coefficient": (jpeg_transcode.MAX_AC, jpeg_transcode.MAX_DC),
                 "planes": [jpeg_transcode.plane_shapes(layout, 17, 23) for layout in jpeg_stream.LAYOUTS]},
    }


def _plain(v: Any) -> Any:
    """JSON-able form: arrays as (dtype, shape, sha256 of their little-endian bytes), bytes as hex."""
    if isinstance(v, np.ndarray) or hasattr(v, "numpy"):
        a = np.asarray(v)
        a = a.astype(a.dtype.newbyteorder("<"))
        return {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def format_digest(version: int | None = None) -> str:
    """sha256 of :func:`format_values` of container ``version`` (canonical JSON)."""
    text = json.dumps(_plain(format_values(version)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
