"""vcnlit's own baseline JPEG encoder: an exact float DCT and a dead-zone quantiser.

libjpeg rounds every DCT coefficient to its nearest quantiser step. For squared error at a given
rate that is not the best choice: a coefficient just past half a step costs the bits of a nonzero
value (and breaks a run of zeros) for little less error than a zero. A rounding offset below one
half, ``floor(|c| / q + offset)``, sends such coefficients down -- a dead zone, the quantiser of
H.264's and our DNNC's encoders -- and the decoder, any JPEG decoder, reconstructs them as before.
The offset runs linearly in ``u + v`` from ``offset_dc`` at DC to ``offset_hf`` at the highest band
(:func:`~vcnlit.codecs.dct.rounding_offsets`, as in :class:`~vcnlit.codecs.dnnc.DnncCodec`).

The stream is baseline JPEG with the standard's Huffman tables, written by
:func:`~vcnlit.codecs.jpeg_transcode.rebuild`; the ``.vcn`` container recompresses its coefficients
like those of libjpeg's streams. Colour follows JFIF: full-range YCbCr, chroma averaged over 2x2
(``subsampling`` 2) or 2x1 (1) pixels, or kept (0).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from torch import Tensor

from vcnlit.codecs.dct import dct_matrix
from vcnlit.codecs.jpeg_transcode import MAX_AC, plane_shapes, rebuild
from vcnlit.codecs.rate_proxy import jpeg_quant_table
from vcnlit.pixels import to_uint8

#: JFIF's RGB -> YCbCr (ITU-T T.871), rows Y, Cb, Cr; Cb and Cr are offset by 128
_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


#: the orthonormal 8x8 DCT-II: JPEG's forward DCT, exactly (libjpeg's integer DCTs approximate it)
_DCT = dct_matrix(8).numpy()


@lru_cache(maxsize=512)
def _steps(quality: int, chroma: bool, tables: str) -> np.ndarray:
    return jpeg_quant_table(quality, chroma=chroma, tables=tables).numpy()


def _block_dct(plane: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Level-shifted 8-bit plane (edge-padded to whole blocks) -> (rows, cols, 64) coefficients, natural order."""
    h, w = rows * 8, cols * 8
    p = np.pad(plane[:h, :w], ((0, max(0, h - plane.shape[0])), (0, max(0, w - plane.shape[1]))), mode="edge")
    t = (p - 128.0).reshape(rows, 8, cols, 8).transpose(0, 2, 1, 3)
    return (_DCT @ t @ _DCT.T).reshape(rows, cols, 64)


def _planes(a: np.ndarray, layout: int) -> list[np.ndarray]:
    """The component planes (float, 8-bit scale) of an (H, W) or (H, W, 3) uint8 image, chroma subsampled."""
    if a.ndim == 2:
        return [a.astype(np.float64)]
    ycc = a.astype(np.float64) @ _YCBCR.T + np.array([0.0, 128.0, 128.0])
    h, w = a.shape[:2]
    fy, fx = (2 if layout == 6 else 1), (1 if layout == 4 else 2)
    hp, wp = -(-h // fy) * fy, -(-w // fx) * fx
    chroma = np.pad(ycc[..., 1:], ((0, hp - h), (0, wp - w), (0, 0)), mode="edge")
    chroma = chroma.reshape(hp // fy, fy, wp // fx, fx, 2).mean(axis=(1, 3))
    return [ycc[..., 0], chroma[..., 0], chroma[..., 1]]


def encode_jpeg(y: Tensor, quality: int, offsets: Tensor, tables: str = "standard", subsampling: int = 2) -> bytes:
    """A baseline JPEG of a (C, H, W) signal in [0, 1] (C = 1 or 3) at ``quality`` with the table set ``tables``,
    each coefficient quantised as ``sign(c) floor(|c| / q + offsets[band])``."""
    a = to_uint8(y)
    # the layout libjpeg writes for Pillow's ``subsampling`` (:data:`~vcnlit.codecs.jpeg_stream.LAYOUTS`; one
    # component is coded block by block whatever its sampling factors)
    layout = 1 + int(subsampling) + (3 if a.ndim == 3 else 0)
    h, w = a.shape[:2]
    off = offsets.numpy()
    coded = []
    for k, (plane, (rows, cols)) in enumerate(zip(_planes(a, layout), plane_shapes(layout, h, w))):
        c = _block_dct(plane, rows, cols)
        q = _steps(int(quality), k > 0, tables)
        n = np.sign(c) * np.floor(np.abs(c) / q + off)
        coded.append(np.clip(n, -MAX_AC, MAX_AC).astype(np.int32))  # MAX_DC is the same 1023
    return rebuild(layout, h, w, int(quality), coded, tables)
