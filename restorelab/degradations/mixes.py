"""Mixtures for the real-photo model: clean-or-mild inputs, and noise followed by JPEG.

``mild`` teaches a restorer to leave a good photo alone: half of its samples are the photo
itself, the rest carry a barely visible degradation whose target is still the clean photo.
``noise_jpeg`` is the most common real pair: a noisy photo that was then stored as a JPEG.
"""

from __future__ import annotations

import numpy as np

from restorelab.degradations.compression import web_jpeg
from restorelab.degradations.noise import color_noise
from restorelab.degradations.registry import register
from restorelab.errors import RestoreLabError

MILD_KINDS = ("none", "noise", "jpeg")
MILD_PROBS = (0.5, 0.25, 0.25)


@register("mild")
def mild(img: np.ndarray, rng: np.random.Generator, kind=None) -> np.ndarray:
    """A clean photo, or a very mildly degraded one.

    kind: None -> ``none`` 50% (the photo unchanged), ``noise`` 25% (colour noise, sigma
    log-uniform in [0.5, 3] on 0-255), ``jpeg`` 25% (one compression at quality U{85..98}).
    """
    if kind is None:
        kind = MILD_KINDS[int(rng.choice(len(MILD_KINDS), p=MILD_PROBS))]
    if kind == "none":
        return img.astype(np.float32, copy=True)
    if kind == "noise":
        return color_noise(img, rng, sigma=float(np.exp(rng.uniform(np.log(0.5), np.log(3.0)))))
    if kind == "jpeg":
        return web_jpeg(img, rng, quality=int(rng.integers(85, 99)), double=False)
    raise RestoreLabError(f"unknown mild kind {kind!r}; valid: {', '.join(MILD_KINDS)}")


@register("noise_jpeg")
def noise_jpeg(img: np.ndarray, rng: np.random.Generator, sigma=None, quality=None) -> np.ndarray:
    """Colour noise (``color_noise``, sigma None -> log-uniform [2, 30]) then one JPEG
    (quality None -> U{30..95})."""
    s = float(np.exp(rng.uniform(np.log(2.0), np.log(30.0)))) if sigma is None else sigma
    q = int(rng.integers(30, 96)) if quality is None else quality
    return web_jpeg(color_noise(img, rng, sigma=s), rng, quality=q, double=False)
