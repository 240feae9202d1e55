"""No-reference checks of a photo: its noise level, its JPEG grid, and what a restoration changed
(its tone; what kind of layer it took away).

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


def blockiness(img: np.ndarray, block: int = 8) -> float:
    """How much a photo shows a ``block``-pixel grid (JPEG's 8×8 DCT blocks): 0 for none.

    Mean absolute luma step across a grid line over the mean step between other neighbours, minus
    1, per axis at its strongest of the ``block`` phases (a cropped JPEG's grid need not start at 0),
    averaged over the two axes. Natural detail has no such period, so clean photos read ~0.01;
    JPEG q20 reads ~0.3, q90 ~0.02.
    """
    y = np.asarray(img, np.float64)
    y = y @ LUMA.astype(np.float64) if y.ndim == 3 else y
    if min(y.shape) < 2 * block + 1:
        return 0.0
    ratios = []
    for d in (np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0)).T):
        cols = d.mean(axis=0)  # one mean step per column position
        n = len(cols) // block * block
        phase = cols[:n].reshape(-1, block).mean(axis=0)
        k = int(np.argmax(phase))
        others = np.delete(phase, k).mean()
        ratios.append(phase[k] / others - 1.0 if others > 0 else 0.0)
    return float(np.mean(ratios))


def removed_layer(before: np.ndarray, after: np.ndarray) -> dict:
    """What a restoration took away from a photo: the luma residual ``before - after``.

    ``change_db``: PSNR of ``after`` against ``before`` (large = barely touched); ``white``: the
    residual's finest-band noise estimate over its RMS (~1 when what went was white noise, ~0.2-0.5
    when it was texture or detail); ``brighter``: the share of the residual's energy where the photo
    was brighter than the result (~1 for rain streaks or a haze veil, ~0.5 for smoothing); ``thin``: the
    share of that brighter part's energy finer than a Gaussian of σ 2 px (rain streaks 0.2-0.5; a haze
    veil or a darkened photo under 0.1).
    """
    r = np.clip(np.asarray(before, np.float32), 0, 1) - np.clip(np.asarray(after, np.float32), 0, 1)
    mse = float(np.mean(np.square(r, dtype=np.float64)))
    d = (r @ LUMA if r.ndim == 3 else r).astype(np.float64)  # float32 for the photo-sized arrays, 64 for sums
    del r
    energy = float(np.sum(d * d))
    rms = float(np.sqrt(energy / d.size))
    bright = np.maximum(d, 0)
    b_energy = float(np.sum(bright * bright))
    fine = bright - cv2.GaussianBlur(bright, (0, 0), 2.0)
    return {"change_db": float("inf") if mse == 0 else float(10 * np.log10(1 / mse)),
            "white": estimate_sigma(d) / rms if rms > 0 else 0.0,
            "brighter": b_energy / energy if energy > 0 else 0.0,
            "thin": float(np.sum(fine * fine)) / b_energy if b_energy > 0 else 0.0}
