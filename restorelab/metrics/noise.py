"""No-reference checks of a photo: its noise level, its JPEG grid and quality, and what a restoration
changed (its tone; what kind of layer it took away).

``estimate_sigma``: the wavelet estimator of Donoho & Johnstone, as scikit-image's
``estimate_sigma`` (one level of the ``db2`` wavelet, ``median(|HH|) / 0.6745`` per channel,
averaged). It assumes white Gaussian noise and reads texture as noise, so on clean, detailed
photos it reports ~1/255; on JPEG photos it under-reads (compression removes the finest band).
"""

from __future__ import annotations

from typing import NamedTuple

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
    return block_grid(img, block)[0]


def block_grid(img: np.ndarray, block: int = 8) -> tuple[float, tuple[int, int]]:
    """``(blockiness, (row, column))``: the strength of the grid and where its blocks start."""
    y = np.asarray(img, np.float64)
    y = y @ LUMA.astype(np.float64) if y.ndim == 3 else y
    if min(y.shape) < 2 * block + 1:
        return 0.0, (0, 0)
    ratios, starts = [], []
    for d in (np.abs(np.diff(y, axis=0)).T, np.abs(np.diff(y, axis=1))):
        cols = d.mean(axis=0)  # one mean step per column position
        n = len(cols) // block * block
        phase = cols[:n].reshape(-1, block).mean(axis=0)
        k = int(np.argmax(phase))  # the strongest step is between pixels k and k + 1
        others = np.delete(phase, k).mean()
        ratios.append(phase[k] / others - 1.0 if others > 0 else 0.0)
        starts.append((k + 1) % block)
    return float(np.mean(ratios)), (starts[0], starts[1])


#: the IJG (libjpeg: OpenCV, Pillow) luminance quantization table at quality 50
IJG_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64).reshape(8, 8)
# the low frequencies a JPEG keeps non-zero most often, where the quantization steps show best
_FIT_POSITIONS = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2), (0, 3), (3, 0))
_FIT_QUALITIES = np.arange(5, 100)
_FIT_MAX_BLOCKS = 20000  # an evenly spaced subset of a big photo's blocks is as telling and faster
_DCT8 = np.array([[np.sqrt((1 if u == 0 else 2) / 8) * np.cos((2 * x + 1) * u * np.pi / 16) for x in range(8)]
                  for u in range(8)])  # orthonormal DCT-II: coefficients = D · block · Dᵀ


def ijg_luma_table(quality: int) -> np.ndarray:
    """The 8×8 luma quantization steps libjpeg uses at ``quality`` (1-100)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((IJG_LUMA * scale + 50) / 100), 1, 255)


class JpegReading(NamedTuple):
    """What :func:`jpeg_quality` reads from a photo's luma DCT."""

    quality: int  # the IJG quality whose steps fit best (100 when none was read)
    fit: float  # how well the coefficients sit on those steps: 1 exactly, ~0 not at all
    start: tuple[int, int]  # (row, column) where the 8×8 grid starts: (0, 0) unless cropped


def jpeg_quality(img: np.ndarray, phase: tuple[int, int] | None = None) -> JpegReading:
    """``(quality, fit, start)``: the IJG quality whose luma steps the photo's 8×8 DCT coefficients sit on.

    A JPEG stores each block's DCT coefficient as a multiple of its step ``Q``, so after decoding
    the photo's coefficients cluster at ``k·Q``: ``fit`` is the mean of ``cos(2π c / Q)`` over the
    coefficients such a step would keep non-zero (1: exactly on the grid, ~0: no such grid; clean
    photos read 0.0-0.2, JPEG q10-75 0.7-1.0, q90 0.4-0.65). A table whose steps divide the true
    ones fits too, so the quality is the lowest one that fits within 0.05 of the best. Assumes IJG
    tables (OpenCV, Pillow and most web encoders scale them; a camera's own tables fit less well).
    The grid is taken where a JPEG's starts (the top-left corner) or, for a cropped JPEG, where the
    strongest block edges lie (``block_grid``; ``phase`` if already measured); the better fit counts.
    ``(100, 0.0, (0, 0))`` below 8×8 pixels.
    """
    y = luma255(img)
    phase = block_grid(img)[1] if phase is None else phase
    starts = [(0, 0)] + [phase] * (phase != (0, 0))
    return max((JpegReading(*_fit_quality(y, s), s) for s in starts), key=lambda r: r.fit)


def luma255(img: np.ndarray) -> np.ndarray:
    """JFIF luma (BT.601 Y) of an H x W x 3 image in [0, 1], on the 0-255 scale, as float64."""
    y = np.asarray(img, np.float64)
    return 255.0 * (y @ LUMA.astype(np.float64) if y.ndim == 3 else y)


def _blocks(y: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """The whole 8×8 blocks of ``y - 128`` whose grid starts at ``start``: ``(rows, cols, 8, 8)``."""
    r, c = start
    h, w = max(y.shape[0] - r, 0) // 8 * 8, max(y.shape[1] - c, 0) // 8 * 8
    return (y[r:r + h, c:c + w] - 128.0).reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)


def block_dct(y: np.ndarray, start: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Orthonormal 8×8 DCT of the whole blocks of ``y - 128`` whose grid starts at ``start``:
    an ``(rows, cols, 8, 8)`` array (empty when no whole block fits)."""
    return _DCT8 @ _blocks(y, start) @ _DCT8.T


def block_idct(coef: np.ndarray) -> np.ndarray:
    """The inverse of :func:`block_dct`: the ``8·rows`` × ``8·cols`` plane (128 added back)."""
    nb_h, nb_w = coef.shape[:2]
    return (_DCT8.T @ coef @ _DCT8).transpose(0, 2, 1, 3).reshape(nb_h * 8, nb_w * 8) + 128.0


def _fit_quality(y: np.ndarray, start: tuple[int, int]) -> tuple[int, float]:
    """``(quality, fit)`` for a luma plane (0-255) whose grid starts at ``start``."""
    blocks = _blocks(y, start).reshape(-1, 8, 8)
    if len(blocks) == 0:
        return 100, 0.0
    coef = _DCT8 @ blocks[:: max(1, len(blocks) // _FIT_MAX_BLOCKS)] @ _DCT8.T
    fits = []
    for q in _FIT_QUALITIES:
        steps = ijg_luma_table(int(q))
        per_position = []
        for u, v in _FIT_POSITIONS:
            c, step = coef[:, u, v], steps[u, v]
            kept = c[np.abs(c) > step / 2]
            if len(kept) >= 20:
                per_position.append(np.cos(2 * np.pi * kept / step).mean())
        fits.append(np.mean(per_position) if per_position else 0.0)
    fits = np.asarray(fits)
    best = int(np.argmax(fits >= fits.max() - 0.05))
    return int(_FIT_QUALITIES[best]), float(max(fits[best], 0.0))


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
