"""Camera noise: an inverse ISP to a raw-like linear mosaic, shot + read noise, and back.

After "Unprocessing Images for Learned Raw Denoising" (Brooks et al., CVPR 2019; the
reference note ``shared/reference/realistic_degradations.md`` §2). Forward, on the sRGB photo:

1. inverse tone map (inverse smoothstep ``0.5 - sin(asin(1 - 2x) / 3)``);
2. sRGB -> linear with gamma 2.2;
3. linear RGB -> camera RGB with a random camera colour matrix (a random convex mix of the
   four ``xyz2cam`` matrices of the reference code, times sRGB's ``rgb2xyz``, rows summing to 1);
4. inverse white balance and brightness: ``/ [r, 1, b] / g`` (r ~ U(1.9, 2.4), b ~ U(1.5, 1.9),
   g = 1 / N(0.8, 0.1)), with the reference's highlight protection, then clip to [0, 1];
5. RGGB mosaic; noise ``N(0, x * shot + read)`` (a *variance* model), ``log shot ~
   U(log 2e-5, log 0.012)`` (the reference starts at 1e-4: we add weaker noise, as clean phone
   photos carry) and ``log read = 2.18 log shot + 1.20 + N(0, 0.26^2)``.

The noise mosaic is demosaiced (bilinear), which makes it spatially and, after the colour
matrix, colour correlated, as camera noise is; the *signal* is not re-demosaiced: demosaicing
a clean BSDS photo costs 25 dB (bilinear) to 30-35 dB (Malvar) at its fine edges, artefacts that
a phone's ISP at full sensor resolution does not leave in a downsized photo, and that would
otherwise dominate weak noise. Back: white balance and brightness, the inverse colour matrix,
gamma 1/2.2 and the forward smoothstep, i.e. the exact inverse of steps 1-4. Without noise the
round trip returns the photo, so the clean photo stays the target and the synthesis shifts
no colours (as SCUNet's data does).
Finally, with probability 0.6, a JPEG at quality U{40..95}, as phones and the web store photos.
"""

from __future__ import annotations

import cv2
import numpy as np

from restorelab.degradations._util import pick
from restorelab.degradations.compression import _quality, roundtrip
from restorelab.degradations.registry import register

SHOT_RANGE = (2e-5, 0.012)  # log-uniform
JPEG_PROB = 0.6
JPEG_RANGE = (40, 95)

_XYZ2CAMS = np.array([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.7181]],
])
_RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                     [0.2126729, 0.7151522, 0.0721750],
                     [0.0193339, 0.1191920, 0.9503041]])
# bilinear demosaic: kernels that fill a sparse colour plane from its neighbours
_K_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4
_K_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4


def _rgb2cam(rng: np.random.Generator) -> np.ndarray:
    w = rng.uniform(1e-8, 1e8, 4)
    xyz2cam = np.tensordot(w / w.sum(), _XYZ2CAMS, axes=1)
    m = xyz2cam @ _RGB2XYZ
    return m / m.sum(axis=1, keepdims=True)


def _masks(h: int, w: int) -> np.ndarray:
    """H x W x 3 float32 RGGB sampling masks."""
    m = np.zeros((h, w, 3), np.float32)
    m[0::2, 0::2, 0] = 1
    m[0::2, 1::2, 1] = 1
    m[1::2, 0::2, 1] = 1
    m[1::2, 1::2, 2] = 1
    return m


def demosaic_bilinear(planes: np.ndarray) -> np.ndarray:
    """Bilinear demosaic of an RGGB mosaic given as H x W x 3 sparse planes (zeros off-site)."""
    out = np.empty_like(planes)
    for c, k in enumerate((_K_RB, _K_G, _K_RB)):
        out[:, :, c] = cv2.filter2D(planes[:, :, c], -1, k, borderType=cv2.BORDER_REFLECT_101)
    return out


def _level(name, value, rng, lo, hi) -> float:
    if value is None:
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return pick(name, value, rng, lo, hi, 0.0, 1.0)


@register("camera_noise")
def camera_noise(img: np.ndarray, rng: np.random.Generator, shot=None, read=None, jpeg_quality=None) -> np.ndarray:
    """Shot + read noise added in a raw-like linear mosaic (see the module docstring).

    shot: variance per unit signal; None -> log-uniform in [2e-5, 0.012]; allowed [0, 1].
    read: signal-independent variance; None -> from ``shot`` by the reference's log-linear fit
        with N(0, 0.26^2) scatter; allowed [0, 1].
    jpeg_quality: 1..100, or 0 for no JPEG; None -> 60%: U{40..95}, else no JPEG.
    """
    s = _level("shot", shot, rng, *SHOT_RANGE)
    if read is None:
        r = float(np.exp(2.18 * np.log(max(s, 1e-12)) + 1.20 + rng.normal(0.0, 0.26)))
    else:
        r = pick("read", read, rng, 0.0, 0.0, 0.0, 1.0)
    rgb2cam = _rgb2cam(rng)
    red, blue = rng.uniform(1.9, 2.4), rng.uniform(1.5, 1.9)
    gain = 1.0 / max(rng.normal(0.8, 0.1), 0.3)  # brightness g, bounded away from division blow-up
    if jpeg_quality is None:
        q = _quality("jpeg_quality", None, rng, *JPEG_RANGE) if rng.random() < JPEG_PROB else 0
    else:
        q = 0 if jpeg_quality == 0 else _quality("jpeg_quality", jpeg_quality, rng, 1, 100)

    x = np.clip(img.astype(np.float64), 0.0, 1.0)
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)           # inverse smoothstep
    x = np.maximum(x, 1e-8) ** 2.2                               # linear
    x = x @ rgb2cam.T                                            # camera RGB
    wb = np.array([1.0 / red, 1.0, 1.0 / blue]) / gain           # inverse WB + brightness
    gray = x.mean(axis=2, keepdims=True)
    inflection = 0.9
    mask = (np.maximum(gray - inflection, 0.0) / (1.0 - inflection)) ** 2
    x = np.clip(x * ((1.0 - mask) * wb + mask), 0.0, 1.0)
    h, w = x.shape[:2]
    m = _masks(h, w).astype(np.float64)
    raw = (x * m).sum(axis=2)                                    # RGGB mosaic
    noise = rng.standard_normal(raw.shape) * np.sqrt(np.maximum(raw * s + r, 0.0))
    # the noise goes through the demosaic, the signal does not (see the module docstring)
    y = x + demosaic_bilinear((noise[:, :, None] * m).astype(np.float32)).astype(np.float64)
    y = np.clip(y, 0.0, 1.0)
    y = y / ((1.0 - mask) * wb + mask)
    y = np.clip(y @ np.linalg.inv(rgb2cam).T, 0.0, 1.0)
    y = y ** (1.0 / 2.2)
    y = 3.0 * y ** 2 - 2.0 * y ** 3                              # smoothstep, the inverse of step 1
    out = np.clip(y, 0.0, 1.0).astype(np.float32)
    return roundtrip(out, q) if q else out
