"""The classroom lottery experiment's network: a tiny DnCNN-style residual denoiser.

>>> net = TinyDenoiser(TinyDenoiserConfig(width=8, depth=3))
>>> net(torch.rand(1, 3, 37, 45)).shape
torch.Size([1, 3, 37, 45])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from restorelab.errors import RestoreLabError


@dataclass(frozen=True)
class TinyDenoiserConfig:
    width: int = 20  # channels of the hidden convs
    depth: int = 5  # convs in total

    def __post_init__(self):
        if self.width < 1 or self.depth < 2:
            raise RestoreLabError(f"need width >= 1 and depth >= 2, got {self.width}, {self.depth}")

    def to_dict(self) -> dict:
        return asdict(self)


class TinyDenoiser(nn.Module):
    """(N, 3, H, W) in [0, 1] -> (N, 3, H, W): a conv-ReLU stack predicts the noise, which is subtracted."""

    family = "dncnn"

    def __init__(self, config: TinyDenoiserConfig = TinyDenoiserConfig()):
        super().__init__()
        self.config = config
        width, depth = config.width, config.depth
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(width, 3, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.body(x)
