"""The three networks of one model, built from one set of hyperparameters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor, nn

from vcnlit.errors import ConfigError, check_choice
from vcnlit.nets.resampling import IDN, RSN, VCN

#: how many flips of the decoded signal the decoder may average over (see :func:`flip_ensemble`)
ENSEMBLE_SIZES = (1, 2, 4, 8)
#: (transpose, flip dims) of each member, in the order they join the ensemble: the half turn second (of two
#: members, the pair that differ most: what 2 flips cost against 4 with it and with a mirror image, docs/
#: benchmarks.md's table ``speed``), the same 4 and 8 as ever
_FLIPS: tuple[tuple[bool, tuple[int, ...]], ...] = (
    (False, ()), (False, (-2, -1)), (False, (-1,)), (False, (-2,)),
    (True, ()), (True, (-1,)), (True, (-2,)), (True, (-2, -1)),
)


def _check_ensemble(n: int) -> None:
    check_choice("self_ensemble", n, ENSEMBLE_SIZES)


def flip_ensemble(fn: Callable[[Tensor], Tensor], z: Tensor, n: int) -> Tensor:
    """Mean of ``T^-1(fn(T(z)))`` over the first ``n`` of the 8 flips/transposes ``T`` (geometric
    self-ensemble). For a translation-equivariant ``fn`` the result is translation-equivariant too,
    with the same receptive radius. Block codecs keep their grid under these maps when the size of
    ``z`` is a multiple of the block (the Compressor pads it so)."""
    if n == 1:
        return fn(z)
    total = None
    for transpose, dims in _FLIPS[:n]:
        t = z.transpose(-1, -2) if transpose else z
        out = fn(t.flip(dims) if dims else t)
        out = out.flip(dims) if dims else out
        out = out.transpose(-1, -2) if transpose else out
        total = out if total is None else total.add_(out)
    assert total is not None
    return total / n


class ResamplingSystem(nn.Module):
    """RSN + IDN + VCN sharing channels, width and re-sampling scale.

    ``hparams`` (plain types only) is what checkpoints store, so a model can be
    rebuilt from a checkpoint without the config that trained it. ``self_ensemble``
    (ours) is a decoder setting, not a weight: :meth:`restore` averages the IDN over
    that many flips of the decoded signal; training never uses it. ``idn_dilation``
    (ours): the dilations of the IDN's and VCN's hidden units, repeated over them in turn (None: all 1).
    """

    def __init__(
        self,
        channels: int = 1,
        scale: int = 2,
        width: int = 64,
        rsn_depth: int = 4,
        idn_depth: int = 6,
        kernel: int = 3,
        outer_kernel: int = 9,
        residual: bool = True,
        conditioned: bool = True,
        self_ensemble: int = 1,
        block: str = "plain",
        upsample: str = "transposed",
        idn_dilation: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ConfigError(f"model.channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        _check_ensemble(self_ensemble)
        self.hparams: dict[str, Any] = {
            "channels": channels, "scale": scale, "width": width, "rsn_depth": rsn_depth, "idn_depth": idn_depth,
            "kernel": kernel, "outer_kernel": outer_kernel, "residual": residual, "conditioned": conditioned,
            "self_ensemble": self_ensemble, "block": block, "upsample": upsample,
        }
        dilation = None if idn_dilation is None else [int(d) for d in idn_dilation]
        if dilation is not None and any(d != 1 for d in dilation):  # absent from the models that have none
            self.hparams["idn_dilation"] = dilation
        self.channels, self.scale = channels, scale
        common = {"channels": channels, "width": width, "kernel": kernel, "outer_kernel": outer_kernel,
                      "scale": scale, "residual": residual, "block": block}
        self.rsn = RSN(depth=rsn_depth, **common)
        decoder = {"depth": idn_depth, "conditioned": conditioned, "upsample": upsample, "dilation": dilation}
        self.idn = IDN(**decoder, **common)
        self.vcn = VCN(**decoder, **common)

    @property
    def self_ensemble(self) -> int:
        return self.hparams["self_ensemble"]

    def set_self_ensemble(self, n: int) -> None:
        """Decode with ``n`` flips from now on (a decoder setting: the weights do not change)."""
        _check_ensemble(n)
        self.hparams["self_ensemble"] = n

    def restore(self, z: Tensor, rate: Tensor | None = None) -> Tensor:
        """The decoder's image from a decoded signal: the IDN, self-ensembled over ``self_ensemble`` flips."""
        return flip_ensemble(lambda t: self.idn(t, rate), z, self.self_ensemble)
