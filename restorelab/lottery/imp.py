"""Iterative magnitude pruning with rewinding (MIR-L, Algorithm 1), resumable round by round.

Round 0 trains the dense model (or reuses a finished dense run: a Trainer run directory with
``theta0.safetensors``, ``final.safetensors`` and ``config.json``). Each later round prunes
``rate`` of the surviving prunable weights of the previous round's trained weights, rewinds
the survivors, and retrains with the masks for ``steps_per_round`` steps with a fresh
optimizer and LR schedule (as the paper: a new Lightning trainer per round).

Rewinding (``rewind_all``):
  * True (default, pure lottery ticket): *every* tensor goes back to θ0, including biases,
    ``prompt_param`` and ``temperature``; a ticket is then exactly (mask, θ0).
  * False (the official MIR-L code): weights and biases go back to θ0, but ``prompt_param``
    and ``temperature`` keep the values trained in the previous round.
Late rewinding (``rewind_step = k > 0``): rewind to the dense run's weights after k steps
instead of θ0. They are reproduced by replaying the dense config for k steps in
``run_dir/rewind_stepK/`` (training is a pure function of config and step, so the replay
equals the dense run's step k when both ran in one process). ``rewind_step`` equal to the dense
steps rewinds to the dense run's final weights (no replay): the cheap end of the late-rewinding
range, retraining each round from the trained model with a fresh schedule. ``rewind_step = -1``
does not rewind weights at all: each round continues from the previous round's trained
survivors with a fresh schedule ("learning-rate rewinding", Renda et al. 2020), so short
rounds add up instead of each one restarting from the same point.

Layout: ``run_dir/lottery.json`` (both configs) and ``run_dir/round_XX/`` per round (see
``rounds``). Rerunning on the same directory resumes: finished rounds are read back, a
round's mask is read from its file, the Trainer resumes from its checkpoint. Only
``target``, ``target_over`` and ``rounds`` may change between runs (to extend a run).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from restorelab.errors import RestoreLabError
from restorelab.training.config import DictConfig, option
from restorelab.lottery import rounds as R
from restorelab.inference.weights import load_state
from restorelab.pruning import SCORES, Masks, load_masks, ones_masks, planned_kept, prunable_names, prune, save_masks
from restorelab.pruning.channels import keep_from_json, keep_to_json, select_channels, slice_state

MAX_ROUNDS = 200
IMP_STRATEGIES = ("global", "layerwise", "channels")
EXTENDABLE = ("target", "target_over", "rounds")


@dataclass
class LotteryConfig(DictConfig):
    label = "lottery config"  # not a field: no annotation

    strategy: str = option("global", "global | layerwise magnitude pruning | channels: structured, whole channels "
                                     "removed, the ticket is a smaller dense network (random is a baseline, see "
                                     "baselines)")
    rate: float = option(0.2, "fraction of the surviving prunable weights (channels: of every channel group) removed "
                              "per round")
    target: float = option(0.9, "stop at the first round whose sparsity >= target (channels: the fraction of the "
                                "parent's parameters removed)")
    target_over: str = option("all", "all (the paper's 'trainable parameters') | prunable: what target measures")
    rounds: int = option(0, "> 0: exactly this many pruning rounds, target ignored (the paper: 15)")
    steps_per_round: int = option(2000, "training steps of every pruning round (fresh optimizer and schedule)")
    warmup_per_round: int = option(-1, "warm-up steps per round; -1: the dense warm-up scaled by steps_per_round/steps")
    rewind_step: int = option(0, "0: rewind to θ0 (the paper); k > 0: late rewinding to step k of the dense run "
                             "(k = its steps: to its final weights); -1: no weight rewinding, continue "
                             "from the previous round (learning-rate rewinding)")
    rewind_all: bool = option(True, "true: every tensor back to θ0 (pure LTH); false: prompt_param and temperature "
                                "keep their trained values (the official MIR-L code)")
    keep_norms_dense: bool = option(False, "true: LayerNorm weights are never pruned")
    prune_prompts: bool = option(False, "true: the prompt banks (prompt_param) are prunable too (not MIR-L's rule: "
                                        "kept dense, they hold most of what a 90%-sparse promptir-cpu ticket keeps)")
    min_density: float = option(0.0, "global only: every tensor keeps at least this fraction of its weights "
                                 "(its largest), against layer collapse; 0: the paper's plain global threshold")
    score: str = option("magnitude", "global only: rank survivors by magnitude (the paper) or by lamp score "
                                 "(w² over the sum of the tensor's larger w'²: no layer is emptied)")
    final_steps: int = option(0, "training steps of the last round (the shipped ticket); 0: steps_per_round")

    def __post_init__(self):
        if self.strategy not in IMP_STRATEGIES:
            raise RestoreLabError(f"IMP strategy must be one of {', '.join(IMP_STRATEGIES)}, not {self.strategy!r}")
        if self.strategy == "channels" and (self.target_over != "all" or self.keep_norms_dense or self.prune_prompts):
            raise RestoreLabError("channels: target is over all parameters, and LayerNorms and prompt banks lose "
                                  "channels with the rest (no --target-over, --keep-norms-dense or --prune-prompts)")
        if self.target_over not in ("all", "prunable"):
            raise RestoreLabError(f"target_over must be all or prunable, not {self.target_over!r}")
        if not 0 < self.rate < 1:
            raise RestoreLabError(f"rate must be in (0, 1), got {self.rate}")
        if not 0 < self.target < 1:
            raise RestoreLabError(f"target must be in (0, 1), got {self.target}")
        if self.rounds < 0:
            raise RestoreLabError("rounds must be >= 0")
        if self.rewind_step < -1:
            raise RestoreLabError("rewind_step must be >= -1")
        if self.steps_per_round <= 0:
            raise RestoreLabError("steps_per_round must be positive")
        if self.final_steps < 0:
            raise RestoreLabError("final_steps must be >= 0")
        if not 0 <= self.min_density < 1:
            raise RestoreLabError(f"min_density must be in [0, 1), got {self.min_density}")
        if self.min_density and self.strategy != "global":
            raise RestoreLabError("min_density applies to the global strategy only")
        if self.score not in SCORES:
            raise RestoreLabError(f"score must be one of {', '.join(SCORES)}, not {self.score!r}")
        if self.score != "magnitude" and self.strategy != "global":
            raise RestoreLabError("score applies to the global strategy only")

    def prunable(self, model) -> list[str]:
        """The names of ``model``'s parameters this run may prune."""
        return prunable_names(model, self.keep_norms_dense, self.prune_prompts)


def round_train_config(train, lottery: LotteryConfig, final: bool = False):
    """The TrainConfig of a pruning round: the dense one with the per-round budget.

    ``final``: the round that reaches the target, trained ``final_steps`` if set (the warm-up
    scales with it too).
    """
    s = lottery.final_steps if final and lottery.final_steps else lottery.steps_per_round
    warm = lottery.warmup_per_round if lottery.warmup_per_round >= 0 else round(train.warmup_steps * s / train.steps)
    return dataclasses.replace(train, steps=s, warmup_steps=warm, val_every=s, ckpt_every=min(train.ckpt_every, s))


def rounds_needed(model, lottery: LotteryConfig) -> int:
    """Pruning rounds to reach the target (or ``lottery.rounds``); counts need no weights."""
    if lottery.rounds:
        return lottery.rounds
    if lottery.strategy == "channels":
        state = model.state_dict()
        total = sum(p.numel() for p in model.parameters())
        for r in range(1, MAX_ROUNDS + 1):
            state = slice_state(state, select_channels(state, 1 - lottery.rate))
            if 1 - _param_count(state) / total >= lottery.target - 1e-12:
                return r
        raise RestoreLabError(f"target {lottery.target} is not reachable by channel pruning")
    masks = ones_masks(model, lottery.prunable(model))
    all_total = sum(p.numel() for p in model.parameters())
    dense_rest = all_total - sum(m.numel() for m in masks.values())
    p_total = all_total - dense_rest
    for r, kept in enumerate(planned_kept(lottery.strategy, masks, lottery.rate, MAX_ROUNDS), 1):
        s = 1 - kept / p_total if lottery.target_over == "prunable" else 1 - (kept + dense_rest) / all_total
        if s >= lottery.target - 1e-12:
            return r
    raise RestoreLabError(f"target sparsity {lottery.target} over {lottery.target_over} parameters is not "
                          f"reachable ({dense_rest} parameters are never pruned)")


def _param_count(state: dict[str, torch.Tensor]) -> int:
    return sum(v.numel() for v in state.values() if v.is_floating_point())


def _fixed_part(meta: dict) -> dict:
    """A run's lottery.json without the fields that may change on resume (and how training runs)."""
    from restorelab.training.config import EXECUTION_FIELDS, TrainConfig

    train = TrainConfig.from_dict(meta["train"]).to_dict()  # runs written before a field existed: its default
    return {**meta, "lottery": {k: v for k, v in meta["lottery"].items() if k not in EXTENDABLE},
            "train": {k: v for k, v in train.items() if k not in EXECUTION_FIELDS}}


class IMP:
    """Run (or resume) iterative magnitude pruning in ``run_dir``; iterate ``run()`` for records."""

    def __init__(self, lottery: LotteryConfig, run_dir: str | Path, train=None, dense_run: str | Path | None = None,
                 dataset=None, val_set=None, progress: bool = False):
        from restorelab.training import TrainConfig

        if train is None and dense_run is None:
            raise RestoreLabError("give a training config (to train the dense model) or a finished dense run")
        self.dense_run = Path(dense_run) if dense_run else None
        if self.dense_run:
            for f in ("theta0.safetensors", "final.safetensors", "config.json"):
                if f.startswith("theta0") and lottery.rewind_step == -1:  # no weight rewinding: θ0 unused
                    continue
                if not (self.dense_run / f).exists():
                    raise RestoreLabError(f"dense run {self.dense_run} has no {f} (is it finished?)")
            train = train or TrainConfig.load(self.dense_run / "config.json")
        if lottery.rewind_step > train.steps:
            raise RestoreLabError(f"rewind_step {lottery.rewind_step} is after the dense run's end "
                                  f"({train.steps})")
        self.lottery, self.train, self.run_dir = lottery, train, Path(run_dir)
        self.dataset, self.val_set, self.progress = dataset, val_set, progress
        self.stopped = False
        self._budget: int | None = None

    # -- paths ------------------------------------------------------------------------------
    def round_dir(self, r: int) -> Path:
        return self.run_dir / f"round_{r:02d}"

    def _dense_file(self, name: str) -> Path:
        return (self.dense_run or self.round_dir(0)) / name

    def final_state(self, r: int) -> dict[str, torch.Tensor]:
        return R.load_final(self.dense_run if (r == 0 and self.dense_run) else self.round_dir(r))

    def n_rounds(self) -> int:
        from restorelab.models import create_model

        return rounds_needed(create_model(self.train.model), self.lottery)

    # -- bookkeeping ------------------------------------------------------------------------
    def _check_run_dir(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "lottery.json"
        new = {"kind": "imp", "lottery": self.lottery.to_dict(), "train": self.train.to_dict(),
               "dense_run": str(self.dense_run) if self.dense_run else None}
        if path.exists():
            old = json.loads(path.read_text())
            # runs written before a field existed hold its default
            old["lottery"] = LotteryConfig.from_dict(old["lottery"]).to_dict()
            if _fixed_part(old) != _fixed_part(new):
                raise RestoreLabError(f"{self.run_dir} holds a lottery run with another config; "
                                      f"only {', '.join(EXTENDABLE)} may change (use a new run directory)")
        R.write_json(path, new)

    def _count(self, step: int, loss: float) -> None:
        if self._budget is not None:
            self._budget -= 1

    def _train(self, cfg, d: Path, masks: Masks, init, info: dict) -> dict | None:
        if self._budget is not None and self._budget <= 0:
            self.stopped = True
            return None
        rec = R.train_round(cfg, d, masks, init, dataset=self.dataset, val_set=self.val_set,
                            progress=self.progress, stop_after=self._budget, on_step=self._count, info=info)
        self.stopped = rec is None
        return rec

    # -- rounds -----------------------------------------------------------------------------
    def _dense_round(self) -> dict | None:
        d = self.round_dir(0)
        if R.is_done(d):
            return R.read_record(d)
        from restorelab.models import create_model

        net = create_model(self.train.model)
        masks = ones_masks(net, self.lottery.prunable(net))
        info = {"round": 0, "kind": "dense", "strategy": self.lottery.strategy}
        if self.dense_run is None:
            return self._train(self.train, d, masks, None, info)
        from restorelab.inference.weights import load_weights

        model = load_weights(self.dense_run / "final.safetensors")
        save_masks(masks, d / R.MASK)
        val = R.validate_model(model, self.train, self.val_set)
        return R.finish_round(d, model, masks, val, {**info, "steps": self.train.steps,
                                                     "dense_run": str(self.dense_run)})

    def _rewind_state(self, r: int) -> dict[str, torch.Tensor] | None:
        k = self.lottery.rewind_step
        if k == -1:
            return self.final_state(r - 1)
        if k == 0:
            return load_state(self._dense_file("theta0.safetensors"))
        if k == self.train.steps:
            return self.final_state(0)
        from restorelab.training import Trainer

        side = self.run_dir / f"rewind_step{k}"
        ckpt = side / "checkpoint.pt"
        done = int(torch.load(ckpt, map_location="cpu", weights_only=True)["step"]) if ckpt.exists() else 0
        if done < k:
            if self._budget is not None and self._budget <= 0:
                self.stopped = True
                return None
            want = k - done if self._budget is None else min(k - done, self._budget)
            tr = Trainer(self.train, side, progress=self.progress, dataset=self.dataset, val_set=self.val_set)
            tr.train(stop_after=want, on_step=self._count)
            if tr.step < k:
                self.stopped = True
                return None
        return torch.load(ckpt, map_location="cpu", weights_only=True)["model"]

    def _pruned_masks(self, r: int) -> Masks:
        prev_masks = load_masks(self.round_dir(r - 1) / R.MASK)
        return R.masks_for(self.round_dir(r), lambda: prune(self.lottery.strategy, self.final_state(r - 1),
                                                            prev_masks, self.lottery.rate,
                                                            min_density=self.lottery.min_density,
                                                            score=self.lottery.score))

    # -- structured (channels) ---------------------------------------------------------------
    def _channel_keep(self, r: int):
        """Round r's kept channels, relative to round r-1's widths (written once: resumes reuse them)."""
        path = self.round_dir(r) / "channels.json"
        if path.exists():
            return keep_from_json(json.loads(path.read_text()))
        keep = select_channels(self.final_state(r - 1), 1 - self.lottery.rate)
        R.write_json(path, keep_to_json(keep))
        return keep

    def _sliced(self, state: dict[str, torch.Tensor], r: int) -> dict[str, torch.Tensor]:
        """The rewind state cut to round r: round r-1's weights (rewind_step -1) lose round r's channels,
        full-width ones (θ0, a late-rewinding point) those of rounds 1..r."""
        for k in range(r if self.lottery.rewind_step == -1 else 1, r + 1):
            state = slice_state(state, self._channel_keep(k))
        return state

    def _channel_round(self, r: int, cfg, info: dict) -> dict | None:
        from restorelab.models import create_model

        d = self.round_dir(r)
        d.mkdir(parents=True, exist_ok=True)
        init = self._rewind_state(r)
        if init is None:
            return None
        init = self._sliced(init, r)
        if not self.lottery.rewind_all:
            prev = slice_state(self.final_state(r - 1), self._channel_keep(r))
            init = {n: (v if n.endswith(("weight", "bias")) else prev[n]) for n, v in init.items()}
        net = create_model(self.train.model).fit_to_state(init)
        masks = ones_masks(net, prunable_names(net))
        dense = sum(p.numel() for p in create_model(self.train.model).parameters())
        return self._train(cfg, d, masks, init, {**info, "structured": True, "dense_params": dense})

    def _pruning_round(self, r: int, cfg) -> dict | None:
        d = self.round_dir(r)
        if R.is_done(d):
            return R.read_record(d)
        info = {"round": r, "kind": "imp", "strategy": self.lottery.strategy, "rate": self.lottery.rate,
                "rewind_step": self.lottery.rewind_step, "rewind_all": self.lottery.rewind_all}
        if self.lottery.strategy == "channels":
            return self._channel_round(r, cfg, info)
        masks = self._pruned_masks(r)
        init = self._rewind_state(r)
        if init is None:
            return None
        if not self.lottery.rewind_all:
            prev = self.final_state(r - 1)
            init = {n: (v if n.endswith(("weight", "bias")) else prev[n]) for n, v in init.items()}
        return self._train(cfg, d, masks, init, info)

    def run(self, stop_after: int | None = None) -> Iterator[dict]:
        """Yield the record of every round (finished ones read back) until the target is met.

        ``stop_after``: train at most this many steps in this call, then stop with
        ``self.stopped = True`` (a simulated kill; rerun to resume).
        """
        self._check_run_dir()
        self._budget, self.stopped = stop_after, False
        rec = self._dense_round()
        if rec is None:
            return
        yield rec
        n = self.n_rounds()
        for r in range(1, n + 1):
            rec = self._pruning_round(r, round_train_config(self.train, self.lottery, final=r == n))
            if rec is None:
                return
            yield rec

    def final_masks(self) -> Masks:
        return load_masks(self.round_dir(self.n_rounds()) / R.MASK)

