"""What can be run: architecture presets and the shipped (trained) models with their cards."""

from __future__ import annotations

from pathlib import Path

from restorelab.inference.classical import CLASSICAL
from restorelab.inference.weights import default_weights_dir, read_card, shipped_names
from restorelab.models import count_params, create_model, get_preset, preset_names


def list_models(weights_dir: str | Path | None = None) -> list[dict]:
    """One row per registered preset (random weights), per shipped model (from its card) and per
    classical baseline (``kind`` 'classical': no weights); ``family`` names the architecture."""
    weights_dir = Path(weights_dir or default_weights_dir())
    rows = []
    for name in preset_names():
        total, _ = count_params(create_model(name))
        rows.append({"name": name, "kind": "preset", "family": get_preset(name).family, "preset": name,
                     "params": total, "nonzero_params": total,
                     "weights": None, "tasks": [], "about": get_preset(name).about})
    for name in shipped_names(weights_dir):
        card = read_card(name, weights_dir)
        rows.append({"name": name, "kind": card.kind, "family": get_preset(card.preset).family, "preset": card.preset,
                     "params": card.params, "nonzero_params": card.nonzero_params,
                     "weights": str(Path(weights_dir) / f"{name}.safetensors"), "tasks": list(card.tasks),
                     "sparsity": card.sparsity, "structured": bool(card.extra.get("structured", False)),
                     "file_bytes": (Path(weights_dir) / f"{name}.safetensors").stat().st_size})
    for m in CLASSICAL.values():
        rows.append({"name": m.name, "kind": "classical", "family": "classical", "preset": "-", "params": 0, "nonzero_params": 0,
                     "weights": None, "tasks": ["denoise"], "about": m.about})
    return rows
