"""Typed training hyper-parameters. Every field becomes a ``--flag`` of ``restorelab train``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path

from restorelab.errors import RestoreLabError
from restorelab.training.precision import check_precision

DEFAULT_DATA = "../shared/datasets"


class DictConfig:
    """``to_dict`` / ``from_dict`` for config dataclasses; unknown keys are errors, never swallowed."""

    label = "config"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        extra = set(d) - {f.name for f in fields(cls)}
        if extra:
            raise RestoreLabError(f"unknown {cls.label} keys: {sorted(extra)}")
        return cls(**d)


#: How a run executes, not what it computes: these may change when a run is resumed.
EXECUTION_FIELDS = ("channels_last", "compile", "threads", "batch_threads", "precision")


@dataclass
class TrainConfig(DictConfig):
    model: str = "promptir-cpu"  # a preset name (see `restorelab models`)
    tasks: str = "denoise_15,denoise_25,denoise_50,derain,dehaze"  # comma-separated, balanced
    data_dir: str = DEFAULT_DATA + "/train/clean"  # folder of clean photos
    val_count: int = 8  # the last N photos (sorted names) are held out for validation
    patch_size: int = 64
    batch_size: int = 8  # per process
    steps: int = 20000
    # start from these weights instead of a random θ0: a shipped model name, a .safetensors path or
    # a run directory (its final weights, else its last checkpoint's); '' = random init from seed
    init: str = ""
    optimizer: str = "adamw"  # adamw | adam
    lr: float = 2e-4
    weight_decay: float = 0.01  # torch AdamW's default, as MIR-L
    warmup_steps: int = 500
    min_lr_ratio: float = 0.01  # cosine decays to lr * this
    seed: int = 0
    val_every: int = 1000
    val_size: int = 128  # centre crop of each validation photo
    ckpt_every: int = 250
    channels_last: bool = True
    compile: bool = False  # torch.compile the model (see benchmarks for when it pays)
    threads: int = 0  # cores per process (torch intra-op threads); 0 = cores / processes
    # threads that each run forward + backward on a share of every batch, one intra-op thread each
    # (restorelab.training.split); 0 = `threads` of them when training in a single process without
    # --compile, else 1 (= off; the only value allowed under torchrun)
    batch_threads: int = 0
    # fp32 | bf16: forward + backward on a bfloat16 copy of the model, float32 weights and optimizer
    # (restorelab.training.precision; faster only on CPUs with native bf16)
    precision: str = "fp32"

    label = "training config"  # not a field: no annotation

    def __post_init__(self):
        if self.optimizer not in ("adamw", "adam"):
            raise RestoreLabError(f"optimizer must be adamw or adam, not {self.optimizer!r}")
        check_precision(self.precision)
        for name in ("patch_size", "batch_size", "steps", "val_every", "ckpt_every"):
            if getattr(self, name) <= 0:
                raise RestoreLabError(f"{name} must be positive")
        for name in ("threads", "batch_threads"):
            if getattr(self, name) < 0:
                raise RestoreLabError(f"{name} must be >= 0 (0: automatic)")
        if self.patch_size % 8:
            raise RestoreLabError("patch_size must be a multiple of 8")

    @property
    def task_list(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.tasks.split(",") if t.strip())

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def add_arguments(parser: argparse.ArgumentParser, cls=TrainConfig) -> None:
    """One ``--field`` per dataclass field, typed from its default (open_lth style)."""
    for f in fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(flag, type=parse_bool, default=default, metavar="BOOL")
        else:
            parser.add_argument(flag, type=type(default), default=default)


def from_args(args: argparse.Namespace, cls=TrainConfig):
    return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


def parse_bool(s: str) -> bool:
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")
