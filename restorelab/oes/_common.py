"""Noise as the DIP and OES code add it (image <-> tensor and thread helpers: ``restorelab.tensors``)."""

from __future__ import annotations

import numpy as np

from restorelab.errors import RestoreLabError

#: Which generator tensors a mask covers (``restorelab.oes.mask``): every parameter, or conv weights only.
SCOPES = ("weights", "all")


def add_noise(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """``clean`` + N(0, (sigma/255)^2), clipped to [0, 1], **not** quantised.

    As the DIP and OES code (``get_noisy_image``: add, clip, keep floats); the project's
    evaluation sets quantise to uint8 levels instead (``NoisyFolder``), a ~0.02 dB difference.
    """
    from restorelab.degradations import apply

    if not 0.0 <= float(sigma) <= 255.0:
        raise RestoreLabError(f"sigma must be in [0, 255], got {sigma}")
    return apply("gaussian_noise", clean, seed=seed, sigma=float(sigma), quantize=False)
