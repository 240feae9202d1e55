"""Where weights come from (environment, read at call time) and which cards are restorers.

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
#: The restorer `restore` and the app use unless told otherwise: the best shipped dense model.
DEFAULT_MODEL = "aio-cpu-21k"
#: The pruned model the app's Restore tab compares it with: the best shipped ticket at 90% sparsity.
DEFAULT_TICKET = "mirl-g-lamp-r600"


def default_weights_dir() -> Path:
    return Path(os.environ.get("RESTORELAB_WEIGHTS_DIR") or WEIGHTS_DIR)


def hub_config() -> tuple[str, str | None] | None:
    """``(repo, revision)`` when ``RESTORELAB_HUB_REPO`` is set, else None."""
    repo = os.environ.get("RESTORELAB_HUB_REPO")
    return (repo, os.environ.get("RESTORELAB_HUB_REVISION")) if repo else None


def is_restorer_card(card) -> bool:
    """Cards of runnable restorers carry a preset and a parameter count (OES masks, GRIDS
    descriptors and the like have cards too, but are not models the app or CLI can run)."""
    return isinstance(card, dict) and "preset" in card and "params" in card
