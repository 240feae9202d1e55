"""Residual statistics, to check that synthetic degradations look like real ones.

The residual is ``r = input - target`` (degraded minus clean), float in [-1, 1]. Everything here
works on arrays; the comparison against real photo folders (``compare_to_real``, which feeds the
docs/data.md's residual-statistics table) is in :mod:`restorelab.data.synthetic`.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence

import numpy as np

from restorelab.errors import RestoreLabError

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
