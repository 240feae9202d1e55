"""Typed training hyper-parameters. Every field becomes a ``--flag`` of ``restorelab train``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from restorelab.data import list_images
from restorelab.errors import RestoreLabError
from restorelab.tensors import DEVICE_NAMES, check_device_name
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


def option(default, help_: str):
    """A config field and the help text of its ``--flag``: the one place that text is written
    (:func:`add_arguments` reads it from ``metadata["help"]``)."""
    return field(default=default, metadata={"help": help_})


#: How a run executes, not what it computes: these may change when a run is resumed.
EXECUTION_FIELDS = ("channels_last", "compile", "threads", "batch_threads", "precision", "device")


@dataclass
class LoopConfig(DictConfig):
    """What every optimisation loop has (the trainer, the GRIDS descriptor, OES mask learning)."""

    steps: int = option(20000, "optimizer steps in all")
    lr: float = option(2e-4, "peak learning rate (after warm-up, if any)")
    seed: int = option(0, "seed of the initial weights and of every random draw in the run")
    threads: int = option(0, "torch intra-op threads while it runs; 0 = automatic (cores / processes for "
                             "training; the process's current count inside the app)")

    def __post_init__(self):
        if self.steps < 0 or self.lr <= 0:
            raise RestoreLabError(f"{self.label}: steps >= 0 and lr > 0 required")
        if self.threads < 0:
            raise RestoreLabError("threads must be >= 0 (0: automatic)")


@dataclass
class PhotoTraining(LoopConfig):
    """What every loop that trains on crops of clean photos adds (``TrainConfig``, GRIDS'
    ``DescriptorTrainConfig``): the photos and their held-out split, the schedule's end, the bookkeeping."""

    data_dir: str = option(DEFAULT_DATA + "/train/clean", "folder of clean training photos")
    val_count: int = option(8, "the last N photos (sorted names) are held out for validation")
    batch_size: int = option(8, "crops per step, per process")
    min_lr_ratio: float = option(0.01, "the cosine schedule decays to lr * this")
    val_every: int = option(1000, "validate every N steps")
    ckpt_every: int = option(250, "save a resumable checkpoint every N steps")

    def __post_init__(self):
        super().__post_init__()
        for name in ("batch_size", "steps", "val_every", "ckpt_every"):
            if getattr(self, name) <= 0:
                raise RestoreLabError(f"{name} must be positive")

    def split_photos(self) -> tuple[list[Path], list[Path]]:
        """(training photos, held-out photos): the last ``val_count`` of the sorted folder are held out."""
        files = list_images(self.data_dir)
        if len(files) <= self.val_count:
            raise RestoreLabError(f"{self.data_dir}: {len(files)} photos, need more than val_count={self.val_count}")
        return files[: len(files) - self.val_count], files[len(files) - self.val_count:]


@dataclass
class TrainConfig(PhotoTraining):
    model: str = option("promptir-cpu", "model preset to train (see `restorelab models`)")
    tasks: str = option("denoise_15,denoise_25,denoise_50,derain,dehaze",
                        "comma-separated training tasks, sampled in equal shares")
    patch_size: int = option(64, "training crop side in pixels (a multiple of 8)")
    photo_augment: bool = option(False, "photo variety: half the crops cut from the photo shrunk by 0.5-1 (finer "
                                        "detail), half with saturation x1-1.6 (restorelab.data.SyntheticPairs)")
    init: str = option("", "start from these weights instead of a random θ0: a shipped model name, a .safetensors "
                           "path or a run directory (its final weights, else its last checkpoint's); "
                           "'' = random init from --seed")
    optimizer: str = option("adamw", "adamw | adam")
    weight_decay: float = option(0.01, "AdamW weight decay (torch's default, as MIR-L)")
    warmup_steps: int = option(500, "linear learning-rate warm-up steps")
    val_size: int = option(128, "centre crop side of each validation photo")
    teacher: str = option("", "knowledge distillation: a model (shipped name, .safetensors path or run directory) "
                              "whose output on each training input is blended into the target; '' = none")
    distill: float = option(0.5, "with --teacher: target = (1 - distill) * clean + distill * the teacher's output")
    channels_last: bool = option(True, "NHWC memory format (faster convolutions on CPU)")
    compile: bool = option(False, "torch.compile the model (see benchmarks for when it pays)")
    batch_threads: int = option(0, "threads that each run forward + backward on a share of every batch, one intra-op "
                                   "thread each (restorelab.training.split); 0 = `threads` of them when training in "
                                   "a single process without --compile, else 1 (= off; the only value allowed "
                                   "under torchrun)")
    precision: str = option("fp32", "fp32 | bf16: forward + backward on a bfloat16 copy of the model, float32 "
                                    "weights and optimizer (restorelab.training.precision; faster only on CPUs "
                                    "with native bf16)")
    device: str = option("auto", f"where it trains: {DEVICE_NAMES}; auto = CUDA when torch sees a GPU, else the "
                                 "CPU; under torchrun with CUDA each process takes cuda:LOCAL_RANK")

    label = "training config"  # not a field: no annotation

    def __post_init__(self):
        super().__post_init__()
        if self.optimizer not in ("adamw", "adam"):
            raise RestoreLabError(f"optimizer must be adamw or adam, not {self.optimizer!r}")
        check_precision(self.precision)
        check_device_name(self.device)  # the name only: a config is checked where it is written, not where it runs
        if self.batch_threads < 0:
            raise RestoreLabError("batch_threads must be >= 0 (0: automatic)")
        if not 0 <= self.distill <= 1:
            raise RestoreLabError(f"distill must be in [0, 1], got {self.distill}")
        if self.patch_size <= 0 or self.patch_size % 8:
            raise RestoreLabError("patch_size must be a positive multiple of 8")

    @property
    def task_list(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.tasks.split(",") if t.strip())

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def add_arguments(parser, cls=TrainConfig, skip: tuple[str, ...] = (), suppress: bool = False) -> None:
    """One ``--field`` per dataclass field of ``cls`` (open_lth style), typed from its default (bools
    through :func:`parse_bool`), its help text from the field's ``metadata["help"]`` (see
    :func:`option`). ``parser`` may be an argument group. ``suppress``: a flag not given is absent
    from the namespace (to tell given flags from defaults)."""
    own = set(cls.__dict__.get("__annotations__", {}))
    # The class's own fields first (a trainer's --model before the --steps every loop shares).
    for f in sorted(fields(cls), key=lambda f: f.name not in own):
        if f.name in skip or f.default is MISSING:
            continue
        kind = parse_bool if isinstance(f.default, bool) else type(f.default)
        help_ = f.metadata.get("help")
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind,
                            default=argparse.SUPPRESS if suppress else f.default,
                            metavar="BOOL" if kind is parse_bool else None,
                            help=f"{help_} (default: {_shown(f.default)})".replace("%", "%%") if help_ else None)


def _shown(default) -> str:
    if isinstance(default, bool):
        return str(default).lower()
    return repr(default) if default == "" else str(default)


def from_args(args: argparse.Namespace, cls=TrainConfig):
    return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def parse_bool(s: str) -> bool:
    """The one parser of boolean flags: true/false, yes/no, on/off, 1/0 (any case); anything else,
    a typo included, is an argparse error (never silently false)."""
    try:
        return BOOL_WORDS[str(s).strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected true/false, yes/no, on/off or 1/0, got {s!r}") from None
