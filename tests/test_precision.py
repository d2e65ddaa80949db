"""The trainer's precision: bf16-mixed exactly where the CPU has bfloat16 hardware."""

import torch
from test_config import _compose

from vcnlit.precision import cpu_precision, fast_bf16


def test_the_trainer_config_picks_bf16_only_with_bfloat16_hardware():
    hardware = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    assert fast_bf16() == hardware
    assert cpu_precision() == ("bf16-mixed" if hardware else "32-true")
    assert _compose(["+experiment=scic_lowres"]).trainer.precision == cpu_precision()
    assert _compose(["+experiment=scic_lowres", "trainer=gpu"]).trainer.precision == "32-true"
