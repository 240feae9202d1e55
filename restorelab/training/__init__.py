"""Training: the one step and loop (``core``: model, loss, batch source), typed config, the resumable trainer (θ0 saved, pruning masks kept, DDP via torchrun, batch split over threads,
bf16 mixed precision)."""

from restorelab.training.config import TrainConfig, add_arguments, from_args
from restorelab.training.core import Step, fit
from restorelab.training.loop import (
    Trainer,
    build_val_set,
    evaluate_pairs,
    load_init,
    make_optimizer,
    setup_distributed,
    teardown_distributed,
)
from restorelab.training.precision import Bf16Shadow, native_bf16
from restorelab.training.split import BatchSplit

__all__ = ["BatchSplit", "Bf16Shadow", "Step", "TrainConfig", "Trainer", "add_arguments", "build_val_set",
           "evaluate_pairs", "fit", "from_args", "load_init", "make_optimizer", "native_bf16", "setup_distributed",
           "teardown_distributed"]
