"""Read-only data the tabs plot, loaded from files that already exist (no training, no maths
beyond counting). TODO(lead): move ``layer_sparsity`` next to the lottery records once
``restorelab.lottery`` provides its per-layer sparsity report; the Lottery tab then reads that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from restorelab.errors import RestoreLabError


def layer_sparsity(weights_path: str | Path, min_ndim: int = 2) -> dict[str, float]:
    """``{tensor name: fraction of exactly-zero entries}`` for the weight tensors (ndim ≥ ``min_ndim``)
    of a dense safetensors file, in file order. Reads with numpy (no torch import)."""
    from safetensors import safe_open

    out: dict[str, float] = {}
    try:
        with safe_open(str(weights_path), framework="numpy") as f:
            for key in f.keys():
                t = f.get_tensor(key)
                if t.ndim >= min_ndim and t.size:
                    out[key] = float(np.count_nonzero(t == 0) / t.size)
    except FileNotFoundError:
        raise RestoreLabError(f"weights file not found: {weights_path}") from None
    except Exception as err:  # noqa: BLE001 - bad header, packed/compact formats, bf16…
        raise RestoreLabError(f"{weights_path}: cannot read per-layer sparsity ({err})") from None
    return out


def short_layer_names(names: list[str]) -> dict[str, str]:
    """Drop the common ``.weight`` suffix for display."""
    return {n: n[: -len(".weight")] if n.endswith(".weight") else n for n in names}
