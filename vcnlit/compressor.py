"""A trained model and a real codec, joined: images in, decoded images and exact bytes out."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import NamedTuple

import torch
from torch import Tensor

from vcnlit.codecs import BitstreamError, Codec, Header, model_fingerprint, pack, unpack
from vcnlit.codecs.container import check_size
from vcnlit.codecs.jpeg_tag import jpeg_file
from vcnlit.codecs.registry import build_codec
from vcnlit.errors import ConfigError
from vcnlit.nets import ResamplingSystem
from vcnlit.nets.receptive import receptive_radius
from vcnlit.nets.resampling import resize
from vcnlit.pixels import pad_to_multiple
from vcnlit.precision import fast_bf16
from vcnlit.refinement import Refinement, objective, refine_signal

#: side, in image pixels, of the largest tiles the networks run on (config ``eval.tile_size``; 0/None: whole
#: image). Tiles this small keep a convolution's input and output near the CPU's caches, which is faster than
#: larger ones on large and ordinary photos alike (docs/benchmarks.md).
DEFAULT_TILE_SIZE = 512
#: smaller tile sizes are raised to this (tiny tiles would spend all their time on halos)
MIN_TILE_SIZE = 32


def largest_within(n: int, size: Callable[[int], int], estimate: Callable[[int], int], limit: int) -> int | None:
    """The last of ``n`` candidates, in order of growing ``size``, whose size is at most ``limit`` (None: not even
    the first's): the answer of a bisection on ``size``, which is costly, guided by ``estimate``, a cheap size
    that grows with it about linearly (a codec's bytes before the container recompresses them), so that
    ``size`` is taken about four times instead of twice plus the bisection's log2(n)."""
    known: dict[int, int] = {}

    def real(k: int) -> int:
        if k not in known:
            known[k] = size(k)
        return known[k]

    lo, hi = 0, n - 1
    if real(lo) > limit:
        return None
    if real(hi) <= limit:
        return hi

    def guessed(k: int) -> float:  # the size, interpolated in the estimate between the known ones around k
        below, above = max(i for i in known if i <= k), min(i for i in known if i >= k)
        e0, e1 = estimate(below), estimate(above)
        if below == above or e0 == e1:
            return (known[below] + known[above]) / 2
        return known[below] + (estimate(k) - e0) * (known[above] - known[below]) / (e1 - e0)

    a, b = lo, hi  # bisection on the guesses: the boundary they predict
    while b - a > 1:
        mid = (a + b) // 2
        a, b = (mid, b) if guessed(mid) <= limit else (a, mid)
    for k in (a, a + 1, a - 1):  # invariant from here: real(lo) <= limit < real(hi)
        if lo < k < hi:
            lo, hi = (k, hi) if real(k) <= limit else (lo, k)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if real(mid) <= limit else (lo, mid)
    return lo


class RoundTrip(NamedTuple):
    x_hat: Tensor  # (B, C, H, W) restored images, cropped to the input size, in [0, 1]
    y: Tensor  # re-sampled signals fed to the codec
    z: Tensor  # decoded signals
    nbytes: list[int]  # bytes of each image's complete .vcn file (container header included)
    jpeg_nbytes: list[int] | None = None  # bytes of each image's standard JPEG file (SCIC/JPEG, when asked)


def _even(n: int, tile: int, down: int) -> int:
    """The side of equal tiles, each at most ``tile`` and a multiple of ``down``, that cover ``n`` pixels."""
    k = -(-n // tile)
    return -(-n // (k * down)) * down


def tiled(fn: Callable[[Tensor], Tensor], x: Tensor, tile: int, halo: int, up: int = 1, down: int = 1) -> Tensor:
    """``fn(x)`` computed tile by tile, for a translation-equivariant ``fn`` whose output is ``up / down``
    times the size of its input (bounded memory on large images).

    The image is cut into equal cores of at most ``tile x tile`` input pixels; each runs with ``halo``
    pixels of real context on every side that has any, and only the core's output is kept; with ``halo``
    at least the receptive radius of ``fn`` this equals ``fn(x)`` up to float rounding, so there are no
    seams. ``tile`` and ``halo`` must be multiples of ``down`` (so strided layers stay on the whole
    image's grid), as must the size of ``x``. Deterministic for a given tile size.
    """
    h, w = x.shape[-2:]
    if not tile or (h <= tile and w <= tile):
        return fn(x)
    if tile % down or halo % down or h % down or w % down:
        raise ValueError(f"tile {tile}, halo {halo} and size {h}x{w} must be multiples of {down}")
    out: Tensor | None = None
    th, tw = _even(h, tile, down), _even(w, tile, down)
    for i in range(0, h, th):
        for j in range(0, w, tw):
            i0, j0 = max(0, i - halo), max(0, j - halo)
            i1, j1 = min(h, i + th), min(w, j + tw)
            part = fn(x[..., i0 : min(h, i1 + halo), j0 : min(w, j1 + halo)])
            if out is None:
                out = part.new_empty((*part.shape[:-2], h * up // down, w * up // down))
            a, b = (i - i0) * up // down, (j - j0) * up // down
            out[..., i * up // down : i1 * up // down, j * up // down : j1 * up // down] = \
                part[..., a : a + (i1 - i) * up // down, b : b + (j1 - j) * up // down]
    assert out is not None
    return out


class Compressor:
    """RSN -> codec -> IDN, padded to the sizes the networks and codec need, framed in the vcnlit container.

    ``tile_size`` (image pixels, at least ``MIN_TILE_SIZE``, rounded up to a multiple of the
    re-sampling scale; 0 or None: whole images) bounds memory on large images: the RSN and IDN run
    tile by tile with a halo of their receptive radius, the codec codes the whole ``Y``. The
    bitstream does not depend on it beyond float rounding.

    Args:
        system: the trained networks (RSN and IDN are used; the VCN is a training device only).
        codec: the real codec between them.
        tile_size: tile side in image pixels (0 or None: whole images).
        refinement: encoder-side refinement of the coded signal (none by default).
        bf16: run the RSN and IDN in bfloat16 (autocast; weights stay float32); None: where the CPU
            computes bfloat16 natively (:func:`vcnlit.precision.fast_bf16`). The cost in coding
            efficiency is measured in ``benchmarks/``' results; any stream decodes either way.

    Example:
        >>> model = load_model("model.ckpt")                       # doctest: +SKIP
        >>> comp = Compressor(model.system, model.codec)           # doctest: +SKIP
        >>> data = comp.compress(load_image("photo.png", 3), 40)    # doctest: +SKIP
        >>> x_hat = comp.decompress(data)                          # doctest: +SKIP
    """

    def __init__(self, system: ResamplingSystem, codec: Codec, tile_size: int | None = DEFAULT_TILE_SIZE,
                 refinement: Refinement | None = None, bf16: bool | None = None) -> None:
        self.system, self.codec = system, codec
        self.refinement = refinement or Refinement()
        self.bf16 = fast_bf16() if bf16 is None else bool(bf16)
        self.multiple = system.scale * codec.block
        if tile_size is not None and int(tile_size) < 0:
            raise ConfigError(f"tile_size must be >= 0 (0: no tiling), got {tile_size}")
        s = system.scale
        self.tile = -(-max(MIN_TILE_SIZE, int(tile_size)) // s) * s if tile_size else 0
        self._halo_rsn = -(-receptive_radius(system.rsn) // s) * s  # image pixels
        self._halo_idn = receptive_radius(system.idn)  # pixels of Y / Z

    def _channels_last(self, x: Tensor) -> Tensor:
        """Convolutions run about 1.5x faster on CPU in channels_last layout: weights and input go there
        (the same values; the stream's fingerprint does not depend on the layout)."""
        w = next((m.weight for m in self.system.modules() if isinstance(m, torch.nn.Conv2d)), None)
        if w is not None and not w.is_contiguous(memory_format=torch.channels_last):
            self.system.to(memory_format=torch.channels_last)
        return x.contiguous(memory_format=torch.channels_last)

    def _precision(self, fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        """``fn`` in the inference precision (bfloat16 autocast when ``self.bf16``), returning float32."""
        def run(t: Tensor) -> Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                return fn(t).float()

        return run

    def rsn(self, x: Tensor) -> Tensor:
        """Y of a padded batch, tile by tile when it is larger than a tile."""
        return tiled(self._precision(self.system.rsn), self._channels_last(x), self.tile, self._halo_rsn,
                     down=self.system.scale).contiguous()

    def idn(self, z: Tensor, units: Tensor) -> Tensor:
        """Restored padded batch from decoded Z (the system's self-ensembled IDN), tile by tile when it is
        larger than a tile."""
        s = self.system.scale
        return tiled(self._precision(lambda t: self.system.restore(t, units)), self._channels_last(z), self.tile // s,
                     self._halo_idn, up=s).contiguous()

    @property
    def has_jpeg_form(self) -> bool:
        """Whether the model's streams are standard JPEGs too (a SCIC model with a JPEG codec)."""
        return self.codec.mode == "scic" and self.codec.name == "jpeg"

    @cached_property
    def fingerprint(self) -> bytes:
        """Hash of the decoder-relevant weights (RSN + IDN), taken at first use: a stream only decodes
        with the model that made it."""
        return model_fingerprint({k: v for k, v in self.system.state_dict().items() if not k.startswith("vcn.")})

    def rate_units(self, rates: list[float], device: torch.device | None = None) -> Tensor:
        return torch.tensor([self.codec.rate_to_unit(r) for r in rates], device=device)

    def pad(self, x: Tensor) -> Tensor:
        """Replicate-pad (B, C, H, W) on the bottom/right so H and W are multiples of ``self.multiple``."""
        return pad_to_multiple(x, self.multiple)

    def header(self, shape: tuple[int, ...], rate: float, out_size: tuple[int, int] | None = None) -> Header:
        c, h, w = shape[-3:]
        return Header(mode=self.codec.mode, codec=self.codec.name, channels=c, height=h, width=w,
                      rate=float(rate), params=self.codec.header_params(c), fingerprint=self.fingerprint,
                      out_size=None if out_size is None else (int(out_size[0]), int(out_size[1])))

    def signal(self, x: Tensor, y: Tensor, rate: float) -> Tensor:
        """The Y to code for one image: the RSN's ``y``, or its refinement (:mod:`vcnlit.refinement`) when
        ``self.refinement`` has steps and the refined Y's real file and decoded image score better.

        Args:
            x: the image, (1, C, H, W) in [0, 1].
            y: ``self.rsn(self.pad(x))``.
            rate: the codec rate.
        """
        opts = self.refinement
        if not opts.steps:
            return y
        refined = refine_signal(self.system, self.codec, x, y, rate, opts)
        h, w = x.shape[-2:]

        def cost(signal: Tensor) -> float:
            coded = self.codec.round_trip(signal, [rate])
            x_hat = self.idn(coded.decoded, self.rate_units([rate], x.device))[..., :h, :w].clamp(0, 1)
            bits = torch.tensor(8.0 * len(pack(self.header(x.shape, rate), coded.payloads[0])))  # the real file
            return float(objective(torch.mean((x_hat - x) ** 2), bits, opts.rate_weight))

        return refined if cost(refined) < cost(y) else y

    @torch.no_grad()
    def round_trip(self, x: Tensor, rate: float | list[float], y: Tensor | None = None,
                   jpeg_sizes: bool = False) -> RoundTrip:
        """Code a batch for real at one rate (or one rate per image).

        Args:
            x: (B, C, H, W) images in [0, 1].
            rate: the codec rate, or one per image.
            y: ``self.rsn(self.pad(x))`` when already at hand (it does not depend on the rate, so an RD
                curve computes it once per image).
            jpeg_sizes: also the size of each image's standard JPEG file (``vcnlit compress IN OUT.jpg``;
                SCIC models with a JPEG codec only).

        Returns:
            The restored images, Y, the decoded Z, each image's .vcn size in bytes (and its .jpg size).
        """
        h, w = x.shape[-2:]
        rates = list(rate) if isinstance(rate, (list, tuple)) else [float(rate)] * x.shape[0]
        y = self.rsn(self.pad(x)) if y is None else y
        if self.refinement.steps:
            y = torch.cat([self.signal(x[i : i + 1], y[i : i + 1], r) for i, r in enumerate(rates)])
        coded = self.codec.round_trip(y, rates)
        x_hat = self.idn(coded.decoded, self.rate_units(rates, x.device))
        headers = [self.header(x.shape, r) for r in rates]
        sizes = [len(pack(h, p)) for h, p in zip(headers, coded.payloads)]
        jpeg = None
        if jpeg_sizes and self.has_jpeg_form:
            jpeg = [len(jpeg_file(h, p)) for h, p in zip(headers, coded.payloads)]
        return RoundTrip(x_hat[..., :h, :w].clamp(0, 1), y, coded.decoded, sizes, jpeg)

    @torch.no_grad()
    def compress(self, x: Tensor, rate: float | None = None, out_size: tuple[int, int] | None = None) -> bytes:
        """Compress one image into a complete, self-checking ``.vcn`` bitstream.

        Args:
            x: a (C, H, W) image in [0, 1] with the model's channel count.
            rate: the codec rate (quality or step); None: the codec's own.
            out_size: (height, width) the decoder resizes the restored ``x`` to, when ``x`` was resized
                from an image of that size (:func:`vcnlit.multirate.resized`); None: ``x``'s own.

        Returns:
            The bitstream's bytes.
        """
        rate = self.codec.rate if rate is None else float(rate)
        if x.dim() != 3 or x.shape[0] != self.system.channels:
            raise ValueError(f"expected a ({self.system.channels}, H, W) image, got shape {tuple(x.shape)}")
        check_size(x.shape)
        y = self.signal(x[None], self.rsn(self.pad(x[None])), rate)[0]
        return pack(self.header(x.shape, rate, out_size), self.codec.encode(y, rate))

    @torch.no_grad()
    def compress_to_size(self, x: Tensor, max_bytes: int, rates: list[float],
                         form: Callable[[bytes], bytes] | None = None, y: Tensor | None = None,
                         out_size: tuple[int, int] | None = None) -> tuple[bytes, float]:
        """The best file of at most ``max_bytes``: a search over ``rates`` (:func:`largest_within`), whose file
        sizes must grow (SCIC qualities) or shrink (DNNC steps) monotonically along the list; the RSN runs once.

        Args:
            x: a (C, H, W) image in [0, 1] with the model's channel count.
            max_bytes: the largest file allowed, in bytes.
            rates: the candidate rates, in order.
            form: the file written for a ``.vcn`` stream (None: the stream itself; a tagged JPEG:
                :func:`vcnlit.codecs.jpeg_tag.to_jpeg`); its size is the one limited.
            y: ``self.rsn(self.pad(x[None]))[0]`` when already at hand (several budgets for one image).
            out_size: as in :meth:`compress`.

        Returns:
            The file and the rate it was coded at.

        Raises:
            ConfigError: even the smallest candidate's file is larger than ``max_bytes``.
        """
        if x.dim() != 3 or x.shape[0] != self.system.channels:
            raise ValueError(f"expected a ({self.system.channels}, H, W) image, got shape {tuple(x.shape)}")
        check_size(x.shape)
        y = self.rsn(self.pad(x[None]))[0] if y is None else y
        form = form or (lambda data: data)
        payloads: dict[int, bytes] = {}

        def payload(i: int) -> bytes:  # the codec's own bytes: cheap next to the container's recompression
            if i not in payloads:
                payloads[i] = self.codec.encode(y, rates[i])
            return payloads[i]

        coded: dict[int, bytes] = {}

        def stream(i: int) -> bytes:
            if i not in coded:
                coded[i] = form(pack(self.header(x.shape, rates[i], out_size), payload(i)))
            return coded[i]

        order = list(range(len(rates)))  # by growing file size: qualities up, steps down
        if len(stream(0)) > len(stream(order[-1])):
            order.reverse()
        best = largest_within(len(order), lambda k: len(stream(order[k])), lambda k: len(payload(order[k])),
                              max_bytes)
        if best is None:
            raise ConfigError(f"the smallest file this model makes of this image is {len(stream(order[0]))} bytes "
                              f"({self.codec.rate_key} {rates[order[0]]:g}); asked for at most {max_bytes}")
        best = order[best]
        if self.refinement.steps:  # refined at the rate found; kept only if it still fits
            refined = self.signal(x[None], y[None], rates[best])[0]
            data = form(pack(self.header(x.shape, rates[best], out_size), self.codec.encode(refined, rates[best])))
            if len(data) <= max_bytes:
                return data, rates[best]
        return stream(best), rates[best]

    @torch.no_grad()
    def decompress(self, data: bytes) -> Tensor:
        """Decode a ``.vcn`` bitstream made by this model (deterministic: every decode gives the same image).

        Args:
            data: the bitstream's bytes.

        Returns:
            The (C, H, W) image in [0, 1], at the original size.

        Raises:
            BitstreamError: the stream is malformed, corrupt, or was made by another model.
        """
        return self.decode(*unpack(data))

    @torch.no_grad()
    def decode(self, hdr: Header, payload: bytes) -> Tensor:
        """Decode a stream's header and codec payload (a ``.vcn``'s, or a tagged JPEG file's:
        :mod:`vcnlit.codecs.jpeg_tag`); see :meth:`decompress`."""
        if hdr.fingerprint != self.fingerprint:
            raise BitstreamError(
                f"this stream was made by another model (fingerprint {hdr.fingerprint.hex()}, "
                f"this model is {self.fingerprint.hex()}); decode it with the model that encoded it"
            )
        if hdr.mode != self.codec.mode or hdr.channels != self.system.channels:
            raise BitstreamError(f"stream is {hdr.mode} with {hdr.channels} channel(s); the model is "
                                 f"{self.codec.mode} with {self.system.channels}")
        try:
            codec = build_codec({**hdr.params, "format": hdr.codec}, rate=hdr.rate)
        except Exception as e:
            raise BitstreamError(f"bad codec parameters in header: {e}") from None
        m, s = self.multiple, self.system.scale
        hp, wp = -(-hdr.height // m) * m, -(-hdr.width // m) * m
        try:
            z = codec.decode(payload, (hdr.channels, hp // s, wp // s), hdr.rate)
        except BitstreamError:
            raise
        except Exception as e:
            raise BitstreamError(f"payload does not decode ({type(e).__name__}: {str(e)[:100]})") from None
        unit = self.rate_units([hdr.rate])
        x_hat = self.idn(z[None], unit)[..., : hdr.height, : hdr.width]
        return resize(x_hat, hdr.image_size)[0].clamp(0, 1)
