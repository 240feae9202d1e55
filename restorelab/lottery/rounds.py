"""One masked training round in its own directory, and the record it leaves.

A round directory is a ``Trainer`` run directory (config.json, theta0/final.safetensors,
checkpoint.pt, log.jsonl) plus

  mask.safetensors   the round's masks (uint8), written before training starts
  sparsity.json      the record, written last: its presence means "round finished"

so a killed round restarts from its Trainer checkpoint with the very same masks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from restorelab.io import atomic_write
from restorelab.pruning import Masks, load_masks, save_masks, sparsity_report

RECORD = "sparsity.json"
MASK = "mask.safetensors"


def is_done(round_dir: Path) -> bool:
    return (Path(round_dir) / RECORD).exists()


def read_record(round_dir: Path) -> dict:
    return json.loads((Path(round_dir) / RECORD).read_text())


def history(run_dir: Path, last: int) -> list[dict]:
    """The records of an IMP run's rounds 0 .. ``last``."""
    return [read_record(Path(run_dir) / f"round_{r:02d}") for r in range(last + 1)]


def write_json(path: Path, obj) -> None:
    """Atomic JSON write (a crash leaves the old file or none, never half a file)."""
    text = json.dumps(obj, indent=2)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def masks_for(round_dir: Path, make: Callable[[], Masks]) -> Masks:
    """The round's masks: read back if already written (resume), else ``make()`` and save."""
    path = Path(round_dir) / MASK
    if path.exists():
        return load_masks(path)
    masks = make()
    save_masks(masks, path)
    return masks


def validate_model(model: nn.Module, cfg, val_set=None) -> dict:
    """``Trainer.validate``-shaped record for a model outside a Trainer."""
    from restorelab.inference import run_model
    from restorelab.training import build_val_set, evaluate_pairs

    val_set = val_set if val_set is not None else build_val_set(cfg)
    res = evaluate_pairs(lambda img: run_model(model, img), val_set)
    return {"val": res, "val_mean_psnr": float(np.mean([r["psnr"] for r in res.values()])) if res else None}


def _last_validation(log: Path, step: int) -> dict | None:
    if not log.exists():
        return None
    found = None
    for line in log.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:  # a line cut short by a kill
            continue
        if "val" in rec and rec.get("step") == step:
            found = rec
    return found and {"val": found["val"], "val_mean_psnr": found["val_mean_psnr"]}


def train_round(cfg, round_dir: Path, masks: Masks, init_state: dict | None, *, dataset=None,
                val_set=None, progress: bool = False, stop_after: int | None = None,
                on_step: Callable[[int, float], None] | None = None, info: dict | None = None) -> dict | None:
    """Train ``cfg`` with ``masks`` from ``init_state`` in ``round_dir``; the record, or None if stopped.

    ``stop_after`` limits the steps done by this call (to simulate a kill). ``info`` is merged
    into the record (round number, strategy, ...).
    """
    from restorelab.training import Trainer

    round_dir = Path(round_dir)
    if is_done(round_dir):
        return read_record(round_dir)
    if not (round_dir / MASK).exists():
        save_masks(masks, round_dir / MASK)
    sparse = any(bool((m == 0).any()) for m in masks.values())
    trainer = Trainer(cfg, round_dir, masks=masks if sparse else None, init_state=init_state, progress=progress,
                      dataset=dataset, val_set=val_set)
    model = trainer.train(stop_after=stop_after, on_step=on_step)
    if trainer.step < cfg.steps:
        return None
    val = _last_validation(round_dir / "log.jsonl", cfg.steps) or validate_model(model, cfg, trainer.val_set)
    return finish_round(round_dir, model, masks, val, {"steps": cfg.steps, **(info or {})})


def finish_round(round_dir: Path, model: nn.Module, masks: Masks, val: dict, info: dict) -> dict:
    """Write and return the record: info + sparsity report + validation."""
    rec = {**info, **sparsity_report(model, masks), **val}
    if "dense_params" in info:  # a structured ticket: the channels it lost count as pruned
        rec["sparsity"] = 1 - rec["total_params"] / info["dense_params"]
    write_json(Path(round_dir) / RECORD, rec)
    return rec


def load_final(round_dir: Path) -> dict[str, torch.Tensor]:
    from restorelab.inference.weights import load_state

    return load_state(Path(round_dir) / "final.safetensors")
