"""The deep-image-prior hourglass OES prunes, its presets, and its fixed noise input.

Its presets are registered with the rest as ``dip-<name>`` (``restorelab.models.create_model``);
OES names them by the short name (``paper``, ``lean``, ``tiny``), as its mask files record them.

``paper`` is the network of the OES code (``skip(...)`` of the DIP repository with
``num_channels_skip=[0]*6``): 6 scales of 16, 32, 64, 128, 128, 128 channels, **no skip
connections** (the reference sets every skip width to 0, so it is a pure encoder-decoder).
Per scale ``i``::

    down:  pad, conv5x5 (stride 1) -> AvgPool2d(2), BN, LReLU(0.2), pad, conv5x5, BN, LReLU
           [scale i + 1]
    up:    nearest x2, BN, pad, conv3x3, BN, LReLU

then a 1x1 conv to 3 channels and a sigmoid. Padding is reflection, as the reference. Its
3,008,867 parameters match the count the OES logs print.

BatchNorm always normalises with the statistics of the current (single) image and keeps no
running statistics (``track_running_stats=False``): the reference never leaves train mode, and
without buffers the network is a pure function of its parameters (``torch.func.functional_call``
needs nothing else).

Any image size: the generator is run at ``padded_size`` (a multiple of ``2**depth``, large enough
that the deepest reflection pad fits) and the centre ``H x W`` is cropped (``crop``).

>>> net = build_generator("lean", seed=0)
>>> z = noise_input(net.config, 37, 31, seed=0)          # (1, C, 48, 48)
>>> crop(net(z), 37, 31).shape
torch.Size([1, 3, 37, 31])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from restorelab.errors import RestoreLabError


@dataclass(frozen=True)
class GeneratorConfig:
    channels: tuple[int, ...] = (16, 32, 64, 128, 128, 128)  # per scale, down = up
    input_depth: int = 32
    down_kernel: int = 5
    up_kernel: int = 3
    output_channels: int = 3
    input_scale: float = 0.1  # fixed input: U[0, 1) * input_scale, as DIP/OES
    slope: float = 0.2  # LeakyReLU
    downsample: str = "avg"  # avg: conv at full resolution then AvgPool2d(2) (OES); stride: stride-2 conv (DIP)

    def __post_init__(self):
        if not self.channels or min(self.channels) < 1:
            raise RestoreLabError(f"generator channels must be positive, got {self.channels}")
        if self.down_kernel % 2 == 0 or self.up_kernel % 2 == 0:
            raise RestoreLabError("generator kernel sizes must be odd")
        if self.downsample not in ("avg", "stride"):
            raise RestoreLabError(f"generator downsample must be 'avg' or 'stride', not {self.downsample!r}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))

    @property
    def depth(self) -> int:
        return len(self.channels)

    def to_dict(self) -> dict:
        return asdict(self) | {"channels": list(self.channels)}

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise RestoreLabError(f"unknown generator config keys: {', '.join(sorted(unknown))}")
        return cls(**{**d, "channels": tuple(d.get("channels", cls.channels))})


PRESETS: dict[str, GeneratorConfig] = {
    # The OES / Sparse-DIP network of the paper's code (3.0M parameters).
    "paper": GeneratorConfig(),
    # The app's default (benchmarks/bench_oes.py timing): at 256², 1 thread, 0.16 s/step against 0.32 for
    # `paper` (input depth 8 not 32, 3x3 not 5x5 down convs, 4 levels of 16-64 channels); 243k masked weights.
    "lean": GeneratorConfig(channels=(16, 32, 64, 64), input_depth=8, down_kernel=3),
    # Tests only: seconds on a 37x31 image.
    "tiny": GeneratorConfig(channels=(8, 8, 16), input_depth=4, down_kernel=3),
}


def get_config(name: str) -> GeneratorConfig:
    """The config of preset ``name``; RestoreLabError listing the valid names otherwise."""
    if name in PRESETS:
        return PRESETS[name]
    raise RestoreLabError(f"unknown generator preset {name!r}; valid: {', '.join(sorted(PRESETS))}")


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    pad = (k - 1) // 2
    layers = [nn.ReflectionPad2d(pad)] if pad else []
    return nn.Sequential(*layers, nn.Conv2d(cin, cout, k, stride=stride))


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, track_running_stats=False)


class Hourglass(nn.Module):
    """DIP encoder-decoder: ``(1, input_depth, H', W') -> (1, 3, H', W')`` in (0, 1).

    ``H'``, ``W'`` must be multiples of ``2**depth`` (see ``padded_size``).
    """

    family = "dip"

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        self.body = self._scale(0, config.input_depth)
        self.out = nn.Conv2d(config.channels[0], config.output_channels, 1)

    def _scale(self, i: int, cin: int) -> nn.Sequential:
        c, act = self.config, (lambda: nn.LeakyReLU(self.config.slope))
        ch, kd = c.channels[i], c.down_kernel
        if c.downsample == "avg":
            down = [_conv(cin, ch, kd), nn.AvgPool2d(2)]
        elif c.downsample == "stride":
            down = [_conv(cin, ch, kd, stride=2)]
        else:
            raise RestoreLabError(f"unknown downsample {c.downsample!r}")
        layers = [*down, _bn(ch), act(), _conv(ch, ch, kd), _bn(ch), act()]
        if i + 1 < c.depth:
            layers.append(self._scale(i + 1, ch))
            k = c.channels[i + 1]
        else:
            k = ch
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), _bn(k), _conv(k, ch, c.up_kernel), _bn(ch), act()]
        return nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.body(z)))


def reset_parameters(net: nn.Module, seed: int) -> None:
    """PyTorch's default init (kaiming-uniform a=sqrt(5), uniform bias; BN 1/0) from a private RNG.

    The global RNG is not touched, so the same seed gives the same network anywhere.
    """
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
                if m.bias is not None:
                    bound = 1.0 / math.sqrt(m.weight[0].numel())
                    m.bias.uniform_(-bound, bound, generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def build_generator(preset: str | GeneratorConfig, seed: int = 0) -> Hourglass:
    """A freshly initialised generator: same (preset, seed) -> same weights."""
    config = preset if isinstance(preset, GeneratorConfig) else get_config(preset)
    net = Hourglass(config)
    reset_parameters(net, seed)
    return net


def padded_size(config: GeneratorConfig, height: int, width: int) -> tuple[int, int]:
    """Smallest (H', W') >= (H, W), multiples of 2**depth, whose deepest map fits its reflection pad."""
    if height < 1 or width < 1:
        raise RestoreLabError(f"image is empty ({width}x{height})")
    unit = 2 ** config.depth
    least = (config.down_kernel - 1) // 2 + 1  # ReflectionPad2d(p) needs a map larger than p
    return tuple(max(least, math.ceil(s / unit)) * unit for s in (height, width))


def noise_input(config: GeneratorConfig, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """The fixed input ``U[0, 1) * input_scale``, shape ``(1, input_depth, H', W')`` (padded size)."""
    hp, wp = padded_size(config, height, width)
    gen = torch.Generator().manual_seed(int(seed))
    return torch.rand(1, config.input_depth, hp, wp, generator=gen) * config.input_scale


def crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The centre ``height x width`` of an ``(N, C, H', W')`` tensor."""
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[..., top:top + height, left:left + width]
