"""The 11 GRIDS degradation tasks, the paper's groups, and a training dataset over them.

A GRIDS task name is a registered degradation name; the table below fixes the parameters the
task uses (``None`` = sampled per image in the degradation's documented range).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.tensors import dihedral

#: The 11 tasks in the paper's Table 1 order.
TASKS: Tuple[str, ...] = ("gaussian_blur", "motion_blur", "richardson_lucy", "sr", "ringing", "defocus_blur",
                          "jpeg", "poisson_noise", "inpainting", "gaussian_noise", "salt_pepper")

LABELS: Dict[str, str] = {
    "gaussian_blur": "Gaussian blur", "motion_blur": "Motion blur", "richardson_lucy": "R-L", "sr": "SR",
    "ringing": "Ringing", "defocus_blur": "Defocus blur", "jpeg": "JPEG", "poisson_noise": "Poisson noise",
    "inpainting": "Inpainting", "gaussian_noise": "Gaussian noise", "salt_pepper": "S&P noise",
}

#: Task -> registry parameters. ``gaussian_noise`` samples sigma in U(5, 50) (core default range;
#: PromptGIP trains on U(10, 50)); ``jpeg`` samples quality in 10..50 (PromptGIP: 10..40).
PARAMS: Dict[str, dict] = {t: {} for t in TASKS}
PARAMS["gaussian_noise"] = {"sigma": None}

#: The 4 groups GRIDS reports for delta = 0.7 dB (paper section 5.3).
PAPER_GROUPS: Tuple[Tuple[str, ...], ...] = (
    ("gaussian_blur", "motion_blur", "richardson_lucy"),
    ("sr", "ringing", "defocus_blur"),
    ("jpeg", "poisson_noise", "inpainting"),
    ("gaussian_noise", "salt_pepper"),
)


def check_tasks(tasks: Sequence[str]) -> Tuple[str, ...]:
    """Validate task names (unknown or repeated names raise)."""
    tasks = tuple(tasks)
    bad = [t for t in tasks if t not in PARAMS]
    if bad:
        raise RestoreLabError(f"unknown GRIDS task(s) {', '.join(bad)}; valid: {', '.join(TASKS)}")
    if len(set(tasks)) != len(tasks):
        raise RestoreLabError(f"repeated task in {tasks}")
    if not tasks:
        raise RestoreLabError("no tasks given")
    return tasks


def parse_tasks(text: str) -> Tuple[str, ...]:
    """``"sr,jpeg"`` or ``"all"`` -> task tuple."""
    if text.strip() == "all":
        return TASKS
    return check_tasks(t.strip() for t in text.split(",") if t.strip())


def degrade(task: str, img: np.ndarray, seed=0) -> np.ndarray:
    """Apply GRIDS ``task`` to an HxWx3 float [0,1] image with ``default_rng(seed)``."""
    from restorelab import degradations as D

    check_tasks([task])
    return D.apply(task, img, seed=seed, **PARAMS[task])


class GridsPairs:
    """Degraded/clean training patches for a set of GRIDS tasks (like ``data.SyntheticPairs``).

    Sample ``index`` is a pure function of ``(seed, index)``: ``rng = default_rng([seed, index])``,
    task ``tasks[index % len(tasks)]`` (round-robin = balanced mixing), a random photo, a random
    P x P crop, a random dihedral transform, then the degradation with the same ``rng``.
    ``ds[i]`` -> ``(degraded, clean, task_id)``: float32 tensors (3, P, P) in [0, 1] and an int.
    """

    def __init__(self, clean_dir: str, tasks: Sequence[str], patch_size: int = 64, seed: int = 0,
                 files: Optional[Sequence[str]] = None):
        from restorelab.data._imread import list_images, read_uint8

        self.tasks = check_tasks(tasks)
        self.patch_size, self.seed = int(patch_size), int(seed)
        paths = list(files) if files is not None else list_images(clean_dir)
        paths = [p if os.path.isabs(p) or os.path.exists(p) else os.path.join(clean_dir, p) for p in paths]
        if not paths:
            raise RestoreLabError(f"no images in {clean_dir}")
        self.images: List[np.ndarray] = [self._pad(read_uint8(p)) for p in paths]

    def _pad(self, img: np.ndarray) -> np.ndarray:
        p, (h, w) = self.patch_size, img.shape[:2]
        if h < p or w < p:
            img = np.pad(img, ((0, max(0, p - h)), (0, max(0, p - w)), (0, 0)), mode="symmetric")
        return np.ascontiguousarray(img)

    def __len__(self) -> int:
        return 10_000_000

    def sample(self, index: int):
        """``(degraded, clean, task_id)`` as float32 P x P x 3 arrays and an int."""
        from restorelab import degradations as D

        rng = np.random.default_rng([self.seed, int(index)])
        task_id = int(index) % len(self.tasks)
        img = self.images[int(rng.integers(len(self.images)))]
        p, (h, w) = self.patch_size, img.shape[:2]
        y, x = int(rng.integers(h - p + 1)), int(rng.integers(w - p + 1))
        crop = img[y:y + p, x:x + p]
        k = int(rng.integers(8))
        crop = dihedral(crop, k)
        clean = crop.astype(np.float32) / np.float32(255.0)
        task = self.tasks[task_id]
        return D.get(task)(clean, rng, **PARAMS[task]), clean, task_id

    def __getitem__(self, index: int):
        import torch

        deg, clean, tid = self.sample(index)
        return (torch.from_numpy(np.ascontiguousarray(deg.transpose(2, 0, 1))),
                torch.from_numpy(np.ascontiguousarray(clean.transpose(2, 0, 1))), tid)


def val_set(clean_files: Sequence[str], tasks: Sequence[str], size: int = 128,
            seed: int = 10_000) -> Dict[str, list]:
    """task -> [(degraded, clean)] on centre crops of ``clean_files``; image i of task t uses seed
    ``[seed, i, TASKS.index(t)]`` (the same pairs whichever group a model is trained on)."""
    from restorelab.io import load_image

    out: Dict[str, list] = {t: [] for t in check_tasks(tasks)}
    for i, path in enumerate(clean_files):
        img = load_image(path)
        h, w = img.shape[:2]
        top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
        img = np.ascontiguousarray(img[top:top + size, left:left + size])
        for t in out:
            out[t].append((degrade(t, img, seed=[seed, i, TASKS.index(t)]), img))
    return out
