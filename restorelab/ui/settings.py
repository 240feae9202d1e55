"""App settings, read from the environment at call time (so tests can point them elsewhere).

=========================  ============================================================
``RESTORELAB_WEIGHTS_DIR``  folder of shipped models (``NAME.safetensors`` + ``NAME.json``);
                            default: the repository's ``weights/``
``RESTORELAB_MAX_PIXELS``   largest accepted image, in pixels; default 16 MP
``RESTORELAB_MAX_FILE_SIZE`` largest accepted upload (Gradio syntax, e.g. ``"50mb"``)
``RESTORELAB_CBM3D_MAX_PIXELS`` largest photo the app gives CBM3D (about a minute per megapixel
                            on 2 cores, holding the one restore slot); default 2 MP
``RESTORELAB_HUB_REPO``     Hub model repo holding the weights (with ``RESTORELAB_HUB_REVISION``,
                            a pinned commit hash or tag); local ``weights/`` is the fallback
``RESTORELAB_BACKEND``      CPU inference backend of our networks: ``auto`` (default: the fastest
                            installed one, measured once per machine in the background while
                            PyTorch serves) or a name from ``inference.backends.BACKENDS``
=========================  ============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from restorelab.paths import REPO_ROOT, default_weights_dir, hub_config  # noqa: F401 (re-exported)
EXAMPLES_DIR = REPO_ROOT / "examples"
DEFAULT_MAX_PIXELS = 16_000_000
DEFAULT_MAX_FILE_SIZE = "50mb"
DEFAULT_CBM3D_MAX_PIXELS = 2_000_000


def weights_dir() -> Path:
    return default_weights_dir()


def _pixels(var: str, default: int) -> int:
    raw = os.environ.get(var)
    try:
        return int(float(raw)) if raw else default
    except ValueError:
        return default


def max_pixels() -> int:
    return _pixels("RESTORELAB_MAX_PIXELS", DEFAULT_MAX_PIXELS)


def cbm3d_max_pixels() -> int:
    return _pixels("RESTORELAB_CBM3D_MAX_PIXELS", DEFAULT_CBM3D_MAX_PIXELS)


def max_file_size() -> str:
    return os.environ.get("RESTORELAB_MAX_FILE_SIZE") or DEFAULT_MAX_FILE_SIZE


def backend() -> str:
    return (os.environ.get("RESTORELAB_BACKEND") or "auto").strip() or "auto"



def oes_replay_dir() -> Path:
    """Precomputed OES runs of the example photos (``python -m restorelab oes record-replays``)."""
    return EXAMPLES_DIR / "oes-replay"


def example_photos() -> list[Path]:
    exts = {".png", ".jpg", ".jpeg", ".webp"}
    return sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in exts)
