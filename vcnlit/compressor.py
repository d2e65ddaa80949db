"""A trained model and a real codec, joined: images in, decoded images and exact bytes out."""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from vcnlit.codecs import BitstreamError, Codec, Header, model_fingerprint, pack, unpack
from vcnlit.codecs.registry import build_codec
from vcnlit.nets import ResamplingSystem


class RoundTrip(NamedTuple):
    x_hat: Tensor  # (B, C, H, W) restored images, cropped to the input size, in [0, 1]
    y: Tensor  # re-sampled signals fed to the codec
    z: Tensor  # decoded signals
    nbytes: list[int]  # bytes of each image's complete .vcn file (container header included)


class Compressor:
    """RSN -> codec -> IDN, padded to the sizes the networks and codec need, framed in the vcnlit container."""

    def __init__(self, system: ResamplingSystem, codec: Codec) -> None:
        self.system, self.codec = system, codec
        self.multiple = system.scale * codec.block

    @cached_property
    def fingerprint(self) -> bytes:
        """Hash of the decoder-relevant weights (RSN + IDN), taken at first use: a stream only decodes
        with the model that made it."""
        return model_fingerprint({k: v for k, v in self.system.state_dict().items() if not k.startswith("vcn.")})

    def rate_units(self, rates: list[float], device: torch.device | None = None) -> Tensor:
        return torch.tensor([self.codec.rate_to_unit(r) for r in rates], device=device)

    def pad(self, x: Tensor) -> Tensor:
        """Replicate-pad (B, C, H, W) on the bottom/right so H and W are multiples of ``self.multiple``."""
        m = self.multiple
        ph, pw = (-x.shape[-2]) % m, (-x.shape[-1]) % m
        if not (ph or pw):
            return x
        # replicate padding needs at least one pixel to copy in each padded direction
        return F.pad(x, (0, pw, 0, ph), mode="replicate")

    def header(self, shape: tuple[int, ...], rate: float) -> Header:
        c, h, w = shape[-3:]
        return Header(mode=self.codec.mode, codec=self.codec.name, channels=c, height=h, width=w,
                      rate=float(rate), params=self.codec.params(), fingerprint=self.fingerprint)

    @torch.no_grad()
    def round_trip(self, x: Tensor, rate: float | list[float]) -> RoundTrip:
        """Code a batch for real at one rate (or one rate per image)."""
        h, w = x.shape[-2:]
        rates = list(rate) if isinstance(rate, (list, tuple)) else [float(rate)] * x.shape[0]
        y = self.system.rsn(self.pad(x))
        coded = self.codec.round_trip(y, rates)
        x_hat = self.system.idn(coded.decoded, self.rate_units(rates, x.device))
        sizes = [len(pack(self.header(x.shape, r), p)) for r, p in zip(rates, coded.payloads)]
        return RoundTrip(x_hat[..., :h, :w].clamp(0, 1), y, coded.decoded, sizes)

    @torch.no_grad()
    def compress(self, x: Tensor, rate: float | None = None) -> bytes:
        """One (C, H, W) image in [0, 1] -> a complete .vcn bitstream."""
        rate = self.codec.rate if rate is None else float(rate)
        if x.dim() != 3 or x.shape[0] != self.system.channels:
            raise ValueError(f"expected a ({self.system.channels}, H, W) image, got shape {tuple(x.shape)}")
        y = self.system.rsn(self.pad(x[None]))[0]
        return pack(self.header(x.shape, rate), self.codec.encode(y, rate))

    @torch.no_grad()
    def decompress(self, data: bytes) -> Tensor:
        """A .vcn bitstream -> the (C, H, W) image, exactly as every other decode of it."""
        hdr, payload = unpack(data)
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
        return self.system.idn(z[None], unit)[0, :, : hdr.height, : hdr.width].clamp(0, 1)
