"""Additive white Gaussian noise, as in PromptIR / MIR-L.

The papers' code does ``np.clip(clean + randn * sigma, 0, 255).astype(np.uint8)`` on the
0-255 scale, i.e. clips and then *truncates* (floors) to uint8 levels. With
``quantize=True`` (the default) this function does the same (on ``img * 255``) and returns
the result divided by 255 (a 1e-3-level tolerance is added before the floor so that an
input already on uint8 levels, ``k / 255`` in float32, is not pushed to ``k - 1`` by rounding
error); with ``quantize=False`` it only clips, staying continuous.
"""

from __future__ import annotations

import numpy as np

from restorelab.degradations._util import pick
from restorelab.degradations.registry import register

SIGMA_RANGE = (5.0, 50.0)  # sampling range when sigma is None (0-255 scale)


@register("gaussian_noise")
def gaussian_noise(img: np.ndarray, rng: np.random.Generator, sigma=25, quantize=True) -> np.ndarray:
    """Add N(0, sigma^2) noise on the 0-255 scale, clip to [0, 255], optionally floor to uint8 levels.

    sigma: noise std on 0-255; default 25; ``None`` samples uniform in [5, 50]; allowed [0, 255].
    quantize: default True = the papers' ``clip(...).astype(uint8)`` (truncation, which biases
        the noisy image by about -0.5/255 on average); False keeps float values.
    """
    s = pick("sigma", sigma, rng, *SIGMA_RANGE, 0.0, 255.0)
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    out = img * np.float32(255.0) + noise * np.float32(s)
    np.clip(out, 0.0, 255.0, out=out)
    if quantize:
        out += np.float32(1e-3)  # so exact uint8 levels (k/255 in float32) are not floored to k-1
        np.floor(out, out=out)
    out /= np.float32(255.0)  # division (not * 1/255) so k/255 matches what loaders produce
    return out
