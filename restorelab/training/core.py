"""The one training step and the one loop every trainer in RestoreLab runs: a model, a loss, a batch source.

>>> import torch
>>> from restorelab.training.core import Step, fit
>>> model = torch.nn.Conv2d(3, 3, 3, padding=1)
>>> step = Step(model, torch.optim.Adam(model.parameters(), lr=1e-3))   # L1 loss by default
>>> batches = lambda i: (torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8))  # step index -> (input, target)
>>> fit(step, batches, end=3)                                            # steps 0, 1, 2
3

``Step`` is one optimizer update: zero the gradients; forward, loss and backward (the batch split over
``parts`` threads, ``training.split``; in bfloat16 on a copy, ``training.precision``); the update
with pruned weights held at exactly zero (``pruning.masked_step``); the learning-rate schedule.
``fit`` runs it over step indices and calls back after each step (logs, checkpoints, validation,
PSNR curves). Built on these two: ``Trainer`` (resumable runs of a ``TrainConfig``), the GRIDS
descriptor, the classroom lottery demo, the OES fits and the CPU benchmarks.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from restorelab.pruning import Masks, masked_step
from restorelab.training.precision import Bf16Shadow, check_precision
from restorelab.training.split import BatchSplit, LossFn, l1_loss

Batches = Callable[[int], tuple]  # step index -> (input, target); a pure function of the index for exact resumes
Callback = Callable[[int, torch.Tensor], None]  # (steps done, the detached loss of the last one)


class Step:
    """``step(x, y)``: one update of ``model`` by ``opt`` on ``loss_fn(model(x), y)``; returns the loss (detached).

    ``masks`` keep pruned weights at zero; ``sched`` (anything with ``.step()``) steps after every
    update; ``parts`` > 1 splits the batch over that many threads; ``precision="bf16"`` runs forward
    and backward on a bfloat16 copy and updates the float32 ``model``. ``forward`` replaces
    ``model(x)`` by any callable (``parts`` = 1), e.g. one that crops the output. ``net`` is what
    forward and backward run on: callers may wrap it (DDP, ``torch.compile``) before the first step.
    """

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer, loss_fn: LossFn = l1_loss, *,
                 masks: Masks | None = None, sched=None, parts: int = 1, precision: str = "fp32",
                 forward: Callable[[torch.Tensor], torch.Tensor] | None = None):
        check_precision(precision)
        if forward is not None and (parts != 1 or precision != "fp32"):
            raise ValueError("a custom forward runs on the caller's thread in float32: parts=1, precision='fp32'")
        self.model, self.opt, self.masks, self.sched = model, opt, masks, sched
        self.shadow = Bf16Shadow(model) if precision == "bf16" else None
        self.net = forward if forward is not None else (self.shadow.model if self.shadow else model)
        self.split = BatchSplit(parts, loss_fn)

    def __call__(self, x, y) -> torch.Tensor:
        self.opt.zero_grad(set_to_none=True)
        loss = self.split.backward(self.net, x, y)
        if self.shadow:
            self.shadow.grads_to_master()
        masked_step(self.model, self.masks, self.opt)
        if self.sched is not None:
            self.sched.step()
        if self.shadow:
            self.shadow.sync()
        return loss

    def close(self) -> None:
        """Stop the batch-split threads (a later step starts new ones)."""
        self.split.close()

    def __enter__(self) -> Step:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fit(step: Callable[..., torch.Tensor], batches: Batches, end: int, start: int = 0,
        callbacks: Iterable[Callback] = ()) -> int:
    """Steps ``start`` .. ``end - 1``: ``loss = step(*batches(i))``, then every ``callback(i + 1, loss)``.

    Returns the number of steps done by then (``end``, or ``start`` if that is later).
    """
    callbacks = tuple(callbacks)
    for i in range(start, end):
        loss = step(*batches(i))
        for cb in callbacks:
            cb(i + 1, loss)
    return max(start, end)
