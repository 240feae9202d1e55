"""Procedural images and noisy pairs, for the classroom demo and fast tests (no files read).

Images are smooth colour gradients with a few flat rectangles and discs on top: edges and
flat areas, like the piecewise-smooth photos denoisers are trained on. Everything is a pure
function of the seed.
"""

from __future__ import annotations

import numpy as np


def toy_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``n`` images, float32 (n, size, size, 3) in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    out = np.empty((n, size, size, 3), np.float32)
    for i in range(n):
        a, b, c = rng.uniform(-0.5, 0.5, (3, 3)).astype(np.float32)
        img = 0.5 + a * xx[..., None] + b * yy[..., None] + 0.2 * c * np.sin(6 * xx * yy)[..., None]
        for _ in range(int(rng.integers(2, 5))):
            colour = rng.uniform(0, 1, 3).astype(np.float32)
            cy, cx = rng.uniform(0, 1, 2)
            r = rng.uniform(0.1, 0.35)
            if rng.random() < 0.5:
                sel = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < r * rng.uniform(0.5, 1.5))
            else:
                sel = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            img[sel] = colour
        out[i] = np.clip(img, 0, 1)
    return out


def add_noise(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian noise of ``sigma`` on the 0-255 scale, clipped to [0, 1] (float32)."""
    rng = np.random.default_rng(seed)
    return np.clip(clean + rng.normal(0, sigma / 255.0, clean.shape).astype(np.float32), 0, 1)


class ToyPairs:
    """``ds[i]`` -> (noisy, clean, 0): float32 tensors (3, P, P); any non-negative index works.

    Sample i is image ``i % len(images)`` (random crop + flip when the images are larger than
    ``patch``) with fresh noise seeded by (seed, i), so every index is a new pair.
    """

    def __init__(self, images: np.ndarray, sigma: float = 25.0, patch: int | None = None, seed: int = 0):
        self.images, self.sigma, self.seed = images, float(sigma), int(seed)
        self.patch = patch or images.shape[1]

    def __len__(self) -> int:
        return 10_000_000

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, int(i)])
        img = self.images[int(i) % len(self.images)]
        p, h, w = self.patch, img.shape[0], img.shape[1]
        y, x = int(rng.integers(h - p + 1)), int(rng.integers(w - p + 1))
        img = img[y:y + p, x:x + p]
        if rng.random() < 0.5:
            img = img[:, ::-1]
        clean = np.ascontiguousarray(img)
        return add_noise(clean, self.sigma, int(rng.integers(2**31))), clean

    def __getitem__(self, i: int):
        import torch

        noisy, clean = self.sample(i)
        return torch.from_numpy(noisy.transpose(2, 0, 1).copy()), torch.from_numpy(clean.transpose(2, 0, 1).copy()), 0


def toy_val_set(n: int, size: int, sigma: float = 25.0, seed: int = 1, task: str = "denoise_25") -> dict:
    """``{task: [(noisy HxWx3, clean HxWx3), ...]}`` as ``Trainer(val_set=...)`` takes it."""
    images = toy_images(n, size, seed)
    return {task: [(add_noise(img, sigma, seed * 1000 + i), img) for i, img in enumerate(images)]}
