"""The training precision a CPU runs fastest: bfloat16 mixed precision where it has bfloat16 hardware."""

from __future__ import annotations

import functools


@functools.cache
def fast_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX tiles or AVX512-BF16).

    There, Lightning's ``bf16-mixed`` (convolutions in bfloat16, float32 weights and optimizer state)
    trains scic_lowres's stages at about 2.5x the images/s of float32 (``make bench``); elsewhere
    bfloat16 is emulated and slower than float32.
    """
    import torch

    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def cpu_precision() -> str:
    """``bf16-mixed`` on CPUs with bfloat16 hardware, else ``32-true`` (the ``${cpu_precision:}`` resolver)."""
    return "bf16-mixed" if fast_bf16() else "32-true"
