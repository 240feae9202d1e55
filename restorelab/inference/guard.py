"""Do no harm: keep a network's restoration only where the photo showed a degradation it knows.

A restorer trained on degraded photos also "restores" clean ones: on clean photos outside its
training distribution (McMaster, Set14) ``real-cpu`` changes fine texture by 36-38 dB and makes
high-quality JPEG, WebP, blurred or rescaled photos up to 1.3 dB worse (docs/real-photos.md). The
guard looks at the input and at what the network took away, and hands back the input unchanged
unless one of these holds:

* JPEG: the input shows an 8×8 grid (``metrics.noise.blockiness``; JPEG at q ≤ ~50), or its DCT sits
  on the steps of an IJG table of quality ≤ ``jpeg_quality`` (``metrics.noise.jpeg_quality``; finds
  the q50-60 JPEGs whose grid is too faint to see);
* a strong change: the output is ``change_db`` or less from the input (heavy noise, rain, haze);
* white noise removed: the residual is white (``removed_layer``'s ``white``) — Gaussian, Poisson,
  under-exposure noise, where the texture the network smooths away is not;
* rain removed: most of the residual's energy is where the input was brighter, in thin structures
  (streaks, not a smooth veil: a network that darkens a clean photo removes a smooth brighter layer
  too), with a change of at most ``layer_db``. Strong haze counts as a strong change;
* a light JPEG, when nothing above fired: the DCT sits on an IJG table of a quality above
  ``jpeg_quality`` (q60-90; fit ≥ ``jpeg_fit``). Only the network's luma change is kept, clipped into the
  middle quarter of the file's quantization intervals (``classical.project_jpeg``); the colour stays
  the input's. At q90 the network alone loses 1.0-1.7 dB on average on McMaster, Set14 and Set5, most
  of it in colour; kept this way they gain on most photos, but a JPEG re-compressed at about its own quality loses
  (benchmarks/probe_jpeg_projection.py, docs/real-photos.md).

Thresholds were set on CBSD68's real-photo rows and the held-out probe (benchmarks/bench_heldout.py);
``python -m restorelab real-eval --models real-cpu,real-cpu+guard`` shows what they cost.

**The JPEG step.** On a kept JPEG photo whose DCT reads as an IJG JPEG
(``metrics.noise.jpeg_quality``: fit ≥ ``jpeg_fit``, any quality) and that the network changed only a little
(plain compression artefacts, not noise the JPEG kept), the output is the mean of the network's and
the photo re-compressed at its own quality on all 64 grid shifts (``classical.reapply_jpeg``): the two
err differently, and their mean gained +0.14 to +0.19 dB over the network alone on BSDS training photos
at q10-q40 (benchmarks/probe_jpeg_step.py, docs/real-photos.md). Where the network removed more (noise under the JPEG, change below
``jpeg_change_db[0]``) the mean would bring half the noise back, so the weight falls to 0; where it
removed rain, the weight is 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from restorelab.inference.classical import project_jpeg, reapply_jpeg
from restorelab.metrics.noise import LUMA, block_grid, jpeg_quality, removed_layer

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
    jpeg_fit: float = 0.5  # the photo's DCT fits an IJG table this well (clean photos: 0.0-0.2) ...
    jpeg_quality: int = 60  # ... of at most this quality: a JPEG, grid visible or not; the JPEG step then ...
    jpeg_weight: float = 0.5  # ... the re-compressed photo's share of the output ...
    jpeg_change_db: tuple[float, float] = (34.0, 38.0)  # ... falling to 0 as the network's change grows past these
    jpeg_big: int = 4_000_000  # pixels above which 16 grid shifts are used instead of 64 (~3 s at 12 MP)
    jpeg_project: bool = True  # a light JPEG (read as IJG above jpeg_quality) that no other test found is kept: ...
    jpeg_width: float = 0.25  # ... its luma clipped into this middle share of the file's quantization intervals, its colour untouched


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
    jpeg_quality: int = 0  # the IJG quality read from the DCT ...
    jpeg_fit: float = 0.0  # ... how well it fits ...
    jpeg_weight: float = 0.0  # ... the JPEG step's share of the output (0: not applied) ...
    jpeg_start: tuple[int, int] = (0, 0)  # ... where its 8×8 grid starts ...
    jpeg_light: bool = False  # ... and whether it was kept as a light JPEG alone (its luma restored, its colour kept)

    def as_dict(self) -> dict:
        """JSON-safe (an untouched output's infinite ``change_db`` is None), with the sentence."""
        d = {k: (round(v, 3) if np.isfinite(v) else None) if isinstance(v, float) else v
             for k, v in asdict(self).items()}
        return d | {"sentence": self.sentence()}

    def sentence(self) -> str:
        if self.kept:
            jpeg = (f"; JPEG q≈{self.jpeg_quality}: {self.jpeg_weight:.0%} of the result is the photo "
                    f"re-compressed on shifted grids" if self.jpeg_weight > 0 else "")
            if self.jpeg_light:
                jpeg += "; only its brightness detail restored, within what the JPEG file allows, its colour left as it was"
            return "restored: found " + ", ".join(self.found) + jpeg
        return ("handed back unchanged: no degradation found (JPEG grid {:.2f}, change {:.1f} dB, removed layer "
                "{:.0%} white-noise-like, {:.0%} brighter than the result)").format(
                    self.blockiness, self.change_db, min(self.white, 1.0), self.brighter)


def judge(img: np.ndarray, out: np.ndarray, cfg: GuardConfig = GuardConfig()) -> Verdict:
    """Measure ``img`` and what ``out`` took from it; ``kept`` when a degradation was found."""
    blk, phase = block_grid(img)
    layer = removed_layer(img, out)
    v = Verdict(False, [], blk, layer["change_db"], layer["white"], layer["brighter"], layer["thin"])
    v.jpeg_quality, v.jpeg_fit, v.jpeg_start = jpeg_quality(img, phase)
    if blk >= cfg.blockiness:
        v.found.append(f"JPEG blocking ({blk:.2f})")
    elif v.jpeg_fit >= cfg.jpeg_fit and v.jpeg_quality <= cfg.jpeg_quality:
        v.found.append(f"a JPEG (q≈{v.jpeg_quality} read from its DCT)")
    if v.change_db <= cfg.change_db:
        v.found.append(f"a strong degradation (changed by {v.change_db:.1f} dB)")
    if v.white >= cfg.white:
        v.found.append(f"noise (the removed layer is {min(v.white, 1.0):.0%} white)")
    if _rain_removed(v, cfg):
        v.found.append(f"rain (thin brighter streaks removed, {v.brighter:.0%} of the change)")
    if not v.found and cfg.jpeg_project and v.jpeg_fit >= cfg.jpeg_fit:
        v.jpeg_light = True
        v.found.append(f"a light JPEG (q≈{v.jpeg_quality} read from its DCT)")
    v.kept = bool(v.found)
    return v


def _rain_removed(v: Verdict, cfg: GuardConfig) -> bool:
    return v.brighter >= cfg.brighter and v.thin >= cfg.thin and v.change_db <= cfg.layer_db


def jpeg_weight(v: Verdict, cfg: GuardConfig = GuardConfig()) -> float:
    """The JPEG step's share for a judged photo (module docstring); sets ``v.jpeg_weight``: a kept
    photo that reads as an IJG JPEG, with its grid visible or of quality ≤ ``cfg.jpeg_quality``, from
    which no rain was removed (the re-compressed photo still holds the streaks)."""
    if not v.kept or v.jpeg_fit < cfg.jpeg_fit or (v.blockiness < cfg.blockiness and v.jpeg_quality > cfg.jpeg_quality):
        return 0.0
    if _rain_removed(v, cfg):
        return 0.0
    lo, hi = cfg.jpeg_change_db
    v.jpeg_weight = cfg.jpeg_weight * float(np.clip((v.change_db - lo) / (hi - lo), 0.0, 1.0))
    return v.jpeg_weight


def guard(img: np.ndarray, out: np.ndarray, cfg: GuardConfig = GuardConfig()) -> tuple[np.ndarray, Verdict]:
    """``out`` if the photo showed a degradation (see :func:`judge`), else ``img`` itself; on a JPEG
    photo, ``out`` in part replaced by the photo re-compressed on shifted grids (:func:`jpeg_weight`)."""
    v = judge(img, out, cfg)
    if not v.kept:
        return np.asarray(img, np.float32), v
    w = jpeg_weight(v, cfg)
    if w > 0:
        step = 1 if img.shape[0] * img.shape[1] <= cfg.jpeg_big else 2
        out = (1.0 - w) * np.asarray(out, np.float32) + w * reapply_jpeg(img, v.jpeg_quality, step)
    if v.jpeg_light:  # only the luma, within the file's intervals: the network's colour harms light JPEGs
        img = np.asarray(img, np.float32)
        luma = (project_jpeg(img, out, v.jpeg_quality, v.jpeg_start, cfg.jpeg_width) - img) @ LUMA
        out = np.clip(img + luma[..., None], 0.0, 1.0)
    return np.asarray(out, np.float32), v


def split_method(method: str) -> tuple[str, bool]:
    """``"real-cpu+guard"`` -> ``("real-cpu", True)``; other names -> ``(name, False)``."""
    if method.endswith(GUARD_SUFFIX):
        return method[: -len(GUARD_SUFFIX)], True
    return method, False
