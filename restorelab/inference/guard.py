"""Do no harm: keep a network's restoration only where the photo showed a degradation it knows.

A restorer trained on degraded photos also "restores" clean ones: on clean photos outside its
training distribution (McMaster, Set14) ``real-cpu`` changes fine texture by 36-38 dB and makes
high-quality JPEG, WebP, blurred or rescaled photos up to 1.3 dB worse (docs/real-photos.md). The
guard looks at the input and at what the network took away, and hands back the input unchanged
unless one of these holds:

* JPEG blocking: the input shows an 8×8 grid (``metrics.noise.blockiness``) — JPEG at q ≤ ~60;
* a strong change: the output is ``change_db`` or less from the input (heavy noise, rain, haze);
* white noise removed: the residual is white (``removed_layer``'s ``white``) — Gaussian, Poisson,
  under-exposure noise, where the texture the network smooths away is not;
* rain removed: most of the residual's energy is where the input was brighter, in thin structures
  (streaks, not a smooth veil: a network that darkens a clean photo removes a smooth brighter layer
  too), with a change of at most ``layer_db``. Strong haze counts as a strong change.

Thresholds were set on CBSD68's real-photo rows and the held-out probe (benchmarks/bench_heldout.py);
``python -m restorelab real-eval --models real-cpu,real-cpu+guard`` shows what they cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from restorelab.metrics.noise import blockiness, removed_layer

#: suffix of a method name that puts the guard behind a network (``real-cpu+guard``)
GUARD_SUFFIX = "+guard"


@dataclass(frozen=True)
class GuardConfig:
    blockiness: float = 0.2  # JPEG grid strength that counts as compressed (clean photos read 0.01-0.15)
    change_db: float = 32.0  # any change at least this large (PSNR of output vs input at most this) is kept
    white: float = 0.8  # residual whiteness that counts as noise removed (texture: 0.2-0.6)
    brighter: float = 0.8  # share of the residual where the input was brighter (rain, haze) ...
    thin: float = 0.2  # ... of which this share is finer than 2 px (streaks: 0.2-0.5; a veil, darkening: < 0.1) ...
    layer_db: float = 40.0  # ... counted only for a change at least this large


@dataclass
class Verdict:
    """Whether the restoration was kept, the measurements, and which tests found a degradation."""

    kept: bool
    found: list[str] = field(default_factory=list)
    blockiness: float = 0.0
    change_db: float = float("inf")
    white: float = 0.0
    brighter: float = 0.0
    thin: float = 0.0

    def as_dict(self) -> dict:
        """JSON-safe (an untouched output's infinite ``change_db`` is None), with the sentence."""
        d = {k: (round(v, 3) if np.isfinite(v) else None) if isinstance(v, float) else v
             for k, v in asdict(self).items()}
        return d | {"sentence": self.sentence()}

    def sentence(self) -> str:
        if self.kept:
            return "restored: found " + ", ".join(self.found)
        return ("handed back unchanged: no degradation found (JPEG grid {:.2f}, change {:.1f} dB, removed layer "
                "{:.0%} white-noise-like, {:.0%} brighter than the result)").format(
                    self.blockiness, self.change_db, min(self.white, 1.0), self.brighter)


def judge(img: np.ndarray, out: np.ndarray, cfg: GuardConfig = GuardConfig()) -> Verdict:
    """Measure ``img`` and what ``out`` took from it; ``kept`` when a degradation was found."""
    blk = blockiness(img)
    layer = removed_layer(img, out)
    v = Verdict(False, [], blk, layer["change_db"], layer["white"], layer["brighter"], layer["thin"])
    if blk >= cfg.blockiness:
        v.found.append(f"JPEG blocking ({blk:.2f})")
    if v.change_db <= cfg.change_db:
        v.found.append(f"a strong degradation (changed by {v.change_db:.1f} dB)")
    if v.white >= cfg.white:
        v.found.append(f"noise (the removed layer is {min(v.white, 1.0):.0%} white)")
    if v.brighter >= cfg.brighter and v.thin >= cfg.thin and v.change_db <= cfg.layer_db:
        v.found.append(f"rain (thin brighter streaks removed, {v.brighter:.0%} of the change)")
    v.kept = bool(v.found)
    return v


def guard(img: np.ndarray, out: np.ndarray, cfg: GuardConfig = GuardConfig()) -> tuple[np.ndarray, Verdict]:
    """``out`` if the photo showed a degradation (see :func:`judge`), else ``img`` itself."""
    v = judge(img, out, cfg)
    return (out if v.kept else np.asarray(img, np.float32)), v


def split_method(method: str) -> tuple[str, bool]:
    """``"real-cpu+guard"`` -> ``("real-cpu", True)``; other names -> ``(name, False)``."""
    if method.endswith(GUARD_SUFFIX):
        return method[: -len(GUARD_SUFFIX)], True
    return method, False
