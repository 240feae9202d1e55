"""Small shared helpers: image <-> tensor, PSNR from an MSE, a scoped thread count, noise."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from restorelab.errors import RestoreLabError


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """float ``(H, W, 3)`` in [0, 1] -> ``(1, 3, H, W)`` float32."""
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise RestoreLabError(f"expected an H x W x 3 image, got shape {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]


def to_image(x: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` -> float32 ``(H, W, 3)`` in [0, 1] (a copy)."""
    return x.detach()[0].permute(1, 2, 0).clamp(0, 1).numpy().astype(np.float32, copy=True)


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for data range 1 (as ``restorelab.metrics.psnr``); inf for a zero MSE."""
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run with ``torch.set_num_threads(n)`` (n > 0), restoring the previous count afterwards."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def add_noise(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """``clean`` + N(0, (sigma/255)^2), clipped to [0, 1], **not** quantised.

    As the DIP and OES code (``get_noisy_image``: add, clip, keep floats); the project's
    evaluation sets quantise to uint8 levels instead (``NoisyFolder``), a ~0.02 dB difference.
    """
    from restorelab.degradations import apply

    if not 0.0 <= float(sigma) <= 255.0:
        raise RestoreLabError(f"sigma must be in [0, 255], got {sigma}")
    return apply("gaussian_noise", clean, seed=seed, sigma=float(sigma), quantize=False)
