"""Architectures and the one name -> model factory (``create_model``) for every family."""

from restorelab.models.dip import GeneratorConfig, Hourglass
from restorelab.models.dncnn import TinyDenoiser, TinyDenoiserConfig
from restorelab.models.promptir import PromptIR, PromptIRConfig
from restorelab.models.registry import (
    FAMILIES,
    build_from_config,
    count_params,
    create_model,
    get_preset,
    preset_names,
    register_preset,
)
from restorelab.models.srresnet import SRResNet, SRResNetConfig

__all__ = ["FAMILIES", "GeneratorConfig", "Hourglass", "PromptIR", "PromptIRConfig", "SRResNet", "SRResNetConfig",
           "TinyDenoiser", "TinyDenoiserConfig", "build_from_config", "count_params", "create_model", "get_preset",
           "preset_names", "register_preset"]
