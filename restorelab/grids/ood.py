"""Out-of-distribution score for GRIDS selection: task Gaussians on deep features, one-sided image views.

Selection keeps the paper's rule (one GGD per image, KL to the groups' GGDs, :mod:`.select`). Two GGD
parameters cannot tell haze or rain from the 11 tasks, so the out-of-distribution flag uses a richer
summary of the image, computed in the same pass (:func:`describe`), in three *views*:

* ``descriptor`` (:func:`feature_stats`): for each channel of the descriptor's ``rb`` (last residual
  block) and ``hr`` layers, over the image's 128 patches: the mean, log standard deviation, log mean
  absolute value, log mean absolute horizontal and vertical differences, the spread of the per-patch
  means and the log mean per-patch standard deviation (7 x 32 channels x 2 layers = 448 values).
  Alone it does not separate haze or rain from the tasks on CBSD68 (``docs/grids.md``), but it names
  the task well (rule ``"feature"`` of :mod:`.select`).
* ``haze`` (:func:`image_stats`, 1 value): the 1% quantile of the dark channel (He et al.) of the
  whole image: airlight lifts the darkest pixels.
* ``streaks`` (:func:`streak_stats`, 8 values): thin bright lines against thin dark ones along each
  direction within 35° of vertical (the largest asymmetry over the directions, at two line lengths):
  rain streaks are bright, straight and share one direction.

The descriptor view (:func:`fit`): standardise every value, then one Gaussian per task (its mean) with a
shared within-task covariance shrunk towards its diagonal (``shrink``), as in the Mahalanobis detector
of Lee et al. (NeurIPS 2018); its score is the distance to the nearest task's mean in the whitened
space, as a root mean square per dimension. The two image views are *one-sided* (haze and rain only
ever add light): a value's score is its rise above the median of the training cases in standard
deviations, and the view's score is the largest of them. (Task Gaussians on the earlier haze and
streak statistics flagged 56% of hazy and 37% of rainy CBSD68 photos; docs/grids.md.) The image's **score**
(:meth:`OODModel.scores`) is the largest view score, each divided by its ``unit``: that view's
0.99 quantile of out-of-fold scores on held-out photos (:func:`calibrate`). The **threshold** is the
``quantile`` (the operating point) of those out-of-fold combined scores (each photo scored by models fitted without
it, degraded with every task; the stored model is then fitted on all of them), so about
``1 - quantile`` of in-distribution images are flagged.

It is stored as ``weights/grids/ood.safetensors`` (tensors + JSON metadata with the command).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.grids import ggd as G
from restorelab.grids.tasks import TASKS, check_tasks, degrade

KIND = "grids-ood"
FEATURES = "channel-stats+image-stats-v2"  # what :func:`feature_stats` computes; a stored model must match it
STAT_LAYERS = ("rb", "hr")
N_STATS = 7


def feature_stats(f: np.ndarray) -> np.ndarray:
    """(N, C, H, W) features of N patches -> (7 C,) pooled per-channel statistics (module docstring)."""
    f = np.asarray(f, np.float32)
    if f.ndim != 4 or f.shape[0] < 2:
        raise RestoreLabError(f"need (N >= 2, C, H, W) features, got shape {f.shape}")
    eps = 1e-6
    per_patch_mean = f.mean(axis=(2, 3))
    return np.concatenate([
        f.mean(axis=(0, 2, 3)),
        np.log(f.std(axis=(0, 2, 3)) + eps),
        np.log(np.abs(f).mean(axis=(0, 2, 3)) + eps),
        np.log(np.abs(np.diff(f, axis=3)).mean(axis=(0, 2, 3)) + eps),
        np.log(np.abs(np.diff(f, axis=2)).mean(axis=(0, 2, 3)) + eps),
        per_patch_mean.std(axis=0),
        np.log(f.std(axis=(2, 3)).mean(axis=0) + eps),
    ]).astype(np.float64)


def describe(model, img: np.ndarray, cfg, seed=0) -> Tuple[G.GGD, np.ndarray]:
    """One HxWx3 image -> (its GGD, exactly as :func:`descriptor.ggd_of_images`; its statistics vector),
    from one forward pass over the same seeded patches."""
    from restorelab.grids.descriptor import extract_layers, pca_scores, sample_patches

    patches = sample_patches([img], cfg.n_patches, cfg.patch_size, np.random.default_rng(seed), cfg.augment)
    feats = extract_layers(model, patches, tuple(dict.fromkeys((cfg.layer, *STAT_LAYERS))), cfg.batch_size)
    scores = pca_scores(feats[cfg.layer].reshape(len(patches), -1), cfg.n_components)
    ggd = G.fit(G.remove_outliers(scores, cfg.outlier_sigma))
    return ggd, np.concatenate([*(feature_stats(feats[k]) for k in STAT_LAYERS), image_stats(img)])


def image_stats(img: np.ndarray) -> np.ndarray:
    """(9,) whole-image statistics the descriptor's 16-px patches miss (module docstring): the dark
    channel's 1% quantile (min over colours, 15 x 15 minimum filter), then :func:`streak_stats`."""
    import cv2

    img = np.asarray(img, np.float32)
    dark = cv2.erode(img.min(axis=2), np.ones((15, 15), np.uint8))
    return np.concatenate([[float(np.quantile(dark, 0.01))], streak_stats(img)]).astype(np.float64)


STREAK_ANGLES = tuple(range(-35, 36, 5))  # degrees from vertical (rain: within about ±30°)
STREAK_LENGTHS = (9, 21)  # px a line response is averaged over, along the line


def streak_stats(img: np.ndarray) -> np.ndarray:
    """(8,) thin-line asymmetry along the most streaky direction: the grey image is turned by each
    of ``STREAK_ANGLES``, its horizontal second difference (bright thin vertical line: positive)
    averaged over each of ``STREAK_LENGTHS`` px vertically; per direction, log 99.5% quantile of the
    bright response less that of the dark response (a), less that of the horizontal-line response
    (b), and (a) at the 98% quantiles (c). Per length: max of a, b, c over the directions and
    max(a) - median(a) (one direction stands out)."""
    import cv2

    g = np.asarray(img, np.float32).mean(axis=2)
    h, w = g.shape
    lengths = [n for n in STREAK_LENGTHS if min(h, w) > 2 * n + 2]  # else too small to tell: no asymmetry
    lq = lambda v, q: np.log(max(float(np.quantile(v, q)), 0.0) + 1e-4)  # noqa: E731
    per = {n: [] for n in lengths}
    for angle in STREAK_ANGLES if lengths else ():
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0)
        r = cv2.warpAffine(g, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        dx, dy = 2 * r[:, 1:-1] - r[:, :-2] - r[:, 2:], 2 * r[1:-1] - r[:-2] - r[2:]
        for n in lengths:  # one turn serves both lengths
            vert = cv2.blur(dx, (1, n))[n:-n, n:-n]
            horiz = cv2.blur(dy, (n, 1))[n:-n, n:-n]
            per[n].append((lq(vert, 0.995) - lq(-vert, 0.995), lq(vert, 0.995) - lq(horiz, 0.995),
                           lq(vert, 0.98) - lq(-vert, 0.98)))
    out = []
    for n in STREAK_LENGTHS:
        if n not in per:
            out += [0.0] * 4
            continue
        a = np.array(per[n])
        out += [*a.max(axis=0), a[:, 0].max() - np.median(a[:, 0])]
    return np.array(out, np.float64)


#: the statistics vector's image views: (name, number of values, one-sided); the descriptor
#: statistics come first and are the rest
IMAGE_VIEWS = (("haze", 1, True), ("streaks", 8, True))


def views_of(dim: int) -> List[Tuple[str, int, int, bool]]:
    """(name, start, stop, one-sided) of each view of a ``dim``-long vector: the descriptor statistics first."""
    n_img = sum(n for _, n, _ in IMAGE_VIEWS)
    if dim <= n_img:
        raise RestoreLabError(f"a statistics vector needs more than {n_img} values, got {dim}")
    out, at = [("descriptor", 0, dim - n_img, False)], dim - n_img
    for name, n, one_sided in IMAGE_VIEWS:
        out.append((name, at, at + n, one_sided))
        at += n
    return out


@dataclass
class Gaussians:
    """One view: per-task means in a whitened space; ``score = sqrt(min_t |W (z - mu_t)|^2 / D)``,
    ``z = (x - center) / scale`` (about 1 for a typical in-distribution image). A ``one_sided`` view
    has no task means: ``score = max_j z_j`` (``center`` the median; only a rise counts)."""

    name: str
    start: int
    stop: int
    center: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    whiten: np.ndarray  # (D, D): inverse Cholesky factor of the shrunk within-task covariance
    means: np.ndarray  # (T, D) whitened task means
    unit: float = 1.0  # this view's own out-of-fold quantile: scores are divided by it
    one_sided: bool = False

    def scores(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        z = (x[:, self.start:self.stop] - self.center) / self.scale
        if self.one_sided:
            return z.max(1) / self.unit, np.zeros(len(z), dtype=int)
        z = z @ self.whiten.T
        d2 = ((z[:, None, :] - self.means[None]) ** 2).sum(-1)
        return np.sqrt(d2.min(1) / z.shape[1]) / self.unit, d2.argmin(1)


def _fit_view(x: np.ndarray, lab: np.ndarray, n_tasks: int, name: str, start: int, stop: int,
              shrink: float, one_sided: bool = False) -> Gaussians:
    x = x[:, start:stop]
    if one_sided:
        d = x.shape[1]
        return Gaussians(name, start, stop, np.median(x, 0), x.std(0) + 1e-8, np.eye(d), np.zeros((1, d)),
                         one_sided=True)
    center, scale = x.mean(0), x.std(0) + 1e-8
    z = (x - center) / scale
    mu = np.stack([z[lab == j].mean(0) for j in range(n_tasks)])
    r = z - mu[lab]
    cov = r.T @ r / len(z)
    cov = (1 - shrink) * cov + shrink * np.diag(np.diag(cov))
    cov += 1e-6 * max(np.trace(cov) / len(cov), 1e-12) * np.eye(len(cov))
    whiten = np.linalg.inv(np.linalg.cholesky(cov))
    return Gaussians(name, start, stop, center, scale, whiten, mu @ whiten.T)


@dataclass
class OODModel:
    """The views' task Gaussians; an image's score is the largest of its view scores, each in units
    of that view's calibrated quantile. ``threshold`` is None until calibrated."""

    tasks: List[str]
    views: List[Gaussians]
    threshold: Optional[float] = None
    meta: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.views[-1].stop)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, np.float64))
        if x.shape[1] != self.dim:
            raise RestoreLabError(f"the OOD model expects {self.dim} statistics per image, got {x.shape[1]} "
                                  "(another descriptor? recalibrate with `restorelab grids calibrate`)")
        return x

    def view_scores(self, x: np.ndarray) -> Dict[str, np.ndarray]:
        x = self._check(x)
        return {v.name: v.scores(x)[0] for v in self.views}

    def scores(self, x: np.ndarray) -> Tuple[np.ndarray, List[str]]:
        """(scores, the task nearest in the descriptor view) for each row of ``x`` (n, D)."""
        x = self._check(x)
        per = [v.scores(x) for v in self.views]
        return np.max([s for s, _ in per], axis=0), [self.tasks[j] for j in per[0][1]]

    def score(self, v: np.ndarray) -> Tuple[float, str]:
        s, t = self.scores(v)
        return float(s[0]), t[0]

    def is_ood(self, v: np.ndarray) -> bool:
        if self.threshold is None:
            raise RestoreLabError("the OOD model has no threshold; run `restorelab grids calibrate`")
        return self.score(v)[0] > self.threshold

    # -- file -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"{v.name}.{k}": np.ascontiguousarray(getattr(v, k), np.float32)
                   for v in self.views for k in ("center", "scale", "whiten", "means")}
        views = [{"name": v.name, "start": v.start, "stop": v.stop, "unit": v.unit, "one_sided": v.one_sided}
                 for v in self.views]
        meta = {"kind": KIND, "features": FEATURES, "tasks": json.dumps(self.tasks), "views": json.dumps(views),
                "threshold": json.dumps(self.threshold), "meta": json.dumps(self.meta)}
        tmp = path.with_suffix(path.suffix + ".tmp")
        save_file(tensors, str(tmp), metadata=meta)
        os.chmod(tmp, 0o644)  # safetensors writes 0600; this is a shipped artefact
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> "OODModel":
        from safetensors.numpy import load_file

        from restorelab.inference.weights import read_metadata

        meta = read_metadata(path)
        if meta.get("kind") != KIND:
            raise RestoreLabError(f"{path}: not a GRIDS OOD model (kind {meta.get('kind')!r})")
        if meta.get("features") != FEATURES:
            raise RestoreLabError(f"{path}: made for features {meta.get('features')!r}, this code computes "
                                  f"{FEATURES!r}; recalibrate with `restorelab grids calibrate`")
        t = {k: v.astype(np.float64) for k, v in load_file(str(path)).items()}
        views = [Gaussians(v["name"], v["start"], v["stop"], *(t[f"{v['name']}.{k}"] for k in
                                                                ("center", "scale", "whiten", "means")), v["unit"],
                           v.get("one_sided", False))
                 for v in json.loads(meta["views"])]
        return cls(json.loads(meta["tasks"]), views, json.loads(meta["threshold"]), json.loads(meta.get("meta", "{}")))


def fit(vectors: np.ndarray, labels: Sequence[str], shrink: float = 0.5,
        views: Optional[Sequence[Tuple[str, int, int]]] = None) -> OODModel:
    """Per view: task means and the shared within-task covariance, shrunk: ``(1 - shrink) S + shrink diag(S)``
    (``views``: (name, start, stop[, one-sided]); default :func:`views_of`; a one-sided view: the median
    and spread of each value, no task means). View units are 1 (see :func:`calibrate`)."""
    x = np.asarray(vectors, np.float64)
    labels = list(labels)
    if x.ndim != 2 or len(x) != len(labels):
        raise RestoreLabError(f"{len(labels)} labels for vectors of shape {x.shape}")
    if not 0 <= shrink <= 1:
        raise RestoreLabError(f"shrink must be in [0, 1], got {shrink}")
    tasks = [t for t in TASKS if t in labels] + sorted(set(labels) - set(TASKS))
    lab = np.array([tasks.index(t) for t in labels])
    views = list(views) if views is not None else views_of(x.shape[1])
    return OODModel(tasks, [_fit_view(x, lab, len(tasks), *v[:3], shrink, *v[3:]) for v in views],
                    meta={"shrink": shrink, "n": len(x)})


UNIT_QUANTILE = 0.99  # each view's scores are divided by this quantile of its out-of-fold scores


def calibrate(vectors: np.ndarray, labels: Sequence[str], groups_of_rows: Sequence[int], quantile: float = 0.99,
              folds: int = 4, shrink: float = 0.5, views: Optional[Sequence[Tuple[str, int, int]]] = None
              ) -> Tuple[OODModel, np.ndarray]:
    """Fit on all rows; each view's unit is the ``UNIT_QUANTILE`` of its out-of-fold scores (a scale, fixed),
    and the threshold the ``quantile`` of the out-of-fold combined scores (the operating point: about
    ``1 - quantile`` of in-distribution cases are flagged). Rows of the same photo share
    ``groups_of_rows[i]`` (its index) and land in the same fold (``index % folds``), so no photo is
    scored by a model that saw it. Returns (model, out-of-fold scores)."""
    if not 0 < quantile <= 1:
        raise RestoreLabError(f"quantile must be in (0, 1], got {quantile}")
    x, labels = np.asarray(vectors, np.float64), np.asarray(labels)
    fold = np.asarray(groups_of_rows) % folds
    if folds < 2 or len(set(fold)) < 2:
        raise RestoreLabError(f"need at least 2 folds with photos in them (folds={folds}, {len(set(fold))} used)")
    model = fit(x, labels, shrink, views)
    oof = np.empty((len(model.views), len(x)))
    for f in sorted(set(fold)):
        m = fold == f
        part = fit(x[~m], labels[~m], shrink, [(v.name, v.start, v.stop, v.one_sided) for v in model.views])
        oof[:, m] = [v.scores(x[m])[0] for v in part.views]
    for v, o in zip(model.views, oof):
        v.unit = float(np.quantile(o, UNIT_QUANTILE))
    combined = np.max(oof / np.array([v.unit for v in model.views])[:, None], axis=0)
    model.threshold = float(np.quantile(combined, quantile))
    model.meta.update(quantile=quantile, unit_quantile=UNIT_QUANTILE, folds=folds,
                      units={v.name: v.unit for v in model.views})
    return model, combined


def degraded_vectors(model, photos: Sequence[np.ndarray], cfg, tasks: Sequence[str] = TASKS, seed: int = 20_000,
                     progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, list]:
    """Every photo degraded once with every task (photo i, task t: seed ``[seed, i, TASKS.index(t)]``,
    patches seeded the same way, as :func:`select.calibrate`): ``{"vectors", "labels", "photo", "ggds"}``."""
    out: Dict[str, list] = {"vectors": [], "labels": [], "photo": [], "ggds": []}
    tasks = check_tasks(tasks)
    total, done = len(tasks) * len(photos), 0
    for t in tasks:
        for i, p in enumerate(photos):
            s = [seed, i, TASKS.index(t)]
            g, v = describe(model, degrade(t, p, seed=s), cfg, seed=s)
            out["vectors"].append(v)
            out["labels"].append(t)
            out["photo"].append(i)
            out["ggds"].append(g)
            done += 1
            if progress:
                progress(done, total)
    return out
