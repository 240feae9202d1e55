"""Every model RestoreLab builds, by name: ``create_model(name, **overrides)``.

A *family* is an architecture (module class + config dataclass); a *preset* is a named config of
one family. All of them are registered here, in one place, so what exists never depends on what
was imported. An unknown name raises with the list of valid ones.

>>> create_model("dncnn-classroom", width=8)(torch.rand(1, 3, 37, 45)).shape
torch.Size([1, 3, 37, 45])
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch  # noqa: F401 (the doctest)
from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.models import dip
from restorelab.models.dip import GeneratorConfig, Hourglass
from restorelab.models.dncnn import TinyDenoiser, TinyDenoiserConfig
from restorelab.models.promptir import PromptIR, PromptIRConfig
from restorelab.models.srresnet import SRResNet, SRResNetConfig


@dataclass(frozen=True)
class Preset:
    name: str
    family: str
    config: object  # the family's config dataclass
    about: str


#: family -> (module class, config class); the ``family`` a weights file records in its metadata.
FAMILIES: dict[str, tuple[type[nn.Module], type]] = {
    "promptir": (PromptIR, PromptIRConfig),  # the all-in-one restorer (MIR-L, shipped models)
    "dip": (Hourglass, GeneratorConfig),  # the deep-image-prior generator (OES)
    "srresnet": (SRResNet, SRResNetConfig),  # the GRIDS degradation descriptor
    "dncnn": (TinyDenoiser, TinyDenoiserConfig),  # the classroom lottery experiment
}

_PRESETS: dict[str, Preset] = {}


def register_preset(name: str, config, about: str, family: str = "promptir") -> None:
    if name in _PRESETS:
        raise ValueError(f"preset {name!r} registered twice")
    if family not in FAMILIES or not isinstance(config, FAMILIES[family][1]):
        raise ValueError(f"preset {name!r}: not a config of family {family!r}")
    _PRESETS[name] = Preset(name, family, config, about)


register_preset(
    "promptir-paper",
    PromptIRConfig(official_unused_layers=True),
    "the paper's config: dim 48, blocks 4/6/6/8, 4 refinement, heads 1/2/4/8, FFN 2.66, 3 prompts "
    "(len 5); official unused 1x1 convs kept so the count is the paper's 35.59M",
)
register_preset(
    "promptir-cpu",
    PromptIRConfig(dim=12, num_blocks=(1, 2, 3, 4), num_refinement_blocks=0, heads=(1, 2, 4, 4),
                   prompt_dims=(16, 32, 64), prompt_sizes=(16, 16, 8)),
    "the shipped models' preset: dim 12, blocks 1/2/3/4, no refinement; full-resolution blocks "
    "dominate CPU time, so depth sits at the low-resolution levels (docs/performance.md: the presets)",
)
register_preset(
    "promptir-tiny",
    PromptIRConfig(dim=8, num_blocks=(1, 1, 1, 2), num_refinement_blocks=0, heads=(1, 2, 2, 4),
                   prompt_dims=(8, 16, 32), prompt_sizes=(8, 8, 8)),
    "smallest PromptIR: the GRIDS group models and quick experiments",
)
register_preset(
    "promptir-test",
    PromptIRConfig(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, heads=(1, 1, 1, 1),
                   prompt_len=2, prompt_dims=(4, 4, 8), prompt_sizes=(4, 4, 4)),
    "tiny model for unit tests only",
)

_DIP_ABOUT = {
    "paper": "the OES / Sparse-DIP network of the paper's code: 6 scales of 16-128 channels, 5x5, no skips "
             "(3.0M parameters)",
    "lean": "the app's OES default: 4 scales of 16-64 channels, 3x3 down convs, input depth 8 (2x faster)",
    "tiny": "tests only: seconds on a 37x31 image",
}
for _name, _config in dip.PRESETS.items():  # OES calls them by the short name (``lean``)
    register_preset(f"dip-{_name}", _config, _DIP_ABOUT[_name], family="dip")
register_preset(
    "srresnet-grids",
    SRResNetConfig(nf=32, n_blocks=6, scale=4),
    "the GRIDS degradation descriptor: x4 SR, 32 channels, 6 residual blocks, global residual",
    family="srresnet",
)
register_preset(
    "dncnn-classroom",
    TinyDenoiserConfig(width=20, depth=5),
    "the Lottery tab's live experiment: 5 convs of 20 channels predicting the noise",
    family="dncnn",
)


def preset_names() -> list[str]:
    return sorted(_PRESETS)


def get_preset(name: str) -> Preset:
    try:
        return _PRESETS[name]
    except KeyError:
        raise RestoreLabError(f"unknown model preset {name!r}; valid: {', '.join(preset_names())}") from None


# Config keys renamed after weight files were written with them: family -> {old: new}.
_RENAMED_KEYS = {"promptir": {"layernorm": "impl"}}


def config_from_dict(family: str, d: dict):
    """Rebuild a config dataclass from a card/metadata dict; unknown keys are errors."""
    cls = _family(family)[1]
    renamed = _RENAMED_KEYS.get(family, {})
    d = {renamed.get(k, k): v for k, v in d.items()}
    known = {f.name for f in fields(cls)}
    extra = set(d) - known
    if extra:
        raise RestoreLabError(f"unknown {family} config keys: {sorted(extra)}")
    return cls(**d)


def create_model(name: str, **overrides) -> nn.Module:
    """Build preset ``name`` with random weights; ``overrides`` replace config fields."""
    preset = get_preset(name)
    model_cls = FAMILIES[preset.family][0]
    cfg = preset.config
    if overrides:
        cfg = config_from_dict(preset.family, {**cfg.to_dict(), **overrides})
    return model_cls(cfg)


def _family(family: str) -> tuple[type[nn.Module], type]:
    if family not in FAMILIES:
        raise RestoreLabError(f"unknown model family {family!r}; valid: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[family]


def build_from_config(family: str, config: dict) -> nn.Module:
    """The model a weights file describes (``family`` + its config dict), with random weights."""
    return _family(family)[0](config_from_dict(family, config))


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, non-zero) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    nonzero = sum(int((p != 0).sum()) for p in model.parameters())
    return total, nonzero
