"""Classical denoisers as first-class restorers: what a user would otherwise reach for.

Both estimate the noise level from the photo itself (``metrics.noise.estimate_sigma``; no σ is
given to them, as none is given to our blind models), from the whole photo even where a big one is
then restored in tiles like a network (``inference.restore`` holds the estimate, :meth:`ClassicalRestorer.fixed_sigma`):

* ``nlm``: OpenCV's non-local means (``fastNlMeansDenoisingColored``, 7x7 patches, 21x21 search)
  with ``h = 0.6 σ`` on luma and ``1.0 σ`` on colour. The factors were chosen on six BSDS
  *training* photos with Gaussian (σ 5-50) and camera noise: the papers' ``h = σ`` over-smooths,
  and camera noise is mostly chroma.
* ``bm3d``: CBM3D (the ``bm3d`` package, ``bm3d_rgb`` with ``sigma_psd = σ``).

``reapply_jpeg`` is no menu entry but the JPEG step behind the do-no-harm guard (``guard``): a
JPEG's blocking deblocked by compressing it again at its own quality on all 64 shifts of the 8×8
grid and averaging (Nosratinia 2001, "Enhancement of JPEG-compressed images by re-application of JPEG").
``project_jpeg`` is the guard's other JPEG tool: a restoration's luma clipped into the file's
quantization intervals (the projection onto the quantization constraint set of JPEG post-processing).

Below σ = 0.5/255 the photo is returned unchanged (nothing to remove). They are ``nn.Module``s
so that everything which times, lists or compares our models takes them too; ``forward`` runs
the numpy method per image.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import torch
from torch import nn

from restorelab.degradations.compression import codec_u8, to_u8
from restorelab.errors import RestoreLabError
from restorelab.metrics.noise import block_dct, block_idct, estimate_sigma, ijg_luma_table, luma255
from restorelab.paths import CLASSICAL_METHODS

MIN_SIGMA = 0.5 / 255.0
NLM_H, NLM_H_COLOR = 0.6, 1.0


def nlm(img: np.ndarray, sigma: float) -> np.ndarray:
    u8 = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    s = sigma * 255.0
    out = cv2.fastNlMeansDenoisingColored(u8, None, NLM_H * s, NLM_H_COLOR * s, 7, 21)
    return out.astype(np.float32) / np.float32(255.0)


def cbm3d(img: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d  # a heavy import (scipy, PyWavelets): only when CBM3D runs

    return np.clip(bm3d.bm3d_rgb(np.asarray(img, np.float32), sigma), 0.0, 1.0).astype(np.float32)


def reapply_jpeg(img: np.ndarray, quality: int, step: int = 1) -> np.ndarray:
    """The mean of ``img`` JPEG-compressed at ``quality`` on every ``step``-th shift of the 8×8 grid.

    Each shifted compression keeps what a JPEG at that quality can hold and drops what it cannot;
    averaged over shifts, the original grid's block edges cancel while detail common to all stays.
    64 encodes (``step=1``; ~0.01 s each per megapixel), 16 with ``step=2``.
    """
    bgr = to_u8(img)[:, :, ::-1]
    acc = np.zeros(bgr.shape, np.int32)
    shifts = [(dy, dx) for dy in range(0, 8, step) for dx in range(0, 8, step)]
    for shift in shifts:
        acc += codec_u8(bgr, quality, shift)
    return acc[:, :, ::-1].astype(np.float32) / np.float32(255.0 * len(shifts))


def project_jpeg(img: np.ndarray, out: np.ndarray, quality: int, start: tuple[int, int] = (0, 0),
                 width: float = 1.0) -> np.ndarray:
    """``out`` made consistent with the JPEG ``img``: its luma's 8×8 DCT coefficients clipped into
    the quantization intervals ``kQ ± width·Q/2`` around ``img``'s (IJG luma table of ``quality``,
    grid starting at ``start``).

    With ``width=1`` the intervals are all the photo before compression could have been: a projection
    onto a convex set holding it, which moves ``out``'s luma closer to it, never away. Most intervals
    are ``k = 0`` ones, where the clean coefficient lies mostly near the middle, so a narrower
    ``width`` (the guard's 0.25) also undoes more of a network's own errors (docs/real-photos.md).
    Chroma (subsampled, its own table) and partial blocks at the edges are left as they are; the
    same shift on R, G and B changes luma only.
    """
    table, half = ijg_luma_table(quality), width / 2.0
    before, after = block_dct(luma255(img), start), block_dct(y := luma255(out), start)
    k = np.round(before / table)
    coef = np.clip(after, (k - half) * table, (k + half) * table)
    (r, c), (h, w) = start, (coef.shape[0] * 8, coef.shape[1] * 8)
    delta = np.zeros(y.shape, np.float32)
    delta[r:r + h, c:c + w] = block_idct(coef) - y[r:r + h, c:c + w]
    return np.clip(np.asarray(out, np.float32) + delta[..., None] / np.float32(255.0), 0.0, 1.0)


@dataclass(frozen=True)
class Classical:
    name: str
    label: str
    fn: Callable[[np.ndarray, float], np.ndarray]
    about: str  # one line, from ``paths.CLASSICAL_METHODS`` (the app lists it without torch)


CLASSICAL = {name: Classical(name, name, fn, CLASSICAL_METHODS[name]) for name, fn in (("nlm", nlm), ("bm3d", cbm3d))}


class ClassicalRestorer(nn.Module):
    """A classical denoiser behind the model interface (N x 3 x H x W in [0, 1] -> same)."""

    def __init__(self, name: str):
        super().__init__()
        if name not in CLASSICAL:
            raise RestoreLabError(f"unknown classical method {name!r}; valid: {', '.join(CLASSICAL)}")
        self.method = CLASSICAL[name]
        self.last_sigma: float | None = None  # the estimate of the last image, on 0-1
        self.sigma: float | None = None  # set by fixed_sigma: every image (tile) uses it, none estimated

    @contextlib.contextmanager
    def fixed_sigma(self, img: np.ndarray):
        """Use the noise level of the whole photo ``img`` for every tile of it (a tile's own estimate
        would vary with its content)."""
        self.sigma = self.last_sigma = estimate_sigma(img)
        try:
            yield self
        finally:
            self.sigma = None

    def restore_image(self, img: np.ndarray) -> np.ndarray:
        sigma = estimate_sigma(img) if self.sigma is None else self.sigma
        self.last_sigma = sigma
        if sigma < MIN_SIGMA:
            return np.array(img, np.float32, copy=True)
        return self.method.fn(img, sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        imgs = x.detach().float().permute(0, 2, 3, 1).cpu().numpy()
        outs = [self.restore_image(np.ascontiguousarray(im)) for im in imgs]
        return torch.from_numpy(np.stack(outs)).permute(0, 3, 1, 2).contiguous()


def is_classical(name: str) -> bool:
    return name in CLASSICAL
