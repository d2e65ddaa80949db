"""Networks: plain nn.Modules with no training or coding logic."""

from vcnlit.nets.resampling import IDN, RSN, VCN, resize
from vcnlit.nets.system import ResamplingSystem

__all__ = ["IDN", "RSN", "VCN", "ResamplingSystem", "resize"]
