"""JPEG XL (libjxl through imagecodecs), lossy: an anchor codec, real bitstreams.

The rate knob is libjxl's butteraugli ``distance`` (0.1-25: higher = fewer bytes; 1 is about "visually
lossless"). Streams are bare codestreams (no ISOBMFF container boxes), as small as libjxl writes them;
their headers are bit-packed, so :mod:`vcnlit.eval.headers` cannot tell their size. libjxl's largest
distance, 25, is its lowest rate: about 0.09-0.15 bpp on 512-pixel photos, whatever lies below.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from vcnlit.codecs.base import Codec
from vcnlit.errors import ConfigError
from vcnlit.pixels import from_uint8, to_uint8

#: libjxl's range of the distance
MIN_DISTANCE, MAX_DISTANCE = 0.1, 25.0


def _imagecodecs() -> Any:
    try:
        import imagecodecs
    except ImportError as e:  # a dependency of the package; kept out of vcnlit's import time
        raise ConfigError("JPEG XL needs imagecodecs (pip install imagecodecs)") from e
    if not imagecodecs.JPEGXL.available:
        raise ConfigError("this imagecodecs build has no JPEG XL (libjxl)")
    return imagecodecs


class JpegXlCodec(Codec):
    """Lossy JPEG XL of 8-bit grayscale or RGB signals.

    Args:
        distance: the default rate (butteraugli distance, ``MIN_DISTANCE``-``MAX_DISTANCE``).
        effort: libjxl's encoder effort, 1-9 (7: libjxl's default); the decoder needs none of it.
        threads: images of a batch coded in parallel.
    """

    name = "jpegxl"
    mode = "scic"
    rate_key = "distance"
    #: who writes the streams (results files' descriptions)
    encoder = "libjxl through imagecodecs"

    def __init__(self, distance: float = 1.0, effort: int = 7, threads: int = 1) -> None:
        if int(effort) != effort or not 1 <= effort <= 9:
            raise ConfigError(f"codec.effort must be an integer in [1, 9], got {effort}")
        self._ic = _imagecodecs()
        super().__init__(self._check(distance), threads)
        self.effort = int(effort)

    @staticmethod
    def _check(distance: float) -> float:
        d = float(distance)
        if not MIN_DISTANCE <= d <= MAX_DISTANCE:
            raise ConfigError(f"jpegxl codec.distance must be in [{MIN_DISTANCE}, {MAX_DISTANCE}], got {distance}")
        return d

    def params(self) -> dict[str, Any]:
        return {"format": self.name, "effort": self.effort}

    def header_params(self, channels: int | None = None) -> dict[str, Any]:
        """A decoder reads every setting from the stream itself."""
        return {}

    def rate_to_unit(self, rate: float) -> float:
        """0 at the largest distance (fewest bytes), 1 at the smallest, linear in log distance."""
        lo, hi = np.log(MIN_DISTANCE), np.log(MAX_DISTANCE)
        return float((hi - np.log(self._check(rate))) / (hi - lo))

    def encode(self, y: Tensor, rate: float | None = None) -> bytes:
        d = self._check(self.rate if rate is None else rate)
        return bytes(self._ic.jpegxl_encode(to_uint8(y), distance=d, effort=self.effort, usecontainer=False))

    def decode(self, payload: bytes, shape: tuple[int, int, int], rate: float | None = None) -> Tensor:
        out = from_uint8(self._ic.jpegxl_decode(payload))
        if tuple(out.shape) != tuple(shape):
            raise ValueError(f"decoded jpegxl image has shape {tuple(out.shape)}, expected {tuple(shape)}")
        return out
