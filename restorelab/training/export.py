"""Ship a finished dense run: ``weights/NAME.safetensors``, its θ0, its log and a JSON card.

The card says how the model was trained (config, the exact commands, steps, wall time, the
last validation) and, when a report is given, what it scores on the standard sets. θ0 ships
beside it (``NAME.theta0.safetensors``) because lottery-ticket rewinding needs it; a run that
continues a shipped one has the same θ0, and its card then points at that file instead of a copy.
"""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

from restorelab.errors import RestoreLabError


def _log(run_dir: Path) -> list[dict]:
    return _jsonl(run_dir / "log.jsonl")


def train_seconds(records: list[dict]) -> float:
    """Time spent in training steps, from the logged speed of each interval (steps redone after a kill count once)."""
    total, last = 0.0, 0
    for r in records:
        if "steps_per_s" in r:
            if r["step"] > last:
                total += (r["step"] - last) / max(r["steps_per_s"], 1e-9)
            last = r["step"]
    return total


def _shipped_copy(path: Path, weights_dir: Path, exclude: str) -> str | None:
    """The name of an already shipped θ0 file with the same bytes as ``path``, if any."""
    for f in sorted(weights_dir.glob("*.theta0.safetensors")):
        if f.name != exclude and filecmp.cmp(f, path, shallow=False):
            return f.name
    return None


def _stages(init: str, out: Path, name: str) -> list[dict]:
    """The earlier training stages a run continued, oldest first, each with its config, steps, time
    and last validation. ``init`` is a run directory (followed recursively) or a shipped model whose
    card is in ``out`` (its own earlier stages, then itself). Their logs ship beside the card as
    ``NAME.stageK.train-log.jsonl``. Call before anything is written: NAME may be the model continued."""
    import torch

    from restorelab.training.config import TrainConfig

    chain = []  # (stage dict without train_log, log records), newest first
    shipped = []  # a shipped model's recorded stages, oldest first: (stage dict, its log records)
    while init and len(chain) < 20:
        run = Path(init)
        if (run / "config.json").exists():
            cfg = TrainConfig.load(run / "config.json")
            if (run / "final.safetensors").exists():
                done = cfg.steps
            else:  # stopped early: the next stage started from the last checkpoint
                done = int(torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)["step"])
            records = [r for r in _log(run) if r.get("step", 0) <= done]
            chain.append((_stage(cfg.to_dict(), done, records), records))
            init = cfg.init
        elif (out / f"{init}.json").exists():
            card = json.loads((out / f"{init}.json").read_text())
            train = card.get("train") or {}
            for st in train.get("stages", []):
                log = st.get("train_log")
                shipped.append((st, _jsonl(out / log) if log else []))
            records = _jsonl(out / card["train_log"]) if card.get("train_log") else []
            chain.append(({"config": train.get("config"), "steps_done": train.get("steps"),
                           "train_seconds": train.get("train_seconds"), "reschedules": train.get("reschedules", []),
                           "last_validation": train.get("last_validation"),
                           "commands": train.get("commands", []), "shipped_as": init}, records))
            break
        else:
            break
    stages = []
    for i, (stage, records) in enumerate(shipped + list(reversed(chain)), 1):
        log = f"{name}.stage{i}.train-log.jsonl" if records else None
        if log:
            (out / log).write_text("".join(json.dumps(r) + "\n" for r in records))
        stages.append({**{k: v for k, v in stage.items() if k != "train_log"}, "train_log": log})
    return stages


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _stage(config: dict, done: int, records: list[dict]) -> dict:
    vals = [r for r in records if "val" in r]
    return {"config": config, "steps_done": done, "train_seconds": round(train_seconds(records)),
            "reschedules": [r for r in records if r.get("event") == "reschedule"],
            "last_validation": vals[-1] if vals else None}


def _weights_file(source: str, weights_dir: Path) -> Path:
    """A run directory's final weights, a .safetensors path, or a model shipped in ``weights_dir``."""
    from restorelab.inference.weights import resolve

    run = Path(source)
    if run.is_dir():
        if not (run / "final.safetensors").exists():
            raise RestoreLabError(f"{run} has no final.safetensors: the run has not finished")
        return run / "final.safetensors"
    return resolve(source, weights_dir)


def average_weights(files: list[Path]):
    """The model of ``files[0]`` with every tensor the uniform mean over ``files`` (a "model soup",
    Wortsman et al. 2022): fine-tunes of one model lie in one basin, so their mean keeps what each
    learned and evens out where each one's last steps happened to leave it (e.g. the global tone of
    dehazing, which swings from checkpoint to checkpoint)."""
    from restorelab.inference.weights import load_weights

    models = [load_weights(f) for f in files]
    states = [m.state_dict() for m in models]
    for f, st in zip(files[1:], states[1:]):
        if {k: v.shape for k, v in st.items()} != {k: v.shape for k, v in states[0].items()}:
            raise RestoreLabError(f"{f} is not the same architecture as {files[0]}: weights cannot be averaged")
    models[0].load_state_dict({k: sum(st[k].float() for st in states) / len(states) for k in states[0]})
    return models[0]


def ship_dense(run_dir: str | Path, name: str, commands: list[str], weights_dir: str | Path | None = None,
               report: dict | None = None, average_with: tuple[str, ...] = ()) -> dict:
    """Copy the run's final weights and θ0 into ``weights_dir`` and write the card. ``average_with``:
    ship instead the uniform mean of the run's final weights and these (run directories, .safetensors
    files or shipped names; see :func:`average_weights`)."""
    from restorelab.inference.weights import default_weights_dir, load_weights, save_weights
    from restorelab.models import count_params
    from restorelab.training.config import TrainConfig

    run_dir = Path(run_dir)
    final = run_dir / "final.safetensors"
    if not final.exists():
        raise RestoreLabError(f"{run_dir} has no final.safetensors: the run has not finished")
    cfg = TrainConfig.load(run_dir / "config.json")
    out = Path(weights_dir or default_weights_dir())
    out.mkdir(parents=True, exist_ok=True)
    stages = _stages(cfg.init, out, name)  # before copying: the run may continue the model NAME itself
    previous_card = (out / f"{name}.json").read_text() if (out / f"{name}.json").exists() else None
    if average_with:  # read every source before NAME is overwritten: it may be one of them
        soup = average_weights([final] + [_weights_file(s, out) for s in average_with])
        save_weights(soup, out / f"{name}.safetensors")
    else:
        shutil.copyfile(final, out / f"{name}.safetensors")
    theta0 = _shipped_copy(run_dir / "theta0.safetensors", out, exclude=f"{name}.theta0.safetensors")
    if theta0 is None and cfg.init:
        # fine-tuned: θ0 is the model it started from; shipped -> point at it, else (an earlier stage in
        # a run directory) nothing to ship: its weights are reproduced by the card's earlier commands
        if cfg.init == name:  # continues the model shipped under this name: keep that chain's θ0
            theta0 = (json.loads(previous_card).get("theta0") if previous_card else None)
        else:
            theta0 = f"{cfg.init}.safetensors" if (out / f"{cfg.init}.safetensors").exists() else None
    elif theta0 is None:
        theta0 = f"{name}.theta0.safetensors"
        shutil.copyfile(run_dir / "theta0.safetensors", out / theta0)
    if (run_dir / "log.jsonl").exists():  # loss and validation curves, for plots
        shutil.copyfile(run_dir / "log.jsonl", out / f"{name}.train-log.jsonl")
    total, nonzero = count_params(load_weights(out / f"{name}.safetensors"))
    records = _log(run_dir)
    vals = [r for r in records if "val" in r]
    card = {"name": name, "kind": "dense", "preset": cfg.model, "params": total, "nonzero_params": nonzero,
            "tasks": list(cfg.task_list), "format": "safetensors", "theta0": theta0,
            "train_log": f"{name}.train-log.jsonl",
            "train": {"config": cfg.to_dict(), "commands": commands, "steps": cfg.steps,
                      "train_seconds": round(train_seconds(records)),
                      "reschedules": [r for r in records if r.get("event") == "reschedule"],
                      # e.g. resumed with another --precision: the config above holds the last settings
                      "execution_changes": [r for r in records if r.get("event") == "execution-change"],
                      "last_validation": vals[-1] if vals else None,
                      "validation": "centre 128x128 crops of the last 8 training photos (held out), fixed seeds",
                      # a fine-tune of earlier run directories: how those stages were trained
                      "stages": stages,
                      # the shipped weights are the mean of the run's final weights and these
                      "averaged_with": list(average_with)},
            "file_bytes": (out / f"{name}.safetensors").stat().st_size}
    if report is not None:
        card["results"] = report
    (out / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card
