"""The nine GRIDS degradations beyond ``gaussian_noise`` and ``jpeg`` (which GRIDS reuses).

Registered by :mod:`restorelab.degradations` like every other degradation, so the registry holds
them whatever was imported before; :mod:`restorelab.grids` (the tasks, the search) uses them.

Same convention as :mod:`restorelab.degradations`: ``fn(img float32 HxWx3 [0,1], rng, **params)``
returns float32 HxWx3 in [0, 1]; a parameter left at ``None`` is sampled from ``rng``; the output
is a pure function of (img, rng state, params). Every output is rounded to uint8 levels
(``round(clip(x) * 255) / 255``), as the lab code (PromptGIP) does after each degradation.

Sources (``shared/reference/grids.md`` §4): "lab code" is PromptGIP's
``evaluate/add_degradation_various.py`` / GLV. Motion and defocus blur are not in the lab code:
the ImageNet-C kernels are RestoreLab's substitutes. Where a range is RestoreLab's own choice the
docstring says so.
"""

from __future__ import annotations

import cv2
import numpy as np

from restorelab.degradations._util import pick
from restorelab.degradations.registry import register
from restorelab.errors import RestoreLabError

INTERP = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
MOTION_SEVERITY = {1: (10, 3.0), 2: (15, 5.0), 3: (15, 8.0), 4: (15, 12.0), 5: (20, 15.0)}  # ImageNet-C
INPAINT_REF_AREA = 256 * 256  # PromptGIP's line counts are for 256 x 256 training crops


def quantize(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to uint8 levels (float32)."""
    return (np.rint(np.clip(x, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def _int_param(name: str, value, lo: int, hi: int) -> int:
    v = pick(name, value, None, lo, hi, lo, hi)
    if v != int(v):
        raise RestoreLabError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(v)


def _filter(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate each channel with ``kernel``, reflect padding (cv2 BORDER_REFLECT_101)."""
    return cv2.filter2D(img, -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)


@register("gaussian_blur")
def gaussian_blur(img: np.ndarray, rng: np.random.Generator, sigma=None, ksize=15) -> np.ndarray:
    """Isotropic Gaussian blur ``cv2.GaussianBlur(img, (ksize, ksize), sigma)`` (PromptGIP).

    sigma: pixels; None samples U(2, 4) (PromptGIP dataloader); allowed [0.1, 20].
    ksize: odd kernel side, default 15 (PromptGIP); allowed 3..63.
    """
    s = pick("sigma", sigma, rng, 2.0, 4.0, 0.1, 20.0)
    k = _int_param("ksize", ksize, 3, 63)
    if k % 2 == 0:
        raise RestoreLabError(f"ksize must be odd, got {k}")
    return quantize(cv2.GaussianBlur(img, (k, k), s, borderType=cv2.BORDER_REFLECT_101))


def motion_kernel(radius: int, sigma: float, angle: float) -> np.ndarray:
    """(2r+1)^2 one-sided motion kernel: Gaussian weights ``exp(-t^2 / 2 sigma^2)``, t = 0..r,
    along a ray at ``angle`` degrees (ImageMagick/Wand ``motion_blur`` as ImageNet-C uses it),
    bilinearly splatted and normalised to sum 1."""
    size = 2 * radius + 1
    k = np.zeros((size, size), np.float64)
    th = np.deg2rad(angle)
    for t in np.arange(0.0, radius + 1e-9, 0.25):  # 4 samples per pixel of path
        w = np.exp(-t * t / (2.0 * sigma * sigma))
        x, y = radius + t * np.cos(th), radius - t * np.sin(th)
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, a in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                          (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= x0 + dx < size and 0 <= y0 + dy < size:
                k[y0 + dy, x0 + dx] += w * a
    return (k / k.sum()).astype(np.float32)


@register("motion_blur")
def motion_blur(img: np.ndarray, rng: np.random.Generator, severity=None, angle=None) -> np.ndarray:
    """Linear motion blur with ImageNet-C's (radius, sigma) levels (RestoreLab's substitute).

    severity: 1..5 -> (radius, sigma) = (10, 3), (15, 5), (15, 8), (15, 12), (20, 15);
        None samples an integer in 1..3 (RestoreLab's choice: the milder half, restorable on CPU).
    angle: degrees; None samples U(-45, 45) (ImageNet-C); allowed [-180, 180].
    """
    sev = int(rng.integers(1, 4)) if severity is None else _int_param("severity", severity, 1, 5)
    a = pick("angle", angle, rng, -45.0, 45.0, -180.0, 180.0)
    r, s = MOTION_SEVERITY[sev]
    return quantize(_filter(img, motion_kernel(r, s, a)))


@register("richardson_lucy")
def richardson_lucy(img: np.ndarray, rng: np.random.Generator, num_iter=1, psf_size=5) -> np.ndarray:
    """Richardson-Lucy "deconvolution" of the clean image (PromptGIP ``r_l``); deterministic.

    ``skimage.restoration.richardson_lucy(pad(img, 7, 'linear_ramp'), box psf_size^2, num_iter)``
    per channel, cropped back (computed by :func:`rl_iterations`, equal to skimage's to 1e-15). With the lab's ``num_iter=1`` this is a 5 x 5 box blur of the
    ramp-padded image (RL starts from 0.5 everywhere).
    num_iter: 1..10, default 1. psf_size: odd 3..9, default 5.
    """
    n = _int_param("num_iter", num_iter, 1, 10)
    p = _int_param("psf_size", psf_size, 3, 9)
    if p % 2 == 0:
        raise RestoreLabError(f"psf_size must be odd, got {p}")
    padded = np.pad(img.astype(np.float64), ((7, 7), (7, 7), (0, 0)), mode="linear_ramp")
    out = rl_iterations(padded, np.ones((p, p)) / (p * p), n)[7:-7, 7:-7]
    return quantize(out)


def rl_iterations(image: np.ndarray, psf: np.ndarray, num_iter: int) -> np.ndarray:
    """``skimage.restoration.richardson_lucy`` (clip=True) per channel, with cv2 filters
    ('same' mode, zero padding): the same numbers, ~100x faster on CPU."""
    def conv(x, k):  # scipy.signal.convolve(x, k, 'same') == correlation with the flipped kernel
        return cv2.filter2D(x, cv2.CV_64F, np.ascontiguousarray(np.flip(k)), borderType=cv2.BORDER_CONSTANT)

    est = np.full(image.shape, 0.5)
    for _ in range(num_iter):
        est *= conv(image / (conv(est, psf) + 1e-12), np.flip(psf))
    return np.clip(est, -1.0, 1.0)


richardson_lucy.deterministic = True  # the lab's definition ignores the seed


@register("sr")
def sr(img: np.ndarray, rng: np.random.Generator, scale=None, down=None, up=None) -> np.ndarray:
    """Down-sample by ``scale`` then resize back to the original size (GLV ``resize_tensor``).

    scale: None samples U(0.25, 0.5) (RestoreLab's choice: the stronger half of GLV's U(0.25, 1),
        so every sample is visibly degraded); allowed [0.05, 1].
    down, up: "nearest" | "bilinear" | "bicubic"; None picks one uniformly (GLV).
    """
    s = pick("scale", scale, rng, 0.25, 0.5, 0.05, 1.0)
    modes = tuple(INTERP)
    down = modes[int(rng.integers(3))] if down is None else down
    up = modes[int(rng.integers(3))] if up is None else up
    for name, m in (("down", down), ("up", up)):
        if m not in INTERP:
            raise RestoreLabError(f"{name} must be one of {', '.join(modes)}, got {m!r}")
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=INTERP[down])
    out = cv2.resize(small, (w, h), interpolation=INTERP[up])
    return quantize(out.reshape(h, w, -1))


def sinc_kernel(cutoff: float, ksize: int) -> np.ndarray:
    """Circular low-pass (2-D sinc, ``scipy.special.j1``) kernel, Real-ESRGAN / PromptGIP."""
    from scipy import special  # imported on use: ``import restorelab.degradations`` stays light

    c = (ksize - 1) / 2
    y, x = np.mgrid[0:ksize, 0:ksize]
    r = np.sqrt((x - c) ** 2 + (y - c) ** 2)
    k = cutoff * special.j1(cutoff * r) / (2 * np.pi * r + 1e-9)
    k[ksize // 2, ksize // 2] = cutoff ** 2 / (4 * np.pi)
    return k / k.sum()


@register("ringing")
def ringing(img: np.ndarray, rng: np.random.Generator, cutoff=1.2, ksize=15) -> np.ndarray:
    """Sinc (circular low-pass) filtering, reflect padding (PromptGIP ``add_ringing``); deterministic.

    cutoff: radians, default 1.2 (lab code); None samples U(pi/5, pi) (Real-ESRGAN); allowed [0.1, pi].
    ksize: odd kernel side, default 15 (lab code); allowed 3..31.
    """
    c = pick("cutoff", cutoff, rng, np.pi / 5, np.pi, 0.1, np.pi)
    k = _int_param("ksize", ksize, 3, 31)
    if k % 2 == 0:
        raise RestoreLabError(f"ksize must be odd, got {k}")
    return quantize(_filter(img, sinc_kernel(c, k)))


ringing.deterministic = True  # the lab's definition (fixed cutoff) ignores the seed


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """ImageNet-C's anti-aliased disk: a binary disk, normalised, then a small Gaussian blur."""
    half = max(8, int(np.ceil(radius)))
    ax = np.arange(-half, half + 1)
    xx, yy = np.meshgrid(ax, ax)
    d = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float32)
    d /= d.sum()
    ks = (3, 3) if radius <= 8 else (5, 5)
    return cv2.GaussianBlur(d, ks, alias_blur)


@register("defocus_blur")
def defocus_blur(img: np.ndarray, rng: np.random.Generator, radius=None, alias_blur=0.5) -> np.ndarray:
    """Disk (defocus) blur, ImageNet-C kernel (RestoreLab's substitute; not in the lab code).

    radius: pixels; None samples U(2, 4) (RestoreLab's choice, about ImageNet-C severities 1-2);
        allowed [0.5, 20].
    alias_blur: sigma of the anti-aliasing Gaussian, default 0.5 (ImageNet-C); allowed [0.01, 3].
    """
    r = pick("radius", radius, rng, 2.0, 4.0, 0.5, 20.0)
    ab = pick("alias_blur", alias_blur, rng, 0.5, 0.5, 0.01, 3.0)
    return quantize(_filter(img, disk_kernel(r, ab)))


@register("poisson_noise")
def poisson_noise(img: np.ndarray, rng: np.random.Generator, level=2.0) -> np.ndarray:
    """Shot noise ``poisson(img * 10^level) / 10^level`` (PromptGIP ``add_Poisson_noise``).

    level: default 2 (100 photons at white, lab code); None samples U(2, 4) (the lab's commented
        BSRGAN-style alternative); allowed [1, 6].
    """
    lv = pick("level", level, rng, 2.0, 4.0, 1.0, 6.0)
    vals = 10.0 ** lv
    return quantize(rng.poisson(img.astype(np.float64) * vals) / vals)


@register("inpainting")
def inpainting(img: np.ndarray, rng: np.random.Generator, lines=None, thickness=None, color=None) -> np.ndarray:
    """Random straight lines drawn white (added) or black (subtracted), then clipped (PromptGIP).

    lines: number of segments; None samples randint(5, 10) (i.e. 5..9, PromptGIP train) scaled by
        the image area / 256^2 (its training crops), at least 1 (RestoreLab's choice, so the
        density does not depend on the crop size); allowed 1..1000.
    thickness: pixels; None samples 5..9 (PromptGIP train); allowed 1..64.
    color: "white" | "black"; None picks one uniformly.
    Endpoints are uniform integers in [0, W] x [0, H] (``cv2.polylines``, as the lab code).
    """
    h, w = img.shape[:2]
    if lines is None:
        n = max(1, int(round(int(rng.integers(5, 10)) * h * w / INPAINT_REF_AREA)))
    else:
        n = _int_param("lines", lines, 1, 1000)
    t = int(rng.integers(5, 10)) if thickness is None else _int_param("thickness", thickness, 1, 64)
    col = ("white", "black")[int(rng.integers(2))] if color is None else color
    if col not in ("white", "black"):
        raise RestoreLabError(f"color must be white or black, got {col!r}")
    mask = np.zeros((h, w), np.uint8)
    pts = rng.integers(0, [w + 1, h + 1, w + 1, h + 1], size=(n, 4))
    for x1, y1, x2, y2 in pts:
        seg = np.array([[x1, y1], [x2, y2]], np.int32).reshape(-1, 1, 2)
        cv2.polylines(mask, [seg], False, 1, int(t))
    m = mask[:, :, None].astype(np.float32)
    return quantize(img + m if col == "white" else img - m)


@register("salt_pepper")
def salt_pepper(img: np.ndarray, rng: np.random.Generator, snr=0.95, salt=0.5) -> np.ndarray:
    """Impulse noise per pixel (all channels): kept with probability ``snr``, otherwise set to 1
    with probability ``salt`` or 0 (PromptGIP ``add_sp_noise``, vectorised).

    snr: default 0.95 (lab code); None samples U(0.9, 0.99); allowed [0, 1].
    salt: default 0.5 (lab code); allowed [0, 1].
    """
    p = pick("snr", snr, rng, 0.9, 0.99, 0.0, 1.0)
    s = pick("salt", salt, rng, 0.5, 0.5, 0.0, 1.0)
    h, w = img.shape[:2]
    u = rng.random((h, w, 2))
    out = img.copy()
    hit = u[:, :, 0] >= p
    out[hit] = (u[:, :, 1][hit] < s).astype(np.float32)[:, None]
    return quantize(out)
