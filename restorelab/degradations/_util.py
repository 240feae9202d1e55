"""Small shared helpers for the degradation functions."""

from __future__ import annotations

import numpy as np

from restorelab.errors import RestoreLabError


def pick(name: str, value, rng: np.random.Generator, lo: float, hi: float,
         hard_lo: float, hard_hi: float) -> float:
    """``value`` if given (checked against the hard limits), else uniform in [lo, hi]."""
    if value is None:
        return float(rng.uniform(lo, hi))
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RestoreLabError(f"{name} must be a number, got {value!r}") from None
    if not (hard_lo <= v <= hard_hi):
        raise RestoreLabError(f"{name}={v:g} is outside the allowed range [{hard_lo:g}, {hard_hi:g}]")
    return v
