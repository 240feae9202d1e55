"""Classroom lottery experiment: a tiny denoiser, a few IMP rounds, streamed round by round.

    for rec in run_demo(DemoConfig()):   # one dict per finished round
        print(rec["round"], rec["sparsity"], rec["ticket_psnr"], rec["reinit_psnr"], rec["oneshot_psnr"])

Everything is in memory (no files): a DnCNN-style residual CNN (``dncnn-classroom``) learns to remove Gaussian noise
from procedural images (``toydata``). Round 0 trains it densely from θ0. Each later round
removes ``rate`` of the surviving weights by global magnitude (the same ``pruning`` code as
MIR-L-G) and trains three networks with that sparsity, for the same number of steps:

* ``ticket``: the mask on θ0, the rewound winning ticket;
* ``reinit``: the same mask on a fresh random initialisation (the lottery-ticket control);
* ``oneshot``: the trained dense network pruned at once to that sparsity (global magnitude),
  then fine-tuned for ``oneshot_steps`` (the paper's PIR-OSM recipe: 5% of the budget).

Every network sees the same batches; results are a pure function of the config (on one
machine and thread count).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.lottery.toydata import add_noise, toy_images
from restorelab.metrics import psnr_from_mse
from restorelab.models import TinyDenoiser, create_model
from restorelab.pruning import Masks, apply_masks, kept_count, ones_masks, prune_global, total_count
from restorelab.tensors import with_threads
from restorelab.training.core import Step, fit


@dataclass
class DemoConfig:
    seed: int = 0
    width: int = 20  # channels of the hidden convs
    depth: int = 5  # convs in total
    sigma: float = 25.0  # noise level (0-255 scale)
    patch: int = 32  # training patch side
    train_images: int = 64
    val_images: int = 8
    val_size: int = 48
    batch_size: int = 8
    steps: int = 200  # training steps of every network (dense and each round)
    lr: float = 3e-3
    rounds: int = 5
    rate: float = 0.4  # fraction of the surviving weights removed per round
    oneshot_steps: int = 10  # fine-tuning of the one-shot baseline (5% of steps, as the paper)
    oneshot_lr: float = 0.0  # peak LR of that fine-tuning; 0 = lr
    reinit_seed: int = 1000
    threads: int = 1  # torch threads while a round computes (tiny convs gain little from more)

    def __post_init__(self):
        if not 0 < self.rate < 1:
            raise RestoreLabError(f"rate must be in (0, 1), got {self.rate}")
        for name in ("width", "depth", "patch", "train_images", "val_images", "val_size", "batch_size",
                     "steps", "rounds", "threads"):
            if getattr(self, name) <= 0:
                raise RestoreLabError(f"{name} must be positive")
        if self.depth < 2:
            raise RestoreLabError("depth must be at least 2")
        if self.reinit_seed == self.seed:
            raise RestoreLabError("reinit_seed must differ from seed")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _new_model(cfg: DemoConfig, seed: int) -> TinyDenoiser:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return create_model("dncnn-classroom", width=cfg.width, depth=cfg.depth)


class _Data:
    """Fixed clean patches; batch ``step`` = a seeded choice of patches + fresh noise."""

    def __init__(self, cfg: DemoConfig):
        self.cfg = cfg
        self.train = toy_images(cfg.train_images, cfg.patch, cfg.seed)
        clean = toy_images(cfg.val_images, cfg.val_size, cfg.seed + 1)
        noisy = np.stack([add_noise(c, cfg.sigma, cfg.seed * 7919 + i) for i, c in enumerate(clean)])
        self.val_clean = torch.from_numpy(clean).permute(0, 3, 1, 2).contiguous()
        self.val_noisy = torch.from_numpy(noisy).permute(0, 3, 1, 2).contiguous()

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, step])
        clean = self.train[rng.integers(len(self.train), size=self.cfg.batch_size)]
        flip = rng.random(len(clean)) < 0.5
        clean = np.where(flip[:, None, None, None], clean[:, :, ::-1], clean)
        noisy = np.clip(clean + rng.normal(0, self.cfg.sigma / 255, clean.shape), 0, 1)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(0, 3, 1, 2)  # noqa: E731
        return t(noisy), t(clean)


def psnr_of(model: nn.Module, data: _Data) -> float:
    """Mean PSNR (dB, [0,1] range) of the clamped output on the validation images."""
    with torch.no_grad():
        out = model(data.val_noisy).clamp(0, 1)
    return _mean_psnr(out, data.val_clean)


def _mean_psnr(out: torch.Tensor, clean: torch.Tensor) -> float:
    """Mean over images of each image's PSNR (dB, data range 1)."""
    return float(np.mean([psnr_from_mse(m) for m in ((out - clean) ** 2).flatten(1).mean(1).tolist()]))


def train(model: nn.Module, data: _Data, masks: Masks | None, steps: int, lr: float) -> nn.Module:
    """Adam, cosine LR to 0 over ``steps``, L1 loss; masks hold pruned weights at zero."""
    apply_masks(model, masks)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    fit(Step(model, opt, masks=masks, sched=sched), data.batch, steps)
    return model


def _from_state(cfg: DemoConfig, state: dict) -> TinyDenoiser:
    m = _new_model(cfg, cfg.seed)
    m.load_state_dict(state)
    return m


def _oneshot_masks(dense: nn.Module, like: Masks) -> Masks:
    """Global magnitude masks of the trained dense model with as many survivors as ``like``."""
    total = total_count(like)
    return prune_global(dict(dense.named_parameters()), ones_masks(dense), (total - kept_count(like)) / total)


def run_demo(cfg: DemoConfig | None = None) -> Iterator[dict]:
    """Yield one record per finished round (round 0 = dense); see the module doc."""
    cfg = cfg or DemoConfig()
    # cfg.threads only while a round computes: a request handler iterating this generator must not
    # leave the whole process on that count between rounds
    yield from with_threads(_rounds(cfg), cfg.threads)


def _rounds(cfg: DemoConfig) -> Iterator[dict]:
    t0 = time.perf_counter()
    data = _Data(cfg)
    noisy_psnr = _mean_psnr(data.val_noisy, data.val_clean)
    theta0 = {k: v.clone() for k, v in _new_model(cfg, cfg.seed).state_dict().items()}
    dense = train(_from_state(cfg, theta0), data, None, cfg.steps, cfg.lr)
    dense_psnr = psnr_of(dense, data)
    masks = ones_masks(dense)
    base = {"dense_psnr": dense_psnr, "noisy_psnr": noisy_psnr, "total_weights": total_count(masks)}
    yield {"round": 0, "sparsity": 0.0, "kept_weights": total_count(masks), "ticket_psnr": dense_psnr,
           "reinit_psnr": None, "oneshot_psnr": None, **base, "seconds": time.perf_counter() - t0}
    trained = dense
    for r in range(1, cfg.rounds + 1):
        masks = prune_global(dict(trained.named_parameters()), masks, cfg.rate)
        trained = train(_from_state(cfg, theta0), data, masks, cfg.steps, cfg.lr)
        reinit = train(_new_model(cfg, cfg.reinit_seed), data, masks, cfg.steps, cfg.lr)
        shot_masks = _oneshot_masks(dense, masks)
        shot = _from_state(cfg, dense.state_dict())
        if cfg.oneshot_steps:
            shot = train(shot, data, shot_masks, cfg.oneshot_steps, cfg.oneshot_lr or cfg.lr)
        apply_masks(shot, shot_masks)
        kept = kept_count(masks)
        yield {"round": r, "sparsity": 1 - kept / total_count(masks), "kept_weights": kept,
               "ticket_psnr": psnr_of(trained, data), "reinit_psnr": psnr_of(reinit, data),
               "oneshot_psnr": psnr_of(shot, data), **base, "seconds": time.perf_counter() - t0}
