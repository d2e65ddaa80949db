"""Differentiable estimates of a transform codec's bits, for training the RSN with a rate term.

The real bitrate always comes from real bitstreams; these proxies only give the RSN a gradient
towards signals that code in fewer bits. The estimate is ``sum log2(1 + |c / q|)`` over the
8-bit-scaled block-DCT coefficients ``c`` of the signal and the codec's quantiser steps ``q``:
roughly the magnitude bits an entropy coder spends on each coefficient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from vcnlit.codecs.dct import dct_bands
from vcnlit.pixels import pad_to_multiple

#: the JPEG standard's luminance quantisation table (ITU-T T.81, Annex K.1), row frequency down
JPEG_LUMA_TABLE: tuple[tuple[int, ...], ...] = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)

#: the JPEG standard's chrominance quantisation table (ITU-T T.81, Annex K.1)
JPEG_CHROMA_TABLE: tuple[tuple[int, ...], ...] = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    *((99,) * 8,) * 4,
)


#: ours, for squared error: a gentle ramp from 16 (DC) to 26 (the highest band), ``16 (1 + 0.6 (u + v) / 14)``,
#: for luma and chroma. The standard's tables quantise high bands up to 7x coarser than DC, for the eye;
#: PSNR weighs every band alike. Plain JPEG in a .vcn file needs 10 % (test images) / 4 % (val photos)
#: fewer bits with it at equal PSNR up to 1 bpp, the SCIC models 13 % / 5 % (docs/results.md).
PSNR_TABLE: tuple[tuple[int, ...], ...] = tuple(
    tuple(round(16 * (1 + 0.6 * (u + v) / 14)) for v in range(8)) for u in range(8)
)

#: ours, for PSNR on RGB: :data:`PSNR_TABLE` times 0.7 for chroma. An error in a 4:2:0 chroma sample
#: spreads over four pixels and, through the YCbCr -> RGB matrix, weighs about as much on R, G and B as a
#: luma error does, so squared error on RGB wants finer chroma steps than luma ones; 0.7 did best of
#: 0.55-1 on the val photos (experiments/results/chroma_tables/). Since container version 5.
PSNR_RGB_CHROMA_TABLE: tuple[tuple[int, ...], ...] = tuple(
    tuple(round(0.7 * 16 * (1 + 0.6 * (u + v) / 14)) for v in range(8)) for u in range(8)
)

#: quantisation table sets of JPEG codecs (``codec.tables``): name -> (luma, chroma) base tables
JPEG_TABLES: dict[str, tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]] = {
    "standard": (JPEG_LUMA_TABLE, JPEG_CHROMA_TABLE),
    "psnr": (PSNR_TABLE, PSNR_TABLE),
    "psnr_rgb": (PSNR_TABLE, PSNR_RGB_CHROMA_TABLE),
}
#: the container version that added a table set (the others: every version that names tables); a stream
#: naming one is written as that version (:func:`vcnlit.codecs.container.stream_version`)
TABLES_SINCE: dict[str, int] = {"psnr_rgb": 5}


def jpeg_quant_table(quality: float, chroma: bool = False, tables: str = "standard") -> Tensor:
    """The 8x8 luminance (``chroma``: chrominance) steps at ``quality`` (1-100): libjpeg's scaling of the
    base table set ``tables`` (:data:`JPEG_TABLES`), flattened by band ``u * 8 + v``."""
    q = min(100, max(1, round(float(quality))))
    scale = 5000 // q if q < 50 else 200 - 2 * q
    base = torch.tensor(JPEG_TABLES[tables][1 if chroma else 0], dtype=torch.float64).reshape(-1)
    return torch.clamp(torch.floor((base * scale + 50) / 100), 1, 255)


def dct_bits(y: Tensor, steps: Tensor) -> Tensor:
    """Estimated bits of each signal of a (B, C, H, W) batch in [0, 1], quantised with ``steps``.

    ``steps``: (B, block * block) quantiser steps per image and band (8-bit scale; the block size
    follows from their number). The batch is replicate-padded to whole blocks. Differentiable in ``y``.
    """
    block = math.isqrt(steps.shape[-1])
    if block * block != steps.shape[-1]:
        raise ValueError(f"expected block x block quantiser steps per image, got {steps.shape[-1]}")
    y = pad_to_multiple(y, block)
    c = dct_bands(y * 255.0 - 128.0, block)  # (B, C, n_blocks, block * block)
    s = steps.to(c).reshape(steps.shape[0], 1, 1, -1)
    return torch.log2(1.0 + (c / s).abs()).flatten(1).sum(1)
