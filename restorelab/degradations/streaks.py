"""Rain100L-like light rain streaks.

Model (one streak layer, one direction per image, additive):

1. Seeds: ``N ~ Poisson(density * area)`` points placed uniformly on a canvas that is the
   image padded by half a kernel on every side (so streaks enter from outside the border
   and a crop looks like a piece of a bigger rainy image). Each seed gets a brightness
   ``b ~ U(0.15, 1)``.
2. Motion blur: the seed image is filtered with a line kernel of ``length`` pixels at
   ``angle`` degrees from vertical (positive = top leaning right, "/"; sampled from
   N(0, 13 deg) clipped to +-30 deg, as real Rain100L streaks are mostly near-vertical), with a Gaussian
   cross-section of FWHM ``width`` pixels and a tapered profile along the line
   (``sqrt(1 - (2s/length)^2)``, so streak ends fade), scaled so that its peak is 1. An
   isolated streak therefore has peak value ``b``; overlapping streaks add.
3. Blend: ``out = clip(img + intensity * streaks, 0, 1)``, the same grey layer on all three
   channels. Clipping on bright backgrounds colours the residual exactly as in the real
   Rain100L pairs (their residual ``input - target`` is never negative and is grey except
   where a channel saturates), which is why this is additive rather than screen blending.

Defaults (``None`` = sampled from ``rng``) were calibrated against the 10 Rain100L test
pairs in the shared data (residual mean, std, 99th percentile and fraction of pixels with
residual > 0.05, plus the dominant streak orientation of the residual, which ranged from
about -28 to +27 degrees): see ``restorelab.data.synthetic.compare_to_real``. With 50
random training photos: mean 0.0160 / std 0.046 / p99|r| 0.23 / frac(|r|>0.05) 0.107 /
mean |angle| 9.1 deg, vs. real 0.0162 / 0.043 / 0.21 / 0.109 / 9.2 deg; per-image
frac(|r|>0.05) spans ~0.04-0.22 (real: 0.044-0.26).
Streak sizes are in pixels of BSDS-sized photos (481 x 321), the scale of Rain100L.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from restorelab.degradations._util import pick
from restorelab.degradations.compression import roundtrip
from restorelab.degradations.registry import register

DENSITY_RANGE = (0.0006, 0.0035)  # streak seeds per pixel
LENGTH_RANGE = (15.0, 50.0)      # pixels
ANGLE_STD = 13.0                 # degrees from vertical: N(0, 13) clipped to +-ANGLE_MAX
ANGLE_MAX = 30.0
WIDTH_RANGE = (1.2, 2.2)         # pixels (FWHM of the cross-section)
INTENSITY_RANGE = (0.2, 0.4)     # peak added brightness of a full-brightness streak
SEED_BRIGHTNESS = (0.15, 1.0)    # per-streak brightness factor b


def streak_kernel(length: float, angle: float, width: float) -> np.ndarray:
    """Line kernel (float32, odd size, peak 1): ``length`` px at ``angle`` deg from vertical."""
    half = max(length, 1.0) / 2.0
    sig = max(width, 0.3) / 2.3548  # FWHM -> sigma
    th = math.radians(angle)
    dx, dy = math.sin(th), -math.cos(th)  # unit direction, image coordinates (y down)
    ext = 2.5 * sig + 0.5
    rx = int(math.ceil(half * abs(dx) + ext))
    ry = int(math.ceil(half * abs(dy) + ext))
    ys, xs = np.mgrid[-ry:ry + 1, -rx:rx + 1].astype(np.float32)
    along = xs * dx + ys * dy
    across = xs * dy - ys * dx
    t = np.clip(1.0 - (along / half) ** 2, 0.0, None)
    k = np.sqrt(t) * np.exp(-0.5 * (across / sig) ** 2)
    k = k.astype(np.float32)
    k /= k.max()
    return k


def streak_layer(h: int, w: int, rng: np.random.Generator, density: float, length: float,
                 angle: float, width: float) -> np.ndarray:
    """The H x W float32 streak map before ``intensity`` scaling (isolated-streak peak <= 1)."""
    k = streak_kernel(length, angle, width)
    kh, kw = k.shape
    ph, pw = kh // 2, kw // 2
    ch, cw = h + 2 * ph, w + 2 * pw
    n = int(rng.poisson(density * ch * cw))
    canvas = np.zeros((ch, cw), np.float32)
    if n:
        ys = rng.integers(0, ch, n)
        xs = rng.integers(0, cw, n)
        b = rng.uniform(*SEED_BRIGHTNESS, n).astype(np.float32)
        np.add.at(canvas, (ys, xs), b)
    else:
        return np.zeros((h, w), np.float32)
    out = cv2.filter2D(canvas, -1, k, borderType=cv2.BORDER_CONSTANT)
    return out[ph:ph + h, pw:pw + w]


@register("rain")
def rain(img: np.ndarray, rng: np.random.Generator, density=None, length=None, angle=None,
         width=None, intensity=None) -> np.ndarray:
    """Add one layer of light, near-vertical rain streaks (see the module docstring).

    density: streak seeds per pixel; None -> U(0.0006, 0.0035); allowed [0, 0.1].
    length: streak length in px; None -> U(15, 50); allowed [1, 200].
    angle: degrees from vertical, + = top leaning right; None -> N(0, 13) clipped to [-30, 30];
        allowed [-90, 90].
    width: streak FWHM in px; None -> U(1.2, 2.2); allowed [0.3, 10].
    intensity: added brightness of a full-brightness streak; None -> U(0.2, 0.4); allowed [0, 1].
    """
    d = pick("density", density, rng, *DENSITY_RANGE, 0.0, 0.1)
    ln = pick("length", length, rng, *LENGTH_RANGE, 1.0, 200.0)
    if angle is None:
        a = float(np.clip(rng.normal(0.0, ANGLE_STD), -ANGLE_MAX, ANGLE_MAX))
    else:
        a = pick("angle", angle, rng, 0.0, 0.0, -90.0, 90.0)
    wd = pick("width", width, rng, *WIDTH_RANGE, 0.3, 10.0)
    it = pick("intensity", intensity, rng, *INTENSITY_RANGE, 0.0, 1.0)
    h, w = img.shape[:2]
    layer = streak_layer(h, w, rng, d, ln, a, wd)
    layer *= np.float32(it)
    out = img + layer[:, :, None]
    np.clip(out, 0.0, 1.0, out=out)
    return out


# -- heavy and varied rain (the real-photo mix) ---------------------------------------------
HEAVY_LAYERS = (2, 4)                 # streak layers (inclusive)
HEAVY_DENSITY_RANGE = (0.0004, 0.004)  # seeds per pixel per layer: Rain100L-like to Rain100H-like
HEAVY_LENGTH_RANGE = (15.0, 60.0)
HEAVY_WIDTH_RANGE = (1.2, 4.0)
HEAVY_INTENSITY_RANGE = (0.2, 0.5)
HEAVY_ANGLE_JITTER = 5.0              # degrees between layers, around one wind direction
VEIL_PROB = 0.8
VEIL_ALPHA_RANGE = (0.7, 0.95)        # JORDER's transmission alpha (1 = no veil)
VEIL_AIRLIGHT_RANGE = (0.7, 1.0)


def _layers(h: int, w: int, rng: np.random.Generator, layers, density, angle, layers_range, density_range,
            length_range, width_range, intensity_range, jitter: float) -> np.ndarray:
    """The summed streak map of several layers around one wind direction. ``layers`` (1..8) and
    ``angle`` (deg from vertical) are drawn when None: from ``layers_range`` and N(0, 13) clipped to
    +-30. Each layer draws its density (log-uniform in ``density_range`` unless given), a depth
    ``near`` ~ U(0, 1) that sets its length, width and (x 0.6-1) intensity (near streaks are longer,
    wider, brighter), and an angle within ``jitter`` degrees of the wind."""
    n_layers = int(pick("layers", layers, rng, 0, 0, 1, 8)) if layers is not None else int(
        rng.integers(layers_range[0], layers_range[1] + 1))
    if angle is None:
        base = float(np.clip(rng.normal(0.0, ANGLE_STD), -ANGLE_MAX, ANGLE_MAX))
    else:
        base = pick("angle", angle, rng, 0.0, 0.0, -90.0, 90.0)
    streaks = np.zeros((h, w), np.float32)
    for _ in range(n_layers):
        if density is None:
            d = float(np.exp(rng.uniform(*np.log(density_range))))
        else:
            d = pick("density", density, rng, 0.0, 0.0, 0.0, 0.1)
        near = float(rng.uniform(0.0, 1.0))
        ln = length_range[0] + near * (length_range[1] - length_range[0])
        wd = width_range[0] + near * (width_range[1] - width_range[0])
        it = float(rng.uniform(*intensity_range)) * (0.6 + 0.4 * near)
        a = float(np.clip(base + rng.uniform(-jitter, jitter), -90.0, 90.0))
        streaks += streak_layer(h, w, rng, d, ln * float(rng.uniform(0.8, 1.2)), a, wd) * np.float32(it)
    return streaks


def _veil_alpha(rng: np.random.Generator, veil, prob: float, alpha_range: tuple[float, float]) -> float:
    """The veil's alpha (1 = none): ``veil`` if given, else with probability ``prob`` U(alpha_range)."""
    if veil is None:
        return float(rng.uniform(*alpha_range)) if rng.random() < prob else 1.0
    return pick("veil", veil, rng, 0.0, 0.0, 0.0, 1.0)


@register("heavy_rain")
def heavy_rain(img: np.ndarray, rng: np.random.Generator, layers=None, density=None, angle=None,
               veil=None, airlight=None) -> np.ndarray:
    """Several streak layers and JORDER's rain-accumulation veil:
    ``O = alpha (B + sum_t S_t) + (1 - alpha) A`` (Yang et al., CVPR 2017).

    layers: number of streak layers, 1..8; None -> 2..4. Each layer draws its own length
        U(15, 60) px, width (FWHM) U(1.2, 4) px, intensity U(0.2, 0.5) and an angle within
        +-5 deg of the image's wind direction; nearer layers (longer) are wider and brighter.
    density: seeds per pixel of *each* layer; None -> log-uniform in [0.0004, 0.004] per layer
        (light Rain100L-like to dense Rain100H-like); allowed [0, 0.1].
    angle: wind direction, deg from vertical; None -> N(0, 13) clipped to [-30, 30]; allowed [-90, 90].
    veil: alpha in [0, 1] (1 = no veil); None -> 80%: U(0.7, 0.95), else 1.
        The veil is spatially smooth: alpha varies by +-0.05 over the image.
    airlight: grey A; None -> U(0.7, 1.0); allowed [0, 1].
    """
    h, w = img.shape[:2]
    streaks = _layers(h, w, rng, layers, density, angle, HEAVY_LAYERS, HEAVY_DENSITY_RANGE,
                      HEAVY_LENGTH_RANGE, HEAVY_WIDTH_RANGE, HEAVY_INTENSITY_RANGE, HEAVY_ANGLE_JITTER)
    alpha = _veil_alpha(rng, veil, VEIL_PROB, VEIL_ALPHA_RANGE)
    a_light = pick("airlight", airlight, rng, *VEIL_AIRLIGHT_RANGE, 0.0, 1.0)
    grid = rng.uniform(-0.05, 0.05, (3, 3)).astype(np.float32)
    field = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
    al = np.clip(np.float32(alpha) + (field if alpha < 1.0 else 0.0), 0.0, 1.0)
    out = al * np.clip(img + streaks[:, :, None], 0.0, 1.0) + (1.0 - al) * np.float32(a_light)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


# -- downpour: dense, fine, faint streaks (real heavy rain as phones photograph it) ----------
# Our heavy rain is coarse (a few wide, bright streaks); the real downpours of DID-MDN
# (`real/rain`) are thousands of 1-px streaks, each faint, whose sum is a texture, and the
# photos reach us as JPEGs. A network trained on heavy rain alone leaves such rain in place.
DOWNPOUR_LAYERS = (2, 5)
DOWNPOUR_DENSITY_RANGE = (0.003, 0.02)    # seeds per pixel per layer (log-uniform)
DOWNPOUR_LENGTH_RANGE = (10.0, 45.0)      # far .. near
DOWNPOUR_WIDTH_RANGE = (0.8, 1.8)         # FWHM, far .. near
DOWNPOUR_INTENSITY_RANGE = (0.06, 0.25)
DOWNPOUR_ANGLE_JITTER = 4.0
DOWNPOUR_VEIL_PROB = 0.6
DOWNPOUR_VEIL_RANGE = (0.75, 0.97)
DOWNPOUR_JPEG_PROB = 0.5
DOWNPOUR_JPEG_QUALITY = (60, 95)


@register("downpour")
def downpour(img: np.ndarray, rng: np.random.Generator, layers=None, density=None, angle=None,
             veil=None, quality=None) -> np.ndarray:
    """Dense fine rain: many faint 1-2 px streaks in several layers, a light veil, often a JPEG.

    layers: streak layers, 1..8; None -> 2..5. Each layer draws a depth ``near`` ~ U(0, 1):
        length 10-45 px (x U(0.8, 1.2)), FWHM 0.8-1.8 px, intensity U(0.06, 0.25) x (0.6 + 0.4 near),
        angle within +-4 deg of the wind direction.
    density: seeds per pixel of each layer; None -> log-uniform in [0.003, 0.02]; allowed [0, 0.1].
    angle: wind direction, deg from vertical; None -> N(0, 13) clipped to [-30, 30]; allowed [-90, 90].
    veil: alpha (1 = none); None -> 60%: U(0.75, 0.97), else 1. Airlight grey U(0.7, 1).
    quality: JPEG quality of the result, 0 = none; None -> 50%: U{60..95}, else none; allowed [0, 100].
    """
    h, w = img.shape[:2]
    streaks = _layers(h, w, rng, layers, density, angle, DOWNPOUR_LAYERS, DOWNPOUR_DENSITY_RANGE,
                      DOWNPOUR_LENGTH_RANGE, DOWNPOUR_WIDTH_RANGE, DOWNPOUR_INTENSITY_RANGE, DOWNPOUR_ANGLE_JITTER)
    alpha = _veil_alpha(rng, veil, DOWNPOUR_VEIL_PROB, DOWNPOUR_VEIL_RANGE)
    a_light = float(rng.uniform(0.7, 1.0))
    out = np.float32(alpha) * np.clip(img + streaks[:, :, None], 0.0, 1.0) + np.float32((1.0 - alpha) * a_light)
    out = np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
    if quality is None:
        q = int(rng.integers(DOWNPOUR_JPEG_QUALITY[0], DOWNPOUR_JPEG_QUALITY[1] + 1)) \
            if rng.random() < DOWNPOUR_JPEG_PROB else 0
    else:
        q = int(pick("quality", quality, rng, 0, 0, 0, 100))
    return roundtrip(out, q) if q > 0 else out
