"""PSNR and SSIM, computed the way the restoration papers we compare against do.

Protocol (matches the PromptIR / MIR-L evaluation code, which calls skimage):

* inputs are RGB float images, shape ``(H, W, 3)`` (``(H, W)`` also accepted),
  values in ``[0, 1]``, ``data_range=1``;
* no quantisation to 8 bits and no border shave before measuring;
* PSNR = ``10 log10(data_range^2 / MSE)`` over all pixels and channels;
* SSIM is Wang et al. 2004 / the MATLAB reference: 11x11 Gaussian window,
  sigma 1.5 (``scipy.ndimage.gaussian_filter``, truncate 3.5, mode 'reflect'),
  K1 0.01, K2 0.03, population covariance, computed per channel and averaged.
  Like ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)``,
  the SSIM map is averaged after cropping the 5-pixel filter radius from
  every border, so results agree with skimage to ~1e-6. Images must be at
  least 11x11 (the window size), as skimage requires.

``y_channel=True`` measures on the BT.601 luma ``rgb_to_y`` (MATLAB ``rgb2ycbcr``
Y scaled to [0, 1], i.e. in [16/255, 235/255]) instead, as BasicSR does.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from restorelab.errors import RestoreLabError

_SIGMA = 1.5
_TRUNCATE = 3.5
_WIN = 2 * int(_TRUNCATE * _SIGMA + 0.5) + 1  # 11, the filter's true footprint
_K1, _K2 = 0.01, 0.03
# MATLAB rgb2ycbcr luma weights for RGB in [0, 1] giving Y in [16, 235].
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """RGB ``(H, W, 3)`` float in [0, 1] -> BT.601 luma ``(H, W)`` float64 in [16/255, 235/255]."""
    arr = np.asarray(img, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise RestoreLabError(f"rgb_to_y needs an HxWx3 RGB image, got shape {arr.shape}")
    return (16.0 + arr @ _Y_WEIGHTS) / 255.0


def _prepare(a: np.ndarray, b: np.ndarray, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes match and return float64 copies (luma if ``y_channel``)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise RestoreLabError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.size == 0:
        raise RestoreLabError(f"cannot measure empty images (shape {a.shape})")
    if y_channel:
        return rgb_to_y(a), rgb_to_y(b)
    return a.astype(np.float64), b.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, y_channel: bool = False) -> float:
    """PSNR in dB between two same-shape images in [0, data_range]; ``inf`` if identical."""
    a, b = _prepare(a, b, y_channel)
    return psnr_from_mse(float(np.mean((a - b) ** 2)), data_range)


def psnr_from_mse(mse: float, data_range: float = 1.0) -> float:
    """PSNR in dB of a mean squared error on data in [0, data_range]; ``inf`` for a zero MSE."""
    if mse <= 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, y_channel: bool = False) -> float:
    """Mean SSIM of two same-shape ``(H, W, 3)`` (or ``(H, W)``) images, per channel then averaged.

    See the module docstring for the exact protocol. Both sides must be >= 11 pixels.
    """
    a, b = _prepare(a, b, y_channel)
    if a.ndim not in (2, 3):
        raise RestoreLabError(f"SSIM needs HxW or HxWxC images, got shape {a.shape}")
    if min(a.shape[:2]) < _WIN:
        raise RestoreLabError(
            f"SSIM needs images at least {_WIN}x{_WIN} pixels (its Gaussian window), "
            f"got {a.shape[0]}x{a.shape[1]}"
        )
    if a.ndim == 2:
        return _ssim_2d(a, b, data_range)
    return float(np.mean([_ssim_2d(a[..., c], b[..., c], data_range) for c in range(a.shape[2])]))


def _ssim_2d(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """SSIM of one float64 channel, mirroring skimage's Gaussian, population-covariance path."""

    def blur(img: np.ndarray) -> np.ndarray:
        return gaussian_filter(img, sigma=_SIGMA, truncate=_TRUNCATE, mode="reflect")

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    smap = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    # skimage ignores the filter radius at each border, where 'reflect' padding dominates.
    pad = (_WIN - 1) // 2
    return float(smap[pad:-pad, pad:-pad].mean())
