"""Additive white Gaussian noise, as in PromptIR / MIR-L.

The papers' code does ``np.clip(clean + randn * sigma, 0, 255).astype(np.uint8)`` on the
0-255 scale, i.e. clips and then *truncates* (floors) to uint8 levels. With
``quantize=True`` (the default) this function does the same (on ``img * 255``) and returns
the result divided by 255 (a 1e-3-level tolerance is added before the floor so that an
input already on uint8 levels, ``k / 255`` in float32, is not pushed to ``k - 1`` by rounding
error); with ``quantize=False`` it only clips, staying continuous.
"""

from __future__ import annotations

import cv2
import numpy as np

from restorelab.degradations._util import pick
from restorelab.degradations.registry import register
from restorelab.errors import RestoreLabError

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


# -- blind colour noise (the real-photo mix) ------------------------------------------------
COLOR_SIGMA_RANGE = (1.0, 55.0)  # 0-255 scale, sampled uniformly (weak noise comes from camera_noise/mild)
COLOR_MODES = ("iid", "gray", "correlated", "lumachroma")
COLOR_MODE_PROBS = (0.5, 0.15, 0.15, 0.2)
# BT.601 YCbCr <-> RGB (full range, offsets dropped: noise only)
_YCC2RGB = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]], np.float32)


@register("color_noise")
def color_noise(img: np.ndarray, rng: np.random.Generator, sigma=None, mode=None) -> np.ndarray:
    """Gaussian noise of unknown level and colour structure (BSRGAN's three kinds plus luma/chroma).

    sigma: std on 0-255 (per channel for ``iid``); None -> uniform in [1, 55]; allowed [0, 255].
    mode: None -> drawn with probabilities 0.5 / 0.15 / 0.15 / 0.2 from
        ``iid`` (independent per channel, as the papers' AWGN),
        ``gray`` (one noise map on all channels),
        ``correlated`` (N(0, sigma^2 S), S = |U^T D U| normalised to mean diagonal 1,
        U a random orthogonal 3 x 3, D = diag(U[0,1]^3)),
        ``lumachroma`` (luma noise of std sigma, chroma noise of std U(0.5, 2) * sigma, the
        chroma blurred by a Gaussian of std U(0.5, 2) px: the blotchy colour noise of phones).
    Not quantised (output float in [0, 1]).
    """
    if sigma is None:
        s = float(rng.uniform(*COLOR_SIGMA_RANGE))
    else:
        s = pick("sigma", sigma, rng, 0.0, 0.0, 0.0, 255.0)
    if mode is None:
        mode = COLOR_MODES[int(rng.choice(len(COLOR_MODES), p=COLOR_MODE_PROBS))]
    elif mode not in COLOR_MODES:
        raise RestoreLabError(f"unknown noise mode {mode!r}; valid: {', '.join(COLOR_MODES)}")
    h, w = img.shape[:2]
    s = np.float32(s / 255.0)
    if mode == "iid":
        n = rng.standard_normal((h, w, 3), dtype=np.float32) * s
    elif mode == "gray":
        n = np.repeat(rng.standard_normal((h, w, 1), dtype=np.float32), 3, axis=2) * s
    elif mode == "correlated":
        u, _ = np.linalg.qr(rng.standard_normal((3, 3)))
        cov = np.abs(u.T @ np.diag(rng.uniform(0.0, 1.0, 3) ** 3) @ u)
        cov /= max(np.trace(cov) / 3.0, 1e-8)
        chol = np.linalg.cholesky(cov + 1e-6 * np.eye(3)).astype(np.float32)
        n = rng.standard_normal((h, w, 3), dtype=np.float32) @ chol.T * s
    else:
        ycc = rng.standard_normal((h, w, 3), dtype=np.float32)
        blur = float(rng.uniform(0.5, 2.0))
        chroma = float(rng.uniform(0.5, 2.0))
        for c in (1, 2):
            sm = cv2.GaussianBlur(ycc[:, :, c], (0, 0), blur, borderType=cv2.BORDER_REFLECT_101)
            ycc[:, :, c] = sm / max(float(sm.std()), 1e-6) * np.float32(chroma)
        n = ycc @ _YCC2RGB.T * s
    return np.clip(img + n, 0.0, 1.0).astype(np.float32, copy=False)
