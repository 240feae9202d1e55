"""Throw-away models for developing and testing the app before (or without) shipped weights.

``python tests/devmodels.py DIR`` writes two tiny random ``promptir-test`` models with
cards into DIR; then ``RESTORELAB_WEIGHTS_DIR=DIR python app.py``. Their outputs are noise-like:
they exercise the app, they do not restore anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def make_test_models(folder: str | Path, preset: str = "promptir-test") -> dict[str, dict]:
    """``dev-dense`` and ``dev-pruned`` (half of every weight matrix zeroed), each with a card."""
    import torch

    from restorelab.inference import save_weights
    from restorelab.models import count_params, create_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    cards = {}
    for name, kind in (("dev-dense", "dense"), ("dev-pruned", "pruned")):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = create_model(preset)
        if kind == "pruned":
            with torch.no_grad():
                for p in model.parameters():
                    if p.ndim >= 2:
                        p.mul_((torch.rand(p.shape, generator=gen) > 0.5).to(p.dtype))
        save_weights(model, folder / f"{name}.safetensors")
        total, nonzero = count_params(model)
        cards[name] = {"name": name, "kind": kind, "preset": preset, "params": total,
                       "nonzero_params": nonzero, "tasks": ["denoise_25"],
                       "about": "random weights for app development and tests; not a restorer"}
        (folder / f"{name}.json").write_text(json.dumps(cards[name], indent=2))
    return cards


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/devmodels.py DIR")
    for name in make_test_models(sys.argv[1]):
        print(Path(sys.argv[1]) / f"{name}.safetensors")
