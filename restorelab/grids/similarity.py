"""The degradation similarity matrix S (GRIDS Sec. 4.2), cached as JSON.

For each task, every photo is degraded once (photo i, task t: seed ``[seed, i, TASKS.index(t)]``),
``n_patches`` patches are sampled round-robin over the photos, and one GGD is fitted
(:mod:`restorelab.grids.descriptor`). ``S[i][j] = log10(KL(p_i || p_j) + 1e-5) + 5`` (SRGA's score;
smaller = more similar; the diagonal is 0). ``symmetric=True`` uses the mean of both KL directions.

With ``per_image=True`` it also stores ``image_ggds``: per task, the mean GGD parameters of the
photos fitted one at a time by self-augmentation, i.e. references made the way a single input image
is measured at selection time (pooled patches from many photos have a wider content spectrum, hence
a larger sigma, than patches of one photo). Selection uses ``image_ggds`` when present.

The cache file holds the tasks, the GGDs, S, and a key (descriptor file hash, config, photo names,
seed); :func:`compute` reuses it only when the key matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.grids import ggd as G
from restorelab.grids.tasks import LABELS, TASKS, check_tasks, degrade
from restorelab.io import atomic_write


def default_cache_path() -> Path:
    from restorelab.paths import default_weights_dir

    return default_weights_dir() / "grids" / "similarity.json"


@dataclass
class Similarity:
    """tasks (names), ggds (task -> GGD), matrix (list of rows), key (what it was computed from)."""

    tasks: List[str]
    ggds: Dict[str, G.GGD]
    matrix: List[List[float]]
    key: dict = field(default_factory=dict)
    seconds: float = 0.0
    image_ggds: Dict[str, G.GGD] = field(default_factory=dict)

    @property
    def reference_ggds(self) -> Dict[str, G.GGD]:
        """The task references selection should use: ``image_ggds`` if computed, else ``ggds``."""
        return self.image_ggds or self.ggds

    @property
    def labels(self) -> List[str]:
        return [LABELS.get(t, t) for t in self.tasks]

    def to_dict(self) -> dict:
        return {"tasks": self.tasks, "labels": self.labels, "ggds": {t: g.to_dict() for t, g in self.ggds.items()},
                "matrix": self.matrix, "key": self.key, "seconds": self.seconds,
                "image_ggds": {t: g.to_dict() for t, g in self.image_ggds.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "Similarity":
        try:
            return cls(list(d["tasks"]), {t: G.GGD(**g) for t, g in d["ggds"].items()},
                       [list(map(float, r)) for r in d["matrix"]], dict(d.get("key", {})),
                       float(d.get("seconds", 0.0)), {t: G.GGD(**g) for t, g in d.get("image_ggds", {}).items()})
        except (KeyError, TypeError) as err:
            raise RestoreLabError(f"not a GRIDS similarity file (missing {err})") from None


def matrix_from_ggds(ggds: Dict[str, G.GGD], tasks: Sequence[str], symmetric: bool = False) -> List[List[float]]:
    """``S[i][j] = distance(ggds[t_i], ggds[t_j])`` (0 on the diagonal)."""
    return [[0.0 if a == b else G.distance(ggds[a], ggds[b], symmetric) for b in tasks] for a in tasks]


def task_ggds(model, photos: Sequence[np.ndarray], tasks: Sequence[str], cfg, seed: int = 0,
              progress=None, per_image: bool = False) -> Dict[str, G.GGD]:
    """task -> GGD of its degraded photos (``cfg``: a DescriptorConfig); ``per_image``: the mean
    of one GGD per photo (each by self-augmentation) instead of one GGD of the pooled patches."""
    from restorelab.grids.descriptor import ggd_of_images

    out = {}
    for k, t in enumerate(check_tasks(tasks)):
        ti = TASKS.index(t)
        degraded = [degrade(t, p, seed=[seed, i, ti]) for i, p in enumerate(photos)]
        if per_image:
            out[t] = G.average([ggd_of_images(model, [d], cfg, seed=[seed, ti, i]) for i, d in enumerate(degraded)])
        else:
            out[t] = ggd_of_images(model, degraded, cfg, seed=[seed, ti])
        if progress:
            progress(k + 1, len(tasks))
    return out


def file_hash(path: str | Path) -> str:
    """First 16 hex digits of the file's SHA-256 (the cache key of the descriptor)."""
    if not Path(path).is_file():
        raise RestoreLabError(f"descriptor weights not found: {path}; train them with `restorelab grids descriptor`")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def load_photos(photos_dir: str | Path, limit: Optional[int] = None, last: Optional[int] = None) -> tuple[list, list]:
    """(names, float images) of the sorted photos in a folder, or in several comma-separated
    folders (concatenated in the given order); the last ``last`` of them, then the first ``limit``."""
    from restorelab.data import list_images
    from restorelab.io import load_image

    files = [f for d in str(photos_dir).split(",") if d.strip() for f in list_images(d.strip())]
    files = files[-last:] if last else files
    files = files[:limit]
    if not files:
        raise RestoreLabError(f"no photos in {photos_dir}")
    return [os.path.basename(f) for f in files], [load_image(f) for f in files]


def load(path: str | Path) -> Similarity:
    p = Path(path)
    if not p.exists():
        raise RestoreLabError(f"no similarity cache at {p}; compute it with `restorelab grids similarity`")
    try:
        return Similarity.from_dict(json.loads(p.read_text()))
    except json.JSONDecodeError as err:
        raise RestoreLabError(f"{p}: not valid JSON ({err.msg})") from None


def compute(descriptor_path: str | Path, photos_dir: str | Path, cache_path: str | Path | None = None,
            cfg=None, tasks: Sequence[str] = TASKS, seed: int = 0, limit: Optional[int] = None,
            symmetric: bool = False, force: bool = False, progress=None, per_image: bool = False) -> Similarity:
    """The similarity matrix over ``photos_dir`` with the descriptor at ``descriptor_path``.

    Reuses ``cache_path`` when its key matches (unless ``force``); otherwise computes and writes it.
    """
    from restorelab.grids.descriptor import DescriptorConfig
    from restorelab.grids.srresnet import load_descriptor

    cfg = cfg or DescriptorConfig()
    tasks = list(check_tasks(tasks))
    names, photos = load_photos(photos_dir, limit)
    dirs = [os.path.basename(os.path.normpath(d)) for d in str(photos_dir).split(",") if d.strip()]
    key = {"descriptor": file_hash(descriptor_path), "config": cfg.to_dict(), "photos": names,
           "photos_dirs": dirs, "seed": seed, "symmetric": symmetric, "tasks": tasks, "per_image": per_image}
    cache = Path(cache_path) if cache_path else None
    if cache and cache.exists() and not force:
        old = load(cache)
        if old.key == key:
            return old
    t0 = time.perf_counter()
    model = load_descriptor(descriptor_path)
    ggds = task_ggds(model, photos, tasks, cfg, seed, progress)
    sim = Similarity(tasks, ggds, matrix_from_ggds(ggds, tasks, symmetric), key, time.perf_counter() - t0)
    if per_image:
        sim.image_ggds = task_ggds(model, photos, tasks, cfg, seed, progress, per_image=True)
    if cache:
        text = json.dumps(sim.to_dict(), indent=1)
        atomic_write(cache, lambda tmp: tmp.write_text(text))
    return sim
