"""All-in-one task names and what degradation each one means."""

from __future__ import annotations

import re
from typing import Dict, Tuple

from restorelab.errors import RestoreLabError

#: The five tasks of the PromptIR / MIR-L all-in-one setting, in task-id order.
ALL_IN_ONE_TASKS: Tuple[str, ...] = ("denoise_15", "denoise_25", "denoise_50", "derain", "dehaze")

#: The blind real-photo mix (eight tasks: a batch of 8 holds each once, so one sample in
#: eight is a clean or barely degraded photo the model must leave alone).
REAL_TASKS: Tuple[str, ...] = ("clean", "noise", "camera_noise", "web_jpeg", "noise_jpeg", "derain",
                               "heavy_rain", "dehaze")

_FIXED: Dict[str, Tuple[str, dict]] = {
    "derain": ("rain", {}),
    "dehaze": ("haze", {}),
    "jpeg": ("jpeg", {}),
    "clean": ("mild", {}),
    "noise": ("color_noise", {}),
    "camera_noise": ("camera_noise", {}),
    "web_jpeg": ("web_jpeg", {}),
    "noise_jpeg": ("noise_jpeg", {}),
    "heavy_rain": ("heavy_rain", {}),
    "downpour": ("downpour", {}),
    "denoise": ("gaussian_noise", {"sigma": None}),  # blind: sigma uniform in [5, 50], the papers' noise
}
_DENOISE = re.compile(r"^denoise_(\d{1,3})$")


def parse_task(name: str) -> Tuple[str, dict]:
    """Task name -> (degradation name, fixed params).

    ``denoise_<sigma>`` (sigma an integer 1..255 on the 0-255 scale, e.g. ``denoise_25``)
    -> ``('gaussian_noise', {'sigma': sigma})`` (quantised like the papers);
    ``derain`` -> ``('rain', {})``; ``dehaze`` -> ``('haze', {})``; ``jpeg`` -> ``('jpeg', {})``;
    the real-photo tasks (``REAL_TASKS``): ``clean`` -> ``mild``, ``noise`` -> ``color_noise``,
    ``camera_noise``, ``web_jpeg``, ``noise_jpeg``, ``heavy_rain``, ``downpour``, and ``denoise`` (blind Gaussian:
    ``gaussian_noise`` with sigma uniform in [5, 50]) (all parameters sampled per sample). Anything else raises RestoreLabError.
    """
    if not isinstance(name, str):
        raise RestoreLabError(f"task name must be a string, got {name!r}")
    if name in _FIXED:
        deg, params = _FIXED[name]
        return deg, dict(params)
    m = _DENOISE.match(name)
    if m and 1 <= int(m.group(1)) <= 255:
        return "gaussian_noise", {"sigma": int(m.group(1))}
    raise RestoreLabError(
        f"unknown task '{name}'; valid: {', '.join(sorted(set(ALL_IN_ONE_TASKS) | set(_FIXED)))}, "
        "or denoise_<sigma 1-255>"
    )


def synthesize(task: str, clean, seed=0):
    """Degrade a clean HxWx3 float image for ``task`` with a fixed seed (evaluation, validation)."""
    from restorelab import degradations

    deg, params = parse_task(task)
    return degradations.apply(deg, clean, seed=seed, **params)
