"""Measured performance drops: train one restorer per group, compare with single-task models.

``GroupModels(cfg, runs_dir)`` trains (or resumes, or reuses) the model of a group in
``runs_dir/<group key>`` with :class:`restorelab.training.Trainer` on :class:`GridsPairs` (tasks
mixed round-robin), and scores it per task on fixed held-out crops; a single-task model is the
group of one task. ``dP(C) = max_{d in C} PSNR(single(d), d) - PSNR(model(C), d)`` (Eq. 4).
PSNRs are cached in ``runs_dir/psnr.json``; ``GroupModels`` is the ``fn`` of a ``DeltaCache``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.grids.search import Group, group_key
from restorelab.grids.tasks import TASKS, GridsPairs, check_tasks, degrade, val_set
from restorelab.io import atomic_write
from restorelab.training.config import option


@dataclass(frozen=True)
class GroupTrainConfig:
    """The restorer and schedule every group model (and single-task model) is trained with."""

    model: str = option("promptir-tiny", "model preset of every group model (see `restorelab models`)")
    steps: int = option(2000, "training steps per model (see --budget)")
    budget: str = option("total", "total: every model trains --steps | per_task: a group of k tasks trains "
                                  "k * steps, so each task gets its single-task model's share of batches (short CPU "
                                  "schedules otherwise make dP measure under-training, not conflict)")
    batch_size: int = option(8, "patches per step")
    patch_size: int = option(64, "training crop side in pixels")
    lr: float = option(2e-4, "peak learning rate")
    warmup_steps: int = option(100, "linear learning-rate warm-up steps")
    data_dir: str = option("../shared/datasets/train/clean", "folder of clean training photos")
    val_count: int = option(16, "the last N sorted photos are held out: dP is measured on their centre crops")
    val_size: int = option(128, "centre crop side of each validation photo")
    seed: int = option(0, "seed of the initial weights, the crops and the degradations")
    threads: int = option(0, "torch threads, as `restorelab train --threads` (0: automatic)")
    precision: str = option("fp32", "fp32 | bf16: mixed-precision training (restorelab.training.precision)")

    def __post_init__(self):
        from restorelab.training.precision import check_precision

        if self.budget not in ("total", "per_task"):
            raise RestoreLabError(f"budget must be 'total' or 'per_task', got {self.budget!r}")
        check_precision(self.precision)

    def steps_for(self, group: Group) -> int:
        return self.steps * (len(group) if self.budget == "per_task" else 1)

    def to_dict(self) -> dict:
        return asdict(self)

    def protocol(self) -> dict:
        """What makes measurements comparable (``threads`` is not part of it; ``budget`` and
        ``precision`` only when not the default, so caches measured before they existed stay valid;
        bf16 shifts a model's PSNR by a few 0.1 dB, as much as dP resolves, so it is part of it)."""
        d = self.to_dict()
        d.pop("threads")
        for k, default in (("budget", "total"), ("precision", "fp32")):
            if d[k] == default:
                d.pop(k)
        return d


class GroupModels:
    """Trains, caches and scores group models; ``self(group)`` is dP(group) in dB."""

    def __init__(self, cfg: GroupTrainConfig, runs_dir: str | Path, progress: bool = False,
                 log: Callable[[str], None] = lambda s: None):
        from restorelab.data import list_images

        self.cfg, self.runs_dir, self.progress, self.log = cfg, Path(runs_dir), progress, log
        files = list_images(cfg.data_dir)
        if len(files) <= cfg.val_count:
            raise RestoreLabError(f"{cfg.data_dir}: {len(files)} photos, need more than val_count={cfg.val_count}")
        self.train_files, self.val_files = files[:-cfg.val_count], files[-cfg.val_count:]
        self.cache_path = self.runs_dir / "psnr.json"
        self.psnr: Dict[str, Dict[str, float]] = {}
        if self.cache_path.exists():
            data = json.loads(self.cache_path.read_text())
            if data.get("protocol") != cfg.protocol():
                raise RestoreLabError(f"{self.cache_path} was measured with another protocol; use another runs dir")
            self.psnr = data.get("psnr", {})

    def run_dir(self, group: Group) -> Path:
        return self.runs_dir / group_key(group)

    def scores(self, group: Group) -> Dict[str, float]:
        """task -> PSNR of the model trained on ``group`` (trained now if needed)."""
        group = check_tasks(group)
        key = group_key(group)
        if key not in self.psnr:
            self.log(f"training {self.cfg.model} on {key} for {self.cfg.steps_for(group)} steps")
            model = self._train(group)
            self.psnr[key] = self._final_val(group) or self._score(model, group)
            self._save()
        return self.psnr[key]

    def _train(self, group: Group):
        from restorelab.training import TrainConfig, Trainer

        c = self.cfg
        steps = c.steps_for(group)
        tc = TrainConfig(model=c.model, tasks=",".join(group), data_dir=c.data_dir, val_count=c.val_count,
                         patch_size=c.patch_size, batch_size=c.batch_size, steps=steps, lr=c.lr,
                         warmup_steps=c.warmup_steps, seed=c.seed, val_every=steps, val_size=c.val_size,
                         threads=c.threads, precision=c.precision)
        data = GridsPairs(c.data_dir, group, c.patch_size, c.seed, files=self.train_files)
        trainer = Trainer(tc, self.run_dir(group), progress=self.progress, dataset=data,
                          val_set=val_set(self.val_files, group, c.val_size))
        return trainer.train()

    def _final_val(self, group: Group) -> Dict[str, float]:
        """The trainer's own validation at the last step (same val set), if it logged one."""
        log = self.run_dir(group) / "log.jsonl"
        recs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        last = [r for r in recs if "val" in r and r.get("step") == self.cfg.steps_for(group)]
        return {t: last[-1]["val"][t]["psnr"] for t in group} if last and set(group) <= set(last[-1]["val"]) else {}

    def _score(self, model, group: Group) -> Dict[str, float]:
        from restorelab.inference import run_model
        from restorelab.training import evaluate_pairs

        res = evaluate_pairs(lambda img: run_model(model, img), val_set(self.val_files, group, self.cfg.val_size))
        return {t: r["psnr"] for t, r in res.items()}

    def _save(self) -> None:
        """Merge with the file first, so two processes measuring different groups keep both."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        if self.cache_path.exists():
            self.psnr = {**json.loads(self.cache_path.read_text()).get("psnr", {}), **self.psnr}
        text = json.dumps({"protocol": self.cfg.protocol(), "psnr": self.psnr}, indent=1)
        atomic_write(self.cache_path, lambda tmp: tmp.write_text(text))

    def __call__(self, group: Group) -> float:
        group = check_tasks(group)
        if len(group) == 1:
            return 0.0
        mixed = self.scores(group)
        return float(max(self.scores((t,))[t] - mixed[t] for t in group))

    def weights(self, group: Group) -> Path:
        p = self.run_dir(check_tasks(group)) / "final.safetensors"
        if not p.exists():
            raise RestoreLabError(f"no trained model for {group_key(group)} (expected {p})")
        return p


def psnr_table(model_for: Callable[[str], object], photos: Sequence[np.ndarray], tasks: Sequence[str] = TASKS,
               seed: int = 40_000, tile: int = 256) -> Dict[str, float]:
    """task -> mean PSNR of ``model_for(task)`` restoring each photo degraded with the task
    (photo i, task t: seed ``[seed, i, TASKS.index(t)]``). Table 1 is this for single-task,
    mix-all and group models."""
    from restorelab.inference import restore
    from restorelab.metrics import psnr

    out = {}
    for t in check_tasks(tasks):
        model = model_for(t)
        vals = [psnr(restore(model, degrade(t, p, seed=[seed, i, TASKS.index(t)]), tile=tile), p)
                for i, p in enumerate(photos)]
        out[t] = float(np.mean(vals))
    return out


def input_psnr(photos: Sequence[np.ndarray], tasks: Sequence[str] = TASKS, seed: int = 40_000) -> Dict[str, float]:
    """The same table for the degraded inputs themselves (no restoration)."""
    from restorelab.metrics import psnr

    return {t: float(np.mean([psnr(degrade(t, p, seed=[seed, i, TASKS.index(t)]), p) for i, p in enumerate(photos)]))
            for t in check_tasks(tasks)}


def export_group(models: GroupModels, group: Group, name: str, weights_dir: Optional[str | Path] = None,
                 extra: Optional[dict] = None) -> Path:
    """Copy a group model to ``weights/NAME.safetensors`` with a card listing its tasks."""
    import shutil

    from restorelab.inference.weights import load_weights
    from restorelab.models import count_params
    from restorelab.paths import default_weights_dir

    src = models.weights(group)
    wd = Path(weights_dir or default_weights_dir())
    wd.mkdir(parents=True, exist_ok=True)
    dst = wd / f"{name}.safetensors"
    shutil.copyfile(src, dst)
    total, nonzero = count_params(load_weights(dst))
    card = {"name": name, "kind": "grids-group", "preset": models.cfg.model, "params": total,
            "nonzero_params": nonzero, "tasks": list(group), "train": models.cfg.to_dict(),
            "val_psnr": models.psnr.get(group_key(group), {}), **(extra or {})}
    (wd / f"{name}.json").write_text(json.dumps(card, indent=2))
    return dst
