"""Ship a pruned model: its compact weights file and a JSON card, side by side in ``weights/``.

The card has what the catalog and the app read (name, kind "pruned", preset, params,
nonzero_params, tasks) plus how it was made (strategy, rounds, sparsity, validation, source
run) and the per-layer report (``layers``), so per-layer plots need no torch. Next to them,
``NAME.rounds.jsonl`` holds the record of every round up to the exported one (sparsity, counts,
per-layer report, validation per task): the app's round slider and PSNR-vs-parameters curves.
"""

from __future__ import annotations

import json
from pathlib import Path

from restorelab.errors import RestoreLabError
from restorelab.io import atomic_write
from restorelab.lottery import rounds as R
from restorelab.pruning import load_masks


def find_round(run_dir: str | Path, round_: int | None = None) -> tuple[Path, dict]:
    """(round directory, how it was made) for an IMP run, a baseline run or a round dir."""
    run_dir = Path(run_dir)
    if (run_dir / "lottery.json").exists():
        meta = json.loads((run_dir / "lottery.json").read_text())
        if round_ is None:
            done = sorted(d for d in run_dir.glob("round_*") if R.is_done(d))
            if not done:
                raise RestoreLabError(f"{run_dir} has no finished round")
            d = done[-1]
        else:
            d = run_dir / f"round_{round_:02d}"
        if not R.is_done(d):
            raise RestoreLabError(f"{d} is not a finished round")
        last = R.read_record(d)["round"]
        return d, {"strategy": meta["lottery"]["strategy"], "rounds": last, "history": R.history(run_dir, last),
                   "how": meta}
    if round_ is not None:
        raise RestoreLabError("--round only applies to an IMP run directory (with lottery.json)")
    if (run_dir / "baseline.json").exists():
        meta = json.loads((run_dir / "baseline.json").read_text())
        info = {"strategy": meta["baseline"]["kind"], "rounds": 1, "how": meta}
    else:
        meta, info = None, {"strategy": "unknown", "rounds": None}
    if not R.is_done(run_dir):
        raise RestoreLabError(f"{run_dir} is not a finished lottery run, baseline or round")
    rec = R.read_record(run_dir)
    info["history"] = [rec]
    if rec.get("kind") == "finetune":  # the fine-tuned ticket takes the place of the ticket's last round
        from restorelab.lottery.baselines import ticket_history

        records, how, commands, _ = ticket_history(meta["source"])
        info.update(strategy=rec["strategy"], rounds=rec["round"], history=records[:-1] + [rec],
                    how={**how, "finetune": meta}, commands=commands)
    return run_dir, info


def export(run_dir: str | Path, name: str, round_: int | None = None, weights_dir: str | Path | None = None,
           commands: list[str] | None = None) -> dict:
    """Write ``weights_dir/NAME.safetensors`` (compact) and ``NAME.json``; return the card.
    ``commands``: the exact commands that made the run, recorded in the card."""
    from restorelab.inference.compact import save_compact
    from restorelab.inference.weights import default_weights_dir, load_weights, save_weights
    from restorelab.training import TrainConfig

    if not name or "/" in name or name.startswith("."):
        raise RestoreLabError(f"bad model name {name!r}")
    d, info = find_round(run_dir, round_)
    rec = R.read_record(d)
    src = d if (d / "final.safetensors").exists() else Path(rec.get("dense_run") or d)  # round_00 of --dense-run
    model = load_weights(src / "final.safetensors")
    masks = load_masks(d / R.MASK)
    cfg = TrainConfig.load(src / "config.json")
    out = Path(weights_dir or default_weights_dir())
    weights, card_path, rounds_path = (out / f"{name}{ext}" for ext in (".safetensors", ".json", ".rounds.jsonl"))
    meta = {"name": name, "kind": "pruned", "strategy": info["strategy"], "sparsity": f"{rec['sparsity']:.6f}"}
    structured = bool(rec.get("structured"))
    if structured:  # a smaller dense network: a plain file (its widths are its tensors' shapes)
        save_weights(model, weights, {**meta, "structured": "true"})
    else:
        save_compact(model, masks, weights, meta)
    card = {"name": name, "kind": "pruned", "preset": cfg.model, "params": rec["total_params"],
            "nonzero_params": rec["nonzero_params"], "tasks": list(cfg.task_list), "strategy": info["strategy"],
            "structured": structured, **({"dense_params": rec["dense_params"]} if structured else {}),
            "rounds": info["rounds"], "sparsity": rec["sparsity"], "prunable_sparsity": rec["prunable_sparsity"],
            "val": rec.get("val"), "val_mean_psnr": rec.get("val_mean_psnr"),
            "format": "safetensors" if structured else "restorelab-compact-v1",
            "file_bytes": weights.stat().st_size, "source": str(d), "rounds_file": rounds_path.name,
            "commands": info.get("commands", []) + list(commands or []), "how": info.get("how"),
            "train_config": cfg.to_dict(),
            "layers": rec["layers"]}
    text = "".join(json.dumps(h) + "\n" for h in info["history"])
    atomic_write(rounds_path, lambda tmp: tmp.write_text(text))
    R.write_json(card_path, card)
    return {**card, "weights": str(weights), "card": str(card_path)}
