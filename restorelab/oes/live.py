"""Sparse-DIP for the app: a generator of snapshots, every ``every`` steps, stoppable between them.

>>> for snap in stream(noisy, clean=clean):                       # doctest: +SKIP
...     show(snap["sparse"], snap["dense"], snap["curves"])
...     if user_pressed_stop:
...         break                      # nothing else to do: no thread, file or global state is held

Each snapshot is a dict::

    step, steps        steps done / planned
    sparse, dense      current outputs, float32 (H, W, 3) in [0, 1] (dense: None if not run)
    curves             {"sparse": {"noisy": [...], "clean": [...]}, "dense": {...}}: PSNR per step so far
                       ("clean" is empty without a clean image)
    seconds            wall time since the call (mask preparation included)
    done               True on the last snapshot;  info: how the mask was made

The mask is prepared before the first snapshot (instant for a transferred, random or magnitude
mask; ``learn`` and ``imp`` first run their own optimisation). With ``dense=True`` both fits
advance together (one step each, alternately), so the dense curve shows DIP's overfitting next
to Sparse-DIP. The torch thread count is set only while computing and
restored before every ``yield``, so a consumer that stops iterating leaves no trace.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.training.config import option
from restorelab.oes.sparse_dip import DENSE_LR, Fitter, MaskPlan, prepare
from restorelab.tensors import threads


@dataclass
class LiveConfig:
    steps: int = option(600, "Sparse-DIP steps: at 128² dense DIP peaks near step 250 and has lost ~3-4 dB by 600 "
                             "(~57 s for both on 2 idle AVX2 cores, ~35 s with AVX-512)")
    every: int = option(25, "steps between snapshots")
    lr: float = option(0.01, "Adam lr of Sparse-DIP")
    dense: bool = option(True, "also run dense DIP alongside (doubles the time; shows its overfitting)")
    dense_lr: float = option(DENSE_LR, "Adam lr of dense DIP")
    threads: int = option(0, "torch threads while computing (0: leave as is)")

    def __post_init__(self):
        if self.steps < 1 or self.every < 1:
            raise RestoreLabError(f"live: steps and every must be >= 1, got {self.steps}, {self.every}")

    def to_dict(self) -> dict:
        return asdict(self)


def _curves(f: Fitter | None) -> dict[str, list[float]]:
    return {"noisy": list(f.psnr_noisy), "clean": list(f.psnr_clean)} if f is not None else {"noisy": [], "clean": []}


def stream(noisy: np.ndarray, *, clean: np.ndarray | None = None, plan: MaskPlan | None = None,
           config: LiveConfig | None = None) -> Iterator[dict]:
    """Snapshots of Sparse-DIP (and dense DIP) on ``noisy`` every ``config.every`` steps."""
    plan, config = plan or MaskPlan(), config or LiveConfig()
    t0 = time.perf_counter()
    with threads(config.threads):
        p = prepare(plan, noisy)
        sparse = Fitter(noisy, preset=p.preset, masks=p.masks, clean=clean, lr=config.lr, seed=p.seed)
        dense = Fitter(noisy, preset=p.preset, clean=clean, lr=config.dense_lr, seed=p.seed) if config.dense else None
    info = p.info | {"preset": p.preset, "density": p.density}
    step = 0
    while step < config.steps:
        n = min(config.every, config.steps - step)
        with threads(config.threads):
            for _ in range(n):
                sparse.step()
                if dense is not None:
                    dense.step()
        step += n
        yield {"step": step, "steps": config.steps, "sparse": sparse.image(),
               "dense": dense.image() if dense is not None else None,
               "curves": {"sparse": _curves(sparse), "dense": _curves(dense)},
               "seconds": time.perf_counter() - t0, "done": step >= config.steps, "info": info}
