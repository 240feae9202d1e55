"""Architectures and the name -> builder registry."""

from restorelab.models.promptir import PromptIR, PromptIRConfig
from restorelab.models.registry import (
    build_from_config,
    count_params,
    create_model,
    get_preset,
    preset_names,
    register_preset,
)

__all__ = ["PromptIR", "PromptIRConfig", "build_from_config", "count_params", "create_model",
           "get_preset", "preset_names", "register_preset"]
