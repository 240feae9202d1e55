"""Name -> model builder. Presets are named configs; an unknown name lists the valid ones."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields

from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.models.promptir import PromptIR, PromptIRConfig


@dataclass(frozen=True)
class Preset:
    name: str
    family: str
    config: PromptIRConfig
    about: str


_PRESETS: dict[str, Preset] = {}


def register_preset(name: str, config: PromptIRConfig, about: str, family: str = "promptir") -> None:
    if name in _PRESETS:
        raise ValueError(f"preset {name!r} registered twice")
    _PRESETS[name] = Preset(name, family, config, about)


_FAMILIES = {"promptir": (PromptIR, PromptIRConfig)}


# Families defined outside restorelab.models, imported only when a weight file needs them.
_LAZY_FAMILIES = {"srresnet": "restorelab.grids.srresnet"}


def register_family(name: str, model_cls, config_cls) -> None:
    """Another architecture family (e.g. GRIDS' SRResNet), so weight files can rebuild it."""
    _FAMILIES[name] = (model_cls, config_cls)

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
    "smallest preset: classroom lottery demo and quick experiments",
)
register_preset(
    "promptir-test",
    PromptIRConfig(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, heads=(1, 1, 1, 1),
                   prompt_len=2, prompt_dims=(4, 4, 8), prompt_sizes=(4, 4, 4)),
    "tiny model for unit tests only",
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
    cls = _FAMILIES[family][1]
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
    model_cls, cfg_cls = _FAMILIES[preset.family]
    cfg = preset.config
    if overrides:
        cfg = config_from_dict(preset.family, {**cfg.to_dict(), **overrides})
    return model_cls(cfg)


def build_from_config(family: str, config: dict) -> nn.Module:
    if family in _LAZY_FAMILIES and family not in _FAMILIES:
        importlib.import_module(_LAZY_FAMILIES[family])  # the module registers its family
    if family not in _FAMILIES:
        raise RestoreLabError(f"unknown model family {family!r}; valid: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[family][0](config_from_dict(family, config))


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, non-zero) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    nonzero = sum(int((p != 0).sum()) for p in model.parameters())
    return total, nonzero
