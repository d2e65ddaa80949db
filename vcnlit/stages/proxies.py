"""Gradient proxies: where the RSN's gradient comes from in the end-to-end stage, the codec having none.

Each proxy turns the RSN's output ``Y`` into a restored image that is a differentiable function of
``Y`` (:meth:`GradientProxy.restored`); the networks it runs are frozen there, so the RSN's loss
updates the RSN alone. The IDN's and VCN's own updates always use the real codec, whatever the proxy.
Choose one with ``stages.end_to_end.module.rsn_gradient`` (:data:`PROXIES`):

- ``vcn``: the frozen VCN, ``VCN(Y)`` (the paper);
- ``straight_through``: the frozen IDN on the real decoded signal ``Z``, the codec taken as the
  identity in the backward pass [ours];
- ``diffjpeg``: the frozen IDN on kornia's differentiable JPEG of ``Y``, with the real encoder's
  quantisation tables (SCIC with JPEG only);
- ``noise``: the frozen IDN on ``Y`` whose block-DCT coefficients get uniform noise of one
  quantisation step in place of rounding (DNNC only);
- ``none``: no RSN update at all (the IDN and VCN still train): the IDN-only ablation in the same
  pipeline, steps and budget as every proxy.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from vcnlit.codecs import Codec
from vcnlit.codecs.rate_proxy import jpeg_quant_table
from vcnlit.errors import ConfigError, check_choice
from vcnlit.nets import ResamplingSystem
from vcnlit.nets.frozen import frozen
from vcnlit.pixels import pad_to_multiple

#: the config key that picks a proxy
KEY = "stages.end_to_end.module.rsn_gradient"


class GradientProxy:
    """A stand-in for the codec's missing gradient (one subclass per proxy, registered in :data:`PROXIES`).

    Args:
        codec: the run's real codec; a proxy that does not apply to it raises :class:`ConfigError`.
    """

    name: ClassVar[str]
    #: what it is, in a few words (tables and logs)
    summary: ClassVar[str]
    #: whether the RSN is trained with it (``none``: not)
    updates_rsn: ClassVar[bool] = True

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def restored(self, system: ResamplingSystem, y: Tensor, z: Tensor, unit: Tensor, rates: list[float]) -> Tensor:
        """The restored image as a differentiable function of ``y``; no network weight gets a gradient.

        Args:
            system: the networks.
            y: the RSN's output (B, C, h, w).
            z: the real codec's decoded ``y`` (no gradient).
            unit: the rates as the networks take them (B,).
            rates: the codec rate of each image.
        """
        raise NotImplementedError


class VcnProxy(GradientProxy):
    """``VCN(Y)``: the virtual codec network imitates codec + IDN (the paper)."""

    name = "vcn"
    summary = "the frozen VCN (the paper)"

    def restored(self, system, y, z, unit, rates):
        with frozen(system.vcn):
            return system.vcn(y, unit)


class StraightThroughProxy(GradientProxy):
    """``IDN(Z)`` on the real decoded signal, the codec taken as the identity in the backward pass."""

    name = "straight_through"
    summary = "the frozen IDN on the real decoded signal, the codec as identity backwards"

    def restored(self, system, y, z, unit, rates):
        with frozen(system.idn):
            return system.idn(z + (y - y.detach()), unit)  # value z exactly, gradient 1


class DecodedProxy(GradientProxy):
    """A proxy that runs the frozen IDN on a differentiable imitation of the codec's decoded signal."""

    def decoded(self, y: Tensor, rates: list[float]) -> Tensor:
        """The differentiable stand-in for the codec's decoded ``y``."""
        raise NotImplementedError

    def restored(self, system, y, z, unit, rates):
        with frozen(system.idn):
            return system.idn(self.decoded(y, rates), unit)


class DiffJpegProxy(DecodedProxy):
    """The IDN on kornia's differentiable JPEG (Reich et al. 2024): a polynomial rounding
    ``round(v) + (v - round(v))^3`` in place of JPEG's, so the forward pass stays close to the real
    codec and the gradient is that of a smooth staircase.

    Kornia scales the tables it is given by its own quality formula; given libjpeg's tables at the
    codec's quality and quality 50 (a scale of 100 %), it quantises with the real encoder's steps (to
    within 0.05 % of each step: kornia rounds the scaled tables with its polynomial floor). Kornia codes RGB with 4:2:0 chroma subsampling
    (``codec.subsampling=2``, the default); a grayscale signal goes in as three equal channels and
    comes out as luma.

    How closely it tracks the real JPEG: PSNR between kornia's decoded signal and Pillow's on the
    embedded val image (chelsea, 451 x 300), ``python -m benchmarks.diffjpeg_closeness``: grayscale
    44.7 / 47.2 / 48.4 / 49.9 / 50.8 dB at qualities 5 / 10 / 20 / 40 / 70, where the JPEG itself is
    27.2-37.1 dB from the image; RGB (``--channels 3``) 35.0 / 38.9 / 40.7 / 42.7 / 44.8 dB (kornia
    upsamples chroma otherwise than libjpeg).
    """

    name = "diffjpeg"
    summary = "the frozen IDN on kornia's differentiable JPEG with the encoder's tables"
    #: kornia's quality at which the tables it is given are used as they are
    TABLE_QUALITY = 50.0

    def __init__(self, codec: Codec) -> None:
        super().__init__(codec)
        if getattr(codec, "name", None) != "jpeg":
            raise ConfigError(f"{KEY}=diffjpeg imitates JPEG (SCIC with codec=jpeg); this run's codec is "
                              f"{codec.name} ({codec.mode}): choose another {KEY}")

    def decoded(self, y: Tensor, rates: list[float]) -> Tensor:
        # kornia takes half a second to import: only when used
        from kornia.color import rgb_to_grayscale
        from kornia.enhance import jpeg_codec_differentiable

        b, tables = y.shape[0], getattr(self.codec, "tables", "standard")
        luma = torch.stack([jpeg_quant_table(r, False, tables) for r in rates]).reshape(b, 8, 8).to(y)
        chroma = torch.stack([jpeg_quant_table(r, True, tables) for r in rates]).reshape(b, 8, 8).to(y)
        quality = torch.full((b,), self.TABLE_QUALITY, dtype=y.dtype, device=y.device)
        gray = y.shape[1] == 1
        out = jpeg_codec_differentiable(y.expand(-1, 3, -1, -1) if gray else y, quality, luma, chroma)
        return rgb_to_grayscale(out) if gray else out


class NoiseProxy(DecodedProxy):
    """The IDN on ``Y`` with uniform noise of one quantisation step added to its block-DCT coefficients
    in place of rounding, ``c + q u`` with ``u ~ U(-1/2, 1/2)`` (the usual training stand-in for scalar
    quantisation, Ballé et al. 2017): the DNNC codec's own planes (YCbCr and 4:2:0 chroma for colour
    signals as the codec is set), transform and steps, differentiable in ``Y``. The codec's dead zone
    (an encoder choice that zeroes more small coefficients) is not modelled."""

    name = "noise"
    summary = "the frozen IDN on Y with uniform noise of one step on its DCT coefficients"

    def __init__(self, codec: Codec) -> None:
        super().__init__(codec)
        if codec.mode != "dnnc":
            raise ConfigError(f"{KEY}=noise adds quantisation noise to the DNNC codec's DCT coefficients; this "
                              f"run's codec is {codec.name} ({codec.mode}): choose another {KEY}")

    def decoded(self, y: Tensor, rates: list[float]) -> Tensor:
        codec = self.codec
        padded = pad_to_multiple(y, codec.block)
        out = []
        for yi, r in zip(padded, rates):
            coeffs = codec.transform(yi)
            steps = codec.plane_steps(tuple(yi.shape), r)
            noisy = [c + s.to(c) * (torch.rand_like(c) - 0.5) for c, s in zip(coeffs, steps)]
            out.append(codec.inverse(noisy, tuple(yi.shape)))
        return torch.stack(out)[..., : y.shape[-2], : y.shape[-1]]


class NoProxy(GradientProxy):
    """No RSN update: the end-to-end stage trains the IDN and VCN only (the IDN-only ablation)."""

    name = "none"
    summary = "no RSN update (the IDN and VCN still train)"
    updates_rsn = False

    def restored(self, system, y, z, unit, rates):
        raise RuntimeError(f"{KEY}=none trains no RSN: there is no restored image to differentiate")


#: every proxy by its config name
PROXIES: dict[str, type[GradientProxy]] = {
    p.name: p for p in (VcnProxy, StraightThroughProxy, DiffJpegProxy, NoiseProxy, NoProxy)
}


def build_proxy(name: str, codec: Codec) -> GradientProxy:
    """The proxy called ``name`` for ``codec``.

    Raises:
        ConfigError: an unknown name, or a proxy that does not apply to the codec (one line).
    """
    check_choice(KEY, name, list(PROXIES))
    return PROXIES[name](codec)


def applicable(codec: Codec) -> list[str]:
    """Names of the proxies that apply to ``codec``, in :data:`PROXIES` order."""
    out = []
    for name, cls in PROXIES.items():
        try:
            cls(codec)
        except ConfigError:
            continue
        out.append(name)
    return out
