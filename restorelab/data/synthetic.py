"""On-the-fly synthetic training pairs from clean photos.

``SyntheticPairs[index]`` is a pure function of ``(seed, index)`` (and the file list):
training resumes exactly by index, and DDP ranks can take disjoint index sets. Nothing
uses global random state, so DataLoader workers need no seeding.

The synthesis check (``restorelab check-synthesis``) is here too: ``compare_to_real`` and
``compare_noise_levels`` set a degradation synthesised on clean photos against real degraded
folders (the array statistics themselves are in :mod:`restorelab.degradations.stats`).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from restorelab.data._imread import list_images, read_uint8
from restorelab.data.tasks import ALL_IN_ONE_TASKS, parse_task
from restorelab.errors import RestoreLabError
from restorelab.metrics.noise import LUMA
from restorelab.tensors import dihedral

#: ``len()`` when no ``length`` is given. Indices are already random, so iterate
#: sequentially (e.g. ``range(start, stop)``); do not shuffle such a long dataset.
DEFAULT_LENGTH = 10_000_000


PHOTO_AUG_PROB = 0.5
SHRINK_RANGE = (0.5, 1.0)       # scale factor of the photo a crop is cut from
SATURATION_RANGE = (1.0, 1.6)   # chroma gain about the luma


class SyntheticPairs:
    """Degraded/clean training patches synthesised from clean photos.

    clean_dir: folder of clean photos (all are decoded once into RAM as uint8).
    tasks: task names (see ``parse_task``); ``task_id`` is the position in this tuple.
    patch_size: side P of the square crops (photos smaller than P are mirror-padded).
    seed: base seed; ``index`` and ``seed`` fully determine a sample.
    length: ``len()``; default ``DEFAULT_LENGTH``.
    files: optional subset of file names (or paths) inside ``clean_dir``.
    augment: random dihedral transform (8 flips/rot90s, identity included) before synthesis.
    photo_augment: photos beyond the training set's look (held-out sets such as Set14 and McMaster
        have finer detail per pixel and stronger colours than BSDS500): with probability
        ``PHOTO_AUG_PROB`` the crop is cut from the photo shrunk by U``SHRINK_RANGE`` (area
        resampling: sharper, denser detail), and independently, with the same probability, the
        clean crop's saturation is scaled by U``SATURATION_RANGE`` about its luma. Off by default
        (samples of earlier runs stay what they were).

    Sample ``index``: ``rng = default_rng([seed, index])``; task ``tasks[index % len(tasks)]``
    (round-robin, so every run of ``len(tasks)`` consecutive indices holds each task once);
    a random photo, a random P x P crop, a random dihedral transform, then the task's
    degradation on the crop with the same ``rng``.
    ``dataset[index]`` -> ``(degraded, clean, task_id)``: torch float32 (3, P, P) in [0, 1]
    and an int; ``dataset.sample(index)`` gives the same as numpy H x W x 3 arrays.
    """

    def __init__(self, clean_dir: str, tasks: Sequence[str] = ALL_IN_ONE_TASKS, patch_size: int = 64,
                 seed: int = 0, length: Optional[int] = None, files: Optional[Sequence[str]] = None,
                 augment: bool = True, photo_augment: bool = False):
        from restorelab import degradations as D

        if isinstance(tasks, str):
            tasks = (tasks,)
        self.tasks: Tuple[str, ...] = tuple(tasks)
        if not self.tasks:
            raise RestoreLabError("tasks must name at least one task")
        self._fns = []
        for t in self.tasks:
            deg, params = parse_task(t)
            D.check_params(deg, params)
            self._fns.append((D.get(deg), params))
        if not (isinstance(patch_size, (int, np.integer)) and patch_size >= 1):
            raise RestoreLabError(f"patch_size must be a positive integer, got {patch_size!r}")
        if not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise RestoreLabError(f"seed must be a non-negative integer, got {seed!r}")
        if length is not None and not (isinstance(length, (int, np.integer)) and length >= 1):
            raise RestoreLabError(f"length must be a positive integer, got {length!r}")
        self.patch_size = int(patch_size)
        self.seed = int(seed)
        self.length = int(length) if length is not None else DEFAULT_LENGTH
        self.augment = bool(augment)
        self.photo_augment = bool(photo_augment)
        self.clean_dir = os.fspath(clean_dir)
        self.files = self._resolve_files(files)
        self.images: List[np.ndarray] = [self._prepare(read_uint8(p)) for p in self.files]

    def _resolve_files(self, files) -> List[str]:
        if files is None:
            out = list_images(self.clean_dir)
            if not out:
                raise RestoreLabError(f"no images in {self.clean_dir}")
            return out
        out = []
        for f in files:
            p = os.fspath(f)
            if not os.path.isabs(p) and not os.path.exists(p):
                p = os.path.join(self.clean_dir, p)
            if not os.path.isfile(p):
                raise RestoreLabError(f"clean image not found: {p}")
            out.append(p)
        if not out:
            raise RestoreLabError("files is empty")
        return out

    def _prepare(self, img: np.ndarray) -> np.ndarray:
        p = self.patch_size
        h, w = img.shape[:2]
        if h < p or w < p:
            img = np.pad(img, ((0, max(0, p - h)), (0, max(0, p - w)), (0, 0)), mode="symmetric")
        return np.ascontiguousarray(img)

    def __len__(self) -> int:
        return self.length

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    def task_of(self, index: int) -> int:
        """The task id of sample ``index`` (no work done)."""
        return int(index) % len(self.tasks)

    def sample(self, index: int):
        """``(degraded, clean, task_id)`` as float32 P x P x 3 numpy arrays and an int."""
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        index = int(index)
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range [0, {self.length})")
        rng = np.random.default_rng([self.seed, index])
        task_id = index % len(self.tasks)
        img = self.images[int(rng.integers(len(self.images)))]
        p = self.patch_size
        h, w = img.shape[:2]
        q = p  # the side cut from the photo
        if self.photo_augment and rng.random() < PHOTO_AUG_PROB:
            q = min(h, w, int(round(p / rng.uniform(*SHRINK_RANGE))))
        y = int(rng.integers(h - q + 1))
        x = int(rng.integers(w - q + 1))
        crop = img[y:y + q, x:x + q]
        if q != p:
            crop = cv2.resize(crop, (p, p), interpolation=cv2.INTER_AREA)
        if self.augment:
            crop = dihedral(crop, int(rng.integers(8)))
        clean = crop.astype(np.float32) / np.float32(255.0)  # contiguous copy, = load_image values
        if self.photo_augment and rng.random() < PHOTO_AUG_PROB:
            luma = clean @ LUMA[:, None]
            clean = np.clip(luma + np.float32(rng.uniform(*SATURATION_RANGE)) * (clean - luma), 0.0, 1.0)
        fn, params = self._fns[task_id]
        degraded = fn(clean, rng, **params)
        return degraded, clean, task_id

    def __getitem__(self, index: int):
        import torch

        degraded, clean, task_id = self.sample(index)
        return (torch.from_numpy(np.ascontiguousarray(degraded.transpose(2, 0, 1))),
                torch.from_numpy(np.ascontiguousarray(clean.transpose(2, 0, 1))),
                task_id)

    def __repr__(self) -> str:
        return (f"SyntheticPairs({self.clean_dir!r}, tasks={self.tasks}, patch_size={self.patch_size}, "
                f"photo_augment={self.photo_augment}, "
                f"seed={self.seed}, {len(self.images)} photos)")


# -- synthesis vs real -------------------------------------------------------------------------
def _clean_files(clean_dir: str) -> List[str]:
    files = list_images(clean_dir)
    if not files:
        raise RestoreLabError(f"no images in clean folder {clean_dir}")
    return files


def compare_to_real(kind: str, real_dir: str, clean_dir: str, n: int = 50, seed: int = 0,
                    params: Optional[dict] = None) -> Dict:
    """Real-pair residual stats vs. stats of ``kind`` synthesised on ``n`` clean photos.

    kind: 'rain' or 'haze' (any registered degradation name works).
    real_dir: a paired folder (any layout ``restorelab.data.find_pairs`` understands).
    clean_dir: folder of clean photos; ``n`` of them are drawn (seeded by ``seed``), and
        photo ``i`` is degraded with seed ``[seed, i]`` on the full image.
    params: optional fixed parameters for the degradation (default: all sampled).
    Returns ``{'kind', 'real': residual_stats, 'synthetic': residual_stats}``.
    """
    from restorelab import degradations as D
    from restorelab.data.folders import find_pairs
    from restorelab.degradations.stats import residual_stats
    from restorelab.io import load_image

    fn = D.get(kind)
    params = dict(params or {})
    D.check_params(kind, params)
    pairs = find_pairs(real_dir)
    real_in, real_tg = [], []
    for ip, tp in pairs:
        x, y = load_image(ip), load_image(tp)
        if x.shape != y.shape:  # a few benchmark pairs differ by a pixel row/column
            h, w = min(x.shape[0], y.shape[0]), min(x.shape[1], y.shape[1])
            x, y = x[:h, :w], y[:h, :w]
        real_in.append(x)
        real_tg.append(y)
    files = _clean_files(clean_dir)
    if n < 1:
        raise RestoreLabError(f"n must be >= 1, got {n}")
    order = np.random.default_rng(seed).permutation(len(files))[: min(n, len(files))]
    syn_in, syn_tg = [], []
    for i, j in enumerate(order):
        clean = load_image(files[j])
        syn_in.append(fn(clean, np.random.default_rng([seed, i]), **params))
        syn_tg.append(clean)
    return {
        "kind": kind,
        "real_dir": real_dir,
        "clean_dir": clean_dir,
        "real": residual_stats(real_in, real_tg),
        "synthetic": residual_stats(syn_in, syn_tg),
    }


def format_comparison(result: Dict) -> str:
    """A small Markdown table of a ``compare_to_real`` result."""
    keys = ["mean", "std", "p99_abs", "frac_gt_0.05", "angle_abs_mean"]
    lines = [
        f"| {result['kind']} | n | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 2) + "|",
    ]
    for side in ("real", "synthetic"):
        s = result[side]
        lines.append(f"| {side} | {s['n_images']} | " + " | ".join(f"{s[k]:.4g}" for k in keys) + " |")
    return "\n".join(lines)


def compare_noise_levels(kind: str, real_dir: str, clean_dir: str, n: int = 50, seed: int = 0) -> Dict:
    """Real noisy photos *without* ground truth vs ``kind`` synthesised on ``n`` clean photos,
    compared by a no-reference statistic: the wavelet noise estimate (``metrics.noise``) per photo,
    its 10th/50th/90th percentiles on 0-255. Clean photos' own estimate is given as the floor
    (texture reads as ~1-3)."""
    from restorelab import degradations as D
    from restorelab.io import load_image
    from restorelab.metrics.noise import estimate_sigma

    fn = D.get(kind)
    real = [255 * estimate_sigma(load_image(p)) for p in list_images(real_dir)]
    if not real:
        raise RestoreLabError(f"no images in {real_dir}")
    files = _clean_files(clean_dir)
    order = np.random.default_rng(seed).permutation(len(files))[: min(max(n, 1), len(files))]
    syn, clean = [], []
    for i, j in enumerate(order):
        img = load_image(files[j])
        clean.append(255 * estimate_sigma(img))
        syn.append(255 * estimate_sigma(fn(img, np.random.default_rng([seed, i]))))

    def pct(v):
        return {"n_images": len(v), **{f"p{q}": float(np.percentile(v, q)) for q in (10, 50, 90)}}

    return {"kind": kind, "statistic": "estimated noise sigma (0-255)", "real_dir": real_dir, "clean_dir": clean_dir,
            "real": pct(real), "synthetic": pct(syn), "clean": pct(clean)}


def format_noise_levels(result: Dict) -> str:
    lines = [f"| {result['kind']}: {result['statistic']} | n | p10 | p50 | p90 |", "|---|---|---|---|---|"]
    for side in ("real", "synthetic", "clean"):
        s = result[side]
        lines.append(f"| {side} | {s['n_images']} | {s['p10']:.2f} | {s['p50']:.2f} | {s['p90']:.2f} |")
    return "\n".join(lines)
