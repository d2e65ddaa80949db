"""How far an output pixel of a network looks into its input: the halo that makes tiling seam-free."""

from __future__ import annotations

import math

from torch import nn

from vcnlit.nets.resampling import IDN, RSN


def receptive_radius(net: RSN | IDN) -> int:
    """Radius, in pixels of the net's input, of the input window one output pixel depends on.

    Walks the convolutions of ``net.body`` in order (a stride-s convolution makes every
    later layer s times coarser, a stride-s transposed convolution s times finer) and
    takes the larger of that and the support of the bicubic residual path. An upper
    bound: a tile with at least this much real context on each side gives the same
    output as the whole image, up to float rounding.
    """
    radius, jump = 0.0, 1.0  # jump: input pixels per pixel of the current feature map
    for m in net.body.modules():
        if isinstance(m, nn.PixelShuffle):
            # output pixel y comes from input position y // s: at most one input pixel from y / s
            radius += jump
            jump /= m.upscale_factor
        elif isinstance(m, nn.ConvTranspose2d):
            k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
            radius += (math.ceil(max(p, k - 1 - p) / s) + 1) * jump
            jump /= s
        elif isinstance(m, nn.Conv2d):
            k, s, d = m.kernel_size[0], m.stride[0], m.dilation[0]
            radius += (k - 1) // 2 * d * jump
            jump *= s
    if getattr(net, "residual", False):
        # antialiased bicubic: 2 taps each side, stretched by the down-sampling factor
        down = net.scale if isinstance(net, RSN) else 1
        radius = max(radius, 2 * down + 1)
    return math.ceil(radius)
