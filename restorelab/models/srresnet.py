"""The GRIDS degradation descriptor's network: an MSRResNet-style x2/x4 SR network with a global residual.

Architecture (DegAE ``MSRResNet_wGR_i_fea``, CPU-sized): conv_first -> ``n_blocks`` residual
blocks (conv-ReLU-conv, no BN) -> log2(scale) x (conv nf->4nf, PixelShuffle(2), LeakyReLU 0.1)
-> HRconv + LeakyReLU -> conv_last, plus the bilinearly up-sampled input (global residual, which
DDR found essential for degradation-discriminative features of MSE/L1-trained SR networks).

``features(x, layer)``: ``"hr"`` = SRGA's deepest features (the input of conv_last, nf x sH x sW),
``"rb"`` = DDR's last residual block (nf x H x W, before up-sampling).

>>> net = SRResNet(SRResNetConfig(nf=8, n_blocks=1))
>>> net(torch.rand(1, 3, 7, 5)).shape
torch.Size([1, 3, 28, 20])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from restorelab.errors import RestoreLabError

FAMILY = "srresnet"
LAYERS = ("hr", "rb")


@dataclass(frozen=True)
class SRResNetConfig:
    nf: int = 32
    n_blocks: int = 6
    scale: int = 4  # 2 or 4
    global_residual: bool = True
    in_channels: int = 3
    out_channels: int = 3

    def __post_init__(self):
        if self.scale not in (2, 4):
            raise RestoreLabError(f"scale must be 2 or 4, got {self.scale}")
        if self.nf < 1 or self.n_blocks < 1:
            raise RestoreLabError("nf and n_blocks must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


class ResidualBlock(nn.Module):
    def __init__(self, nf: int):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv2 = nn.Conv2d(nf, nf, 3, padding=1)
        for c in (self.conv1, self.conv2):  # MSRResNet: Kaiming init scaled by 0.1
            nn.init.kaiming_normal_(c.weight, a=0, mode="fan_in")
            c.weight.data.mul_(0.1)
            nn.init.zeros_(c.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class SRResNet(nn.Module):
    """(N, 3, H, W) in [0, 1] -> (N, 3, sH, sW); ``features`` for the degradation descriptor."""

    family = FAMILY  # the safetensors metadata "family" (models registry key)

    def __init__(self, config: SRResNetConfig = SRResNetConfig()):
        super().__init__()
        self.config = config
        nf = config.nf
        self.conv_first = nn.Conv2d(config.in_channels, nf, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(nf) for _ in range(config.n_blocks)])
        self.upconvs = nn.ModuleList(nn.Conv2d(nf, 4 * nf, 3, padding=1)
                                     for _ in range(int(math.log2(config.scale))))
        self.hr_conv = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_last = nn.Conv2d(nf, config.out_channels, 3, padding=1)

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(F.leaky_relu(self.conv_first(x), 0.1))

    def _hr(self, rb: torch.Tensor) -> torch.Tensor:
        out = rb
        for up in self.upconvs:
            out = F.leaky_relu(F.pixel_shuffle(up(out), 2), 0.1)
        return F.leaky_relu(self.hr_conv(out), 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_last(self._hr(self._trunk(x)))
        if self.config.global_residual:
            out = out + F.interpolate(x, scale_factor=self.config.scale, mode="bilinear", align_corners=False)
        return out

    def features(self, x: torch.Tensor, layer: str = "hr") -> torch.Tensor:
        """``"hr"``: (N, nf, sH, sW), SRGA's layer; ``"rb"``: (N, nf, H, W), DDR's RB16 analogue."""
        rb = self._trunk(x)
        if layer == "rb":
            return rb
        if layer == "hr":
            return self._hr(rb)
        raise RestoreLabError(f"unknown feature layer {layer!r}; valid: {', '.join(LAYERS)}")
