"""OES mask learning: a Bernoulli mask over the frozen random generator, fitted to the noisy image.

One logit ``l`` per masked weight (``mask.masked_names`` of the config's scope: every parameter,
as the reference, or the conv weights only), initialised to 0 (π = 0.5). Each step draws a relaxed Bernoulli (binary
concrete / Gumbel-sigmoid) sample ``m = sigmoid((l + log u - log(1 - u)) / τ)``, τ = 0.2
(the reference's 2-class Gumbel-softmax, written as one sigmoid), runs the network with
``w0 * m`` through ``torch.func.functional_call`` (no copy of the network), and minimises::

    MSE(G(z; w0 * m), noisy) + kl_weight * Σ KL(Bern(sigmoid(l)) || Bern(ρ))

with Adam on the logits only; the weights ``w0`` never change. ρ is the target density; the
KL is summed over weights and weighted 1e-9, as the reference. The final mask is the global
top-k of the logits at the density (``restorelab.pruning.topk_mask``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from restorelab.errors import RestoreLabError
from restorelab.io import atomic_write
from restorelab.training.config import LoopConfig, option
from restorelab.metrics import psnr_from_mse
from restorelab.models.dip import build_generator, crop, noise_input
from restorelab.oes.mask import check_scope, masked_names
from restorelab.pruning import Masks, check_density, topk_mask
from restorelab.tensors import threads, to_tensor
from restorelab.training.core import Step, fit


@dataclass
class LearnConfig(LoopConfig):
    preset: str = option("lean", "generator preset")
    density: float = option(0.05, "fraction of the masked weights kept")
    temperature: float = option(0.2, "Gumbel-sigmoid temperature (reference 0.2, fixed)")
    kl_weight: float = option(1e-9, "weight of the summed KL toward Bernoulli(density) (reference 1e-9)")
    steps: int = option(1000, "Adam steps on the logits (the reference: 60,000 on a GPU)")
    lr: float = option(0.01, "Adam learning rate of the logits (reference 0.01)")
    scope: str = option("all", "masked tensors: all = every parameter (the reference's), weights = conv "
                        "weights only (BN and biases stay dense)")

    label = "learn config"

    def __post_init__(self):
        super().__post_init__()
        check_density(self.density)
        check_scope(self.scope)
        if self.temperature <= 0 or self.kl_weight < 0:
            raise RestoreLabError("learn config: temperature > 0 and kl_weight >= 0 required")


def gumbel_sigmoid(logits: torch.Tensor, temperature: float, gen: torch.Generator) -> torch.Tensor:
    """A relaxed Bernoulli(sigmoid(logits)) sample in (0, 1), differentiable in ``logits``."""
    u = torch.rand(logits.shape, generator=gen).clamp_(1e-6, 1 - 1e-6)
    return torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / temperature)


def kl_to_bernoulli(logits: torch.Tensor, rho: float) -> torch.Tensor:
    """Σ KL(Bern(sigmoid(l)) || Bern(rho)) over all entries (nats)."""
    p = torch.sigmoid(logits)
    return (p * (F.logsigmoid(logits) - math.log(rho))
            + (1 - p) * (F.logsigmoid(-logits) - math.log1p(-rho))).sum()


@dataclass
class LearnResult:
    logits: dict[str, torch.Tensor]
    masks: Masks
    config: LearnConfig
    mse: list[float]  # per step, of the sampled masked network vs the noisy image
    mean_prob: list[float]  # per step, mean sigmoid(logit)
    seconds: float

    def summary(self) -> dict:
        return {"steps": len(self.mse), "seconds": round(self.seconds, 2),
                "final_psnr_vs_noisy_sampled": round(psnr_from_mse(self.mse[-1]), 3) if self.mse else None,
                "final_mean_prob": self.mean_prob[-1] if self.mean_prob else None}


class MaskLearner:
    """OES on one noisy image, a step at a time (``run`` for the whole budget)."""

    def __init__(self, noisy: np.ndarray, config: LearnConfig):
        self.config = config
        self.target = to_tensor(noisy)
        self.height, self.width = self.target.shape[-2:]
        self.net = build_generator(config.preset, seed=config.seed)
        self.net.requires_grad_(False)
        self.z = noise_input(self.net.config, self.height, self.width, seed=config.seed)
        params = dict(self.net.named_parameters())
        self.names = masked_names(self.net, config.scope)
        self.w0 = {n: params[n] for n in self.names}
        self.logits = {n: torch.zeros_like(params[n], requires_grad=True) for n in self.names}
        self.opt = torch.optim.Adam(self.logits.values(), lr=config.lr)
        self.train_step = Step(self.net, self.opt, self._loss, forward=self.forward)  # the weights stay frozen
        self.gen = torch.Generator().manual_seed(config.seed)
        self.mse: list[float] = []
        self.mean_prob: list[float] = []
        self._mse: torch.Tensor | None = None  # of the step in progress (the loss adds the KL)

    def forward(self, masks: dict[str, torch.Tensor]) -> torch.Tensor:
        """The network output (cropped) with ``w0 * masks`` for the masked tensors."""
        masked = {n: self.w0[n] * masks[n] for n in self.names}
        return crop(functional_call(self.net, masked, (self.z,)), self.height, self.width)

    def batch(self, i: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """A fresh relaxed mask sample (from the learner's generator) and the noisy image."""
        c = self.config
        return {n: gumbel_sigmoid(self.logits[n], c.temperature, self.gen) for n in self.names}, self.target

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c = self.config
        mse = F.mse_loss(out, target)
        kl = sum(kl_to_bernoulli(self.logits[n], c.density) for n in self.names)
        self._mse = mse.detach()
        return mse + c.kl_weight * kl

    def _record(self, done: int, loss: torch.Tensor) -> None:
        with torch.no_grad():
            total = sum(l.numel() for l in self.logits.values())
            self.mean_prob.append(float(sum(torch.sigmoid(l).sum() for l in self.logits.values())) / total)
        self.mse.append(float(self._mse))

    def run(self, steps: int, progress: Callable[[int, float], None] | None = None) -> None:
        """``steps`` more steps; ``progress(steps done, MSE of the last)`` after each."""
        report = [] if progress is None else [lambda done, _: progress(done, self.mse[-1])]
        done = len(self.mse)
        fit(self.train_step, self.batch, done + steps, start=done, callbacks=[self._record, *report])

    def step(self) -> float:
        """One step; returns its MSE (of the sampled masked network vs the noisy image)."""
        self.run(1)
        return self.mse[-1]

    def final_masks(self) -> Masks:
        return topk_mask(self.logits, self.config.density)

    def state_dict(self) -> dict:
        """Everything a resumed run needs: logits, Adam moments, the sampler's state, the curves."""
        return {"config": self.config.to_dict(), "logits": {n: l.detach() for n, l in self.logits.items()},
                "opt": self.opt.state_dict(), "gen": self.gen.get_state(), "mse": self.mse,
                "mean_prob": self.mean_prob}

    def load_state_dict(self, state: dict) -> None:
        mine = {k: v for k, v in self.config.to_dict().items() if k not in ("steps", "threads")}
        theirs = {k: v for k, v in state["config"].items() if k not in ("steps", "threads")}
        if mine != theirs:
            diff = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise RestoreLabError(f"the checkpoint was learned with other settings ({', '.join(diff)}); "
                                  "use another --checkpoint or the same settings")
        with torch.no_grad():
            for n, l in self.logits.items():
                l.copy_(state["logits"][n])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        self.mse, self.mean_prob = list(state["mse"]), list(state["mean_prob"])


def learn_mask(noisy: np.ndarray, config: LearnConfig, progress: Callable[[int, float], None] | None = None,
               checkpoint: str | Path | None = None, every: int = 500) -> LearnResult:
    """Learn an OES mask on ``noisy`` (float ``(H, W, 3)`` in [0, 1]) for ``config.steps`` steps.

    With ``checkpoint``, the state is saved there every ``every`` steps and at the end, and a run
    finds it and goes on from it (the reference learns for 60,000 steps: hours on a CPU)."""
    t0 = time.perf_counter()
    with threads(config.threads):
        learner = MaskLearner(noisy, config)
        if checkpoint is not None and Path(checkpoint).is_file():
            learner.load_state_dict(torch.load(checkpoint, weights_only=True))
        while len(learner.mse) < config.steps:
            learner.run(min(every if checkpoint is not None else config.steps, config.steps - len(learner.mse)),
                        progress)
            if checkpoint is not None:
                atomic_write(checkpoint, lambda tmp: torch.save(learner.state_dict(), tmp))
        masks = learner.final_masks()
    logits = {n: l.detach() for n, l in learner.logits.items()}
    return LearnResult(logits, masks, config, learner.mse, learner.mean_prob, time.perf_counter() - t0)
