"""The standard evaluation sets in the shared data folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from restorelab.errors import RestoreLabError

#: Project root (the folder holding ``restorelab/``); ``../shared/datasets`` is relative to it.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA_ROOT = "../shared/datasets"


def resolve_data_root(data_root: Optional[str] = None) -> str:
    """``data_root`` as an absolute path. A relative path is taken relative to the current
    directory if it exists there, else relative to the project root (so the default
    ``../shared/datasets`` works from anywhere)."""
    root = os.fspath(data_root if data_root is not None else DEFAULT_DATA_ROOT)
    if os.path.isabs(root) or os.path.isdir(root):
        return os.path.abspath(root)
    return os.path.normpath(os.path.join(PROJECT_ROOT, root))


@dataclass(frozen=True)
class EvalSet:
    """One evaluation set: ``kind`` is 'noisy' (clean folder + sigma), 'synthetic' (clean folder
    + a registered degradation with fixed params and seed; None: the clean photos) or 'paired'."""

    name: str
    task: str
    kind: str
    path: str
    sigma: Optional[int] = None
    seed: int = 0
    degradation: Optional[str] = None
    params: Tuple[Tuple[str, object], ...] = ()

    @property
    def available(self) -> bool:
        return os.path.isdir(self.path)

    def open(self):
        """The dataset: a NoisyFolder or a PairedFolder; items ``(name, degraded, clean)``."""
        from restorelab.data.folders import DegradedFolder, NoisyFolder, PairedFolder

        if not self.available:
            raise RestoreLabError(f"evaluation set {self.name} not found at {self.path}")
        if self.kind == "noisy":
            return NoisyFolder(self.path, self.sigma, seed=self.seed)
        if self.kind == "synthetic":
            return DegradedFolder(self.path, self.degradation, dict(self.params), seed=self.seed)
        return PairedFolder(self.path)


def eval_sets(data_root: Optional[str] = DEFAULT_DATA_ROOT) -> Dict[str, EvalSet]:
    """name -> EvalSet for CBSD68-s15/25/50, Rain12, Rain100L-10 and SOTS-outdoor-2 (the papers'
    sets) and, for the real-photo evaluation, CBSD68-clean, -jpeg10/20/30/40 (one OpenCV JPEG at
    that quality), -camera (``camera_noise``, every parameter drawn from the image's seed) and
    -heavyrain (``heavy_rain``, likewise) and -downpour (``downpour``, likewise).

    All are returned whether or not their folders exist; check ``.available``.
    Noise for CBSD68 uses seed 0 and the per-image seed ``[0, i]`` (see NoisyFolder).
    """
    root = resolve_data_root(data_root)
    j = os.path.join
    sets = {}
    for s in (15, 25, 50):
        name = f"CBSD68-s{s}"
        sets[name] = EvalSet(name, f"denoise_{s}", "noisy", j(root, "test", "denoise", "CBSD68"), sigma=s)
    sets["Rain12"] = EvalSet("Rain12", "derain", "paired", j(root, "test", "derain", "Rain12"))
    sets["Rain100L-10"] = EvalSet("Rain100L-10", "derain", "paired", j(root, "test", "derain", "Rain100L-10"))
    sets["SOTS-outdoor-2"] = EvalSet("SOTS-outdoor-2", "dehaze", "paired",
                                     j(root, "test", "dehaze", "SOTS-outdoor-2"))
    # what users bring (the real-photo evaluation), all on CBSD68 with image i seeded [0, i]
    cbsd = j(root, "test", "denoise", "CBSD68")
    sets["CBSD68-clean"] = EvalSet("CBSD68-clean", "clean", "synthetic", cbsd)
    for q in (10, 20, 30, 40):
        sets[f"CBSD68-jpeg{q}"] = EvalSet(f"CBSD68-jpeg{q}", "web_jpeg", "synthetic", cbsd,
                                          degradation="jpeg", params=(("quality", q),))
    sets["CBSD68-camera"] = EvalSet("CBSD68-camera", "camera_noise", "synthetic", cbsd, degradation="camera_noise")
    sets["CBSD68-heavyrain"] = EvalSet("CBSD68-heavyrain", "heavy_rain", "synthetic", cbsd, degradation="heavy_rain")
    sets["CBSD68-downpour"] = EvalSet("CBSD68-downpour", "downpour", "synthetic", cbsd, degradation="downpour")
    return sets
