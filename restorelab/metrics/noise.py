"""No-reference checks of a photo: its noise level, and how a restoration changed its tone.

``estimate_sigma``: the wavelet estimator of Donoho & Johnstone, as scikit-image's
``estimate_sigma`` (one level of the ``db2`` wavelet, ``median(|HH|) / 0.6745`` per channel,
averaged). It assumes white Gaussian noise and reads texture as noise, so on clean, detailed
photos it reports ~1/255; on JPEG photos it under-reads (compression removes the finest band).
"""

from __future__ import annotations

import cv2
import numpy as np

# db2 decomposition high-pass filter (unit norm: white noise of std s gives HH of std s)
_DB2_HI = np.array([-0.48296291314469025, 0.836516303737469, -0.22414386804185735, -0.12940952255092145],
                   np.float64)
_MAD = 0.6744897501960817  # Phi^-1(0.75)


def estimate_sigma(img: np.ndarray) -> float:
    """Noise std of an H x W x 3 (or H x W) float image in [0, 1], on the same scale."""
    x = np.asarray(img, np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    if min(x.shape[:2]) < 8:
        return 0.0
    sig = []
    k = _DB2_HI[::-1].copy()  # filter2D correlates; flip for a convolution
    for c in range(x.shape[2]):
        ch = cv2.copyMakeBorder(x[:, :, c], 3, 3, 3, 3, cv2.BORDER_REFLECT)
        rows = cv2.filter2D(ch, -1, k[None, :], anchor=(0, 0), borderType=cv2.BORDER_REFLECT)
        hh = cv2.filter2D(rows, -1, k[:, None], anchor=(0, 0), borderType=cv2.BORDER_REFLECT)
        hh = hh[3:-3:2, 3:-3:2]
        d = np.abs(hh[hh != 0])
        sig.append(float(np.median(d)) / _MAD if d.size else 0.0)
    return float(np.mean(sig))


#: BT.601 luma weights of R, G, B (what ``tone_change`` calls brightness; the saturation augmentation's axis)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def tone_change(before: np.ndarray, after: np.ndarray) -> dict:
    """How ``after`` differs in overall tone from ``before`` (both H x W x 3 in [0, 1]).

    ``brightness``: mean luma change (BT.601) on 0-255; ``color``: the largest change of a channel's
    mean relative to the luma change (a colour cast), on 0-255.
    """
    a, b = np.asarray(before, np.float64), np.asarray(after, np.float64)
    d_chan = (b.mean(axis=(0, 1)) - a.mean(axis=(0, 1))) * 255.0
    d_luma = float(d_chan @ LUMA.astype(np.float64))
    return {"brightness": d_luma, "color": float(np.max(np.abs(d_chan - d_luma)))}
