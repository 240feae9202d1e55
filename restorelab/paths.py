"""Where weights come from (environment, read at call time) and the default models.

No heavy imports here: the app reads this before torch is loaded.

``RESTORELAB_WEIGHTS_DIR``: folder of shipped models (default: the repository's ``weights/``).
``RESTORELAB_HUB_REPO`` + ``RESTORELAB_HUB_REVISION``: a Hub model repo and the pinned
revision to fetch weights from; the local folder is the fallback.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = REPO_ROOT / "weights"
#: The restorer `restore`, the app and the API use unless told otherwise: the blind real-photo model
#: (docs/real-photos.md). The papers' protocol models (aio-cpu-21k, the mirl-* tickets) stay shipped.
DEFAULT_MODEL = "real-cpu"
#: The pruned model the app's Restore tab compares it with: its lottery ticket, 90% of the weights zero.
DEFAULT_TICKET = "real-g-lamp"
#: The tickets the Lottery tab opens on: MIR-L's global vs layer-wise IMP of the same dense model,
#: same rounds and budgets (the paper's comparison).
LOTTERY_DEFAULTS = ("mirl-g", "mirl-lw")
#: Zeros vs speed: the default model, its unstructured and its structured ticket timed in one run
#: (``benchmarks/bench_tickets.py``), shown in the Lottery tab.
TICKETS_BENCH = REPO_ROOT / "benchmarks" / "results" / "tickets.json"


#: Classical baselines that run like models (``restorelab.inference.classical``): name -> label.
#: Both estimate the noise level from the photo; neither needs weights.
CLASSICAL_METHODS = {
    "nlm": "non-local means (OpenCV), noise level estimated from the photo",
    "bm3d": "CBM3D (bm3d package), noise level estimated from the photo; ~10 s per 0.15 MP photo, ~1 min per megapixel",
}


def default_weights_dir() -> Path:
    return Path(os.environ.get("RESTORELAB_WEIGHTS_DIR") or WEIGHTS_DIR)


def hub_config() -> tuple[str, str | None] | None:
    """``(repo, revision)`` when ``RESTORELAB_HUB_REPO`` is set, else None."""
    repo = os.environ.get("RESTORELAB_HUB_REPO")
    return (repo, os.environ.get("RESTORELAB_HUB_REVISION")) if repo else None

