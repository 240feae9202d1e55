"""The paper's one-shot baselines and the lottery-ticket control it leaves out.

* one-shot magnitude (PIR-OSM I / II, ``amount`` 0.3 / 0.7): remove that fraction of the
  prunable weights of the *trained* dense model at once (global magnitude), then fine-tune
  the survivors from their trained values with the masks for ``finetune_frac`` (5%) of the
  dense step budget.
* one-shot random (PIR-OSR I / II): the same with uniformly random pruning (seeded).
* random re-init: the final mask of a finished IMP run applied to a *fresh* random
  initialisation (seed != the dense seed), trained with the same per-round budget (or
  ``reinit_steps``: with late rewinding a round retrains an already trained model, so a fair
  control needs a longer budget from scratch). A winning ticket should beat it; if it does
  not, the mask alone (not θ0) carries the result.
* fine-tune (not a baseline: a way to improve a ticket): a finished ticket (an IMP run or a
  shipped pruned model) trained further under its own mask from its own weights, e.g. with its
  dense parent as ``--teacher``. Its record takes the place of the ticket's last round.

Each baseline is one round directory (``rounds``) plus ``baseline.json``; rerunning resumes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from restorelab.errors import RestoreLabError
from restorelab.training.config import DictConfig
from restorelab.lottery import rounds as R
from restorelab.pruning import Masks, load_masks, ones_masks, prunable_names, prune

KINDS = ("oneshot-magnitude", "oneshot-random", "reinit", "finetune")
PAPER_NAMES = {("oneshot-magnitude", 0.3): "PIR-OSM I", ("oneshot-magnitude", 0.7): "PIR-OSM II",
               ("oneshot-random", 0.3): "PIR-OSR I", ("oneshot-random", 0.7): "PIR-OSR II"}


@dataclass
class BaselineConfig(DictConfig):
    label = "baseline config"  # not a field: no annotation

    kind: str = "oneshot-magnitude"  # oneshot-magnitude | oneshot-random | reinit | finetune
    amount: float = 0.3  # one-shot: fraction of the prunable weights removed (I: 0.3, II: 0.7)
    finetune_frac: float = 0.05  # one-shot: fine-tuning steps as a fraction of the dense steps
    finetune_lr: float = 0.0  # one-shot: peak LR of the fine-tuning; 0 = the dense LR
    seed: int = 1  # random pruning / re-initialisation seed
    reinit_steps: int = 0  # re-init: training steps; 0 = the IMP run's final-round budget
    keep_norms_dense: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise RestoreLabError(f"baseline kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not 0 < self.amount < 1:
            raise RestoreLabError(f"amount must be in (0, 1), got {self.amount}")
        if not 0 < self.finetune_frac <= 1:
            raise RestoreLabError(f"finetune_frac must be in (0, 1], got {self.finetune_frac}")
        if self.reinit_steps < 0:
            raise RestoreLabError(f"reinit_steps must be >= 0, got {self.reinit_steps}")


def shipped_dense_run(name: str, run_dir: str | Path) -> Path:
    """A shipped dense model (``weights/NAME``) as the finished dense run a pruning run starts from:
    ``RUN_DIR/dense-NAME/`` with its weights as ``final.safetensors`` and its card's training config
    (no θ0: shipped models made by fine-tuning have none, so only ``--rewind-step -1`` runs on it)."""
    import shutil

    from restorelab.inference.weights import read_card, resolve

    card = read_card(name)
    config = (card.extra.get("train") or {}).get("config")
    if card.kind != "dense" or not config:
        raise RestoreLabError(f"{name} is not a shipped dense model with a training config in its card")
    d = Path(run_dir) / f"dense-{name}"
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "final.safetensors").exists():
        shutil.copyfile(resolve(name), d / "final.safetensors")
    (d / "config.json").write_text(json.dumps(config, indent=2))
    return d


def dense_run_of(spec: str | Path, run_dir: str | Path) -> Path:
    """``--dense-run``: a run directory (see :func:`resolve_dense`), or a shipped dense model's name."""
    path = Path(spec)
    if path.is_dir() or len(path.parts) > 1:
        return resolve_dense(path)
    return shipped_dense_run(str(spec), run_dir)


def resolve_dense(path: str | Path) -> Path:
    """A dense Trainer run dir, or an IMP run dir (its dense run / round_00) -> the dense run dir."""
    path = Path(path)
    meta = path / "lottery.json"
    if meta.exists():
        dense = json.loads(meta.read_text()).get("dense_run")
        path = Path(dense) if dense else path / "round_00"
    for f in ("final.safetensors", "config.json"):
        if not (path / f).exists():
            raise RestoreLabError(f"{path} is not a finished dense run (no {f})")
    return path


def last_round(imp_run: str | Path) -> Path:
    """The highest-numbered finished round directory of an IMP run."""
    done = sorted(d for d in Path(imp_run).glob("round_*") if R.is_done(d))
    if len(done) < 2:
        raise RestoreLabError(f"{imp_run} has no finished pruning round")
    return done[-1]


def _start(run_dir: Path, cfg: BaselineConfig, source: Path) -> None:
    new = {"kind": "baseline", "baseline": cfg.to_dict(), "source": str(source)}
    path = run_dir / "baseline.json"
    if path.exists() and json.loads(path.read_text()) != new:
        raise RestoreLabError(f"{run_dir} holds a baseline with another config; use a new run directory")
    R.write_json(path, new)


def finetune_config(train, cfg: BaselineConfig):
    steps = max(1, round(cfg.finetune_frac * train.steps))
    return dataclasses.replace(train, steps=steps, warmup_steps=round(train.warmup_steps * cfg.finetune_frac),
                               lr=cfg.finetune_lr or train.lr, val_every=steps, ckpt_every=min(train.ckpt_every, steps))


def run_oneshot(cfg: BaselineConfig, dense_run: str | Path, run_dir: str | Path, *, dataset=None, val_set=None,
                progress: bool = False, stop_after: int | None = None, train=None) -> dict | None:
    """PIR-OSM / PIR-OSR: prune the trained dense model once, fine-tune; the record (None if stopped)."""
    from restorelab.models import create_model
    from restorelab.training import TrainConfig

    if cfg.kind not in ("oneshot-magnitude", "oneshot-random"):
        raise RestoreLabError(f"run_oneshot needs a one-shot kind, not {cfg.kind!r}")
    dense, run_dir = resolve_dense(dense_run), Path(run_dir)
    train = train or TrainConfig.load(dense / "config.json")
    _start(run_dir, cfg, dense)
    final = R.load_final(dense)
    strategy = "global" if cfg.kind == "oneshot-magnitude" else "random"
    model = create_model(train.model)
    ones = ones_masks(model, prunable_names(model, cfg.keep_norms_dense))
    masks = R.masks_for(run_dir, lambda: prune(strategy, final, ones, cfg.amount, cfg.seed))
    info = {"kind": cfg.kind, "name": PAPER_NAMES.get((cfg.kind, cfg.amount), cfg.kind), "amount": cfg.amount,
            "seed": cfg.seed, "dense_run": str(dense)}
    return R.train_round(finetune_config(train, cfg), run_dir, masks, final, dataset=dataset, val_set=val_set,
                         progress=progress, stop_after=stop_after, info=info)


def run_reinit(cfg: BaselineConfig, imp_run: str | Path, run_dir: str | Path, *, dataset=None, val_set=None,
               progress: bool = False, stop_after: int | None = None, overrides: dict | None = None) -> dict | None:
    """The final ticket's mask on a fresh initialisation (seed ``cfg.seed``), the final round's budget.
    ``overrides``: training fields that replace the ticket run's (e.g. ``threads``; not ``model``)."""
    from restorelab.lottery.imp import LotteryConfig, round_train_config
    from restorelab.models import create_model
    from restorelab.training import TrainConfig

    meta = json.loads((Path(imp_run) / "lottery.json").read_text())
    lottery, train = LotteryConfig.from_dict(meta["lottery"]), TrainConfig.from_dict(meta["train"])
    if overrides and overrides.get("model", train.model) != train.model:
        raise RestoreLabError(f"--model {overrides['model']} differs from the ticket's {train.model}")
    train = TrainConfig.from_dict({**train.to_dict(), **(overrides or {})})
    if cfg.seed == train.seed:
        raise RestoreLabError(f"re-init seed {cfg.seed} equals the ticket's seed; pick another")
    ticket, run_dir = last_round(imp_run), Path(run_dir)
    _start(run_dir, cfg, ticket)
    masks = R.masks_for(run_dir, lambda: load_masks(ticket / R.MASK))
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        init = create_model(train.model).state_dict()
    info = {"kind": "reinit", "name": "random re-init", "seed": cfg.seed, "ticket": str(ticket),
            "ticket_round": R.read_record(ticket)["round"]}
    if cfg.reinit_steps:
        lottery = dataclasses.replace(lottery, steps_per_round=cfg.reinit_steps, final_steps=0)
    return R.train_round(round_train_config(train, lottery, final=True), run_dir, masks, init, dataset=dataset,
                         val_set=val_set, progress=progress, stop_after=stop_after, info=info)


def ticket_history(ticket: str | Path) -> tuple[list[dict], dict, list[str], dict]:
    """How a finished ticket (an IMP run directory or a shipped pruned model) was made: its pruning
    records by round, its ``how`` (the IMP run's lottery.json, the card's ``how``), the commands its
    card records (none for a run directory) and its training config (a dict)."""
    from restorelab.inference.weights import resolve

    path = Path(ticket)
    if (path / "lottery.json").exists():
        how = json.loads((path / "lottery.json").read_text())
        return R.history(path, R.read_record(last_round(path))["round"]), how, [], how["train"]
    weights = resolve(str(ticket))
    card = json.loads(weights.with_suffix(".json").read_text())
    if card.get("kind") != "pruned":
        raise RestoreLabError(f"{ticket}: not a pruned model (fine-tune takes an IMP run or a shipped ticket)")
    rounds = weights.with_name(card["rounds_file"]) if card.get("rounds_file") else None
    records = [json.loads(line) for line in rounds.read_text().splitlines() if line.strip()] if rounds else []
    return records, card.get("how") or {}, list(card.get("commands") or []), card["train_config"]


def load_ticket(ticket: str | Path) -> tuple[Masks, dict]:
    """(masks, weights) of a finished ticket: an IMP run directory (its last round) or a shipped pruned
    model (its compact file; a structured ticket's plain file, where nothing is masked)."""
    from restorelab.inference.compact import is_compact, load_compact
    from restorelab.inference.weights import load_weights, read_metadata, resolve

    path = Path(ticket)
    if (path / "lottery.json").exists():
        last = last_round(path)
        return load_masks(last / R.MASK), R.load_final(last)
    weights = resolve(str(ticket))
    if is_compact(read_metadata(weights)):
        model, masks = load_compact(weights, with_masks=True)
        return masks, model.state_dict()
    model = load_weights(weights)
    return ones_masks(model, prunable_names(model)), model.state_dict()


def run_finetune(cfg: BaselineConfig, ticket: str | Path, run_dir: str | Path, *, dataset=None, val_set=None,
                 progress: bool = False, stop_after: int | None = None, overrides: dict | None = None) -> dict | None:
    """The ticket trained further under its own mask, from its own weights; the record (None if stopped).
    ``overrides``: training fields that replace the ticket's (``steps``, ``lr``, ``teacher``, ...; not ``model``)."""
    from restorelab.training import TrainConfig

    records, _, _, train = ticket_history(ticket)
    if overrides and overrides.get("model", train["model"]) != train["model"]:
        raise RestoreLabError(f"--model {overrides['model']} differs from the ticket's {train['model']}")
    train = TrainConfig.from_dict({**train, **(overrides or {}), "init": str(ticket)})
    run_dir = Path(run_dir)
    _start(run_dir, cfg, Path(ticket))
    masks, state = load_ticket(ticket)
    masks = R.masks_for(run_dir, lambda: masks)
    last = (records or [{}])[-1]
    info = {"kind": "finetune", "name": "fine-tuned ticket", "ticket": str(ticket), "round": last.get("round", 0),
            "strategy": last.get("strategy", "unknown"), "teacher": train.teacher or None,
            **({"structured": True, "dense_params": last["dense_params"]} if last.get("structured") else {})}
    return R.train_round(train, run_dir, masks, state, dataset=dataset, val_set=val_set, progress=progress,
                         stop_after=stop_after, info=info)
