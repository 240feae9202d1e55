"""Residual statistics, to check that synthetic degradations look like real ones.

The residual is ``r = input - target`` (degraded minus clean), float in [-1, 1].
``compare_to_real`` feeds the README's "synthesis vs real" table.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.io import load_image

THRESHOLD = 0.05


def dominant_angle(residual: np.ndarray) -> float:
    """Dominant streak orientation of a residual in degrees from vertical (+ = "/").

    Structure tensor of the channel-mean residual: the dominant gradient direction is
    perpendicular to the streaks, and its angle from horizontal equals the streak angle
    from vertical.
    """
    import cv2

    g = np.asarray(residual, np.float32)
    if g.ndim == 3:
        g = g.mean(axis=2)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    return math.degrees(0.5 * math.atan2(2.0 * jxy, jxx - jyy))


def residual_stats(inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict:
    """Pooled statistics of ``input - target`` over all pixels of all pairs.

    Returns a dict with ``n_images``, ``mean``, ``std``, ``p99_abs`` (99th percentile of
    ``|r|``), ``frac_gt_0.05`` (fraction of values with ``|r| > 0.05``), ``channel_mean``
    (3 floats, R G B) and ``angle_abs_mean`` (mean over images of the absolute dominant
    orientation in degrees from vertical; meaningful for rain only).
    A single pair of arrays is accepted too.
    """
    if isinstance(inputs, np.ndarray) and inputs.ndim == 3:
        inputs, targets = [inputs], [targets]
    inputs, targets = list(inputs), list(targets)
    if len(inputs) != len(targets):
        raise RestoreLabError(f"{len(inputs)} inputs but {len(targets)} targets")
    if not inputs:
        raise RestoreLabError("residual_stats needs at least one pair")
    res: List[np.ndarray] = []
    angles = []
    for x, y in zip(inputs, targets):
        x = np.asarray(x, np.float32)
        y = np.asarray(y, np.float32)
        if x.shape != y.shape:
            raise RestoreLabError(f"input shape {x.shape} != target shape {y.shape}")
        r = x - y
        res.append(r.reshape(-1, r.shape[-1] if r.ndim == 3 else 1))
        angles.append(abs(dominant_angle(r)))
    r = np.concatenate(res, axis=0)
    a = np.abs(r)
    return {
        "n_images": len(inputs),
        "mean": float(r.mean()),
        "std": float(r.std()),
        "p99_abs": float(np.percentile(a, 99)),
        "frac_gt_0.05": float((a > THRESHOLD).mean()),
        "channel_mean": [float(v) for v in r.mean(axis=0)],
        "angle_abs_mean": float(np.mean(angles)),
    }


def _clean_files(clean_dir: str) -> List[str]:
    from restorelab.data import list_images

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
    from restorelab.data import list_images
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
