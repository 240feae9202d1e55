"""Sparse-DIP: fit a masked generator to a noisy image, and the baselines on the same budget.

Training (as the reference ``train_sparse``): the pruned weights are zeroed once, then after
every backward their gradients are zeroed, so Adam's moments for them stay 0 and they stay
exactly 0 (``restorelab.pruning.masked_step``); every other parameter (kept weights, biases,
BN γ/β) is trained. Plain MSE to the noisy image, fixed input, no EMA, no early stopping: the
result is the last iterate.

Methods (``MASK_KINDS``), all at the same density over the masked tensors (``MaskPlan.scope``:
every parameter as the reference, or the conv weights only; ``restorelab.oes.mask``):

* ``transfer[:NAME]``  a saved OES mask (shipped name or path) on the generator rebuilt from the
  mask file's seed (``init_seed`` overrides: the paper's fresh-init transfer)
* ``learn``            OES on this noisy image first (``learn.learn_mask``), then train
* ``random``           uniform global random mask;  ``magnitude``: global |w| at init
* ``imp``              iterative magnitude pruning with rewinding to θ0 (``restorelab.pruning``'s global
  magnitude pruning, as ``restorelab.lottery``)
* ``dense``            plain DIP (lr 1e-3 as the reference's baseline; it overfits)

``PSNR vs noisy`` is recorded at every step; ``PSNR vs clean`` too when a clean image is given.
Both use the output of the step (before its update), so the last entry is the returned image's.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from restorelab.errors import RestoreLabError
from restorelab.metrics import psnr_from_mse
from restorelab.models.dip import build_generator, crop, get_config, noise_input
from restorelab.oes.mask import check_masks, check_scope, magnitude_mask, masked_names, random_mask
from restorelab.pruning import Masks, apply_masks, check_density, density_of, n_keep, ones_masks, prune_global
from restorelab.tensors import threads, to_image, to_tensor
from restorelab.training import core

MASK_KINDS = ("transfer", "learn", "random", "magnitude", "imp", "dense")
DENSE_LR = 1e-3  # the reference's dense DIP baseline; masked trainings use 1e-2


class Fitter:
    """One DIP fit in progress. ``masks=None``: dense. ``step()`` once per iteration."""

    def __init__(self, noisy: np.ndarray, *, preset: str = "lean", masks: Masks | None = None,
                 clean: np.ndarray | None = None, lr: float = 0.01, seed: int = 0):
        self.target = to_tensor(noisy)
        self.clean = None if clean is None else to_tensor(clean)
        if self.clean is not None and self.clean.shape != self.target.shape:
            raise RestoreLabError(f"clean image is {tuple(self.clean.shape[-2:])}, "
                                  f"noisy {tuple(self.target.shape[-2:])}")
        self.height, self.width = self.target.shape[-2:]
        self.net = build_generator(preset, seed=seed)
        self.masks = masks
        if masks is not None:
            check_masks(self.net, masks)
            apply_masks(self.net, masks)
        self.z = noise_input(self.net.config, self.height, self.width, seed=seed)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.train_step = core.Step(self.net, self.opt, F.mse_loss, masks=masks, forward=self._forward)
        self.psnr_noisy: list[float] = []
        self.psnr_clean: list[float] = []
        self.output: torch.Tensor | None = None

    def _forward(self, z: torch.Tensor) -> torch.Tensor:
        self.output = crop(self.net(z), self.height, self.width)
        return self.output

    def batch(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every step: the fixed input noise and the noisy image."""
        return self.z, self.target

    def _record(self, done: int, loss: torch.Tensor) -> None:
        self.output = self.output.detach()
        self.psnr_noisy.append(psnr_from_mse(float(loss)))
        if self.clean is not None:
            self.psnr_clean.append(psnr_from_mse(float(F.mse_loss(self.output, self.clean))))

    def run(self, steps: int) -> None:
        """``steps`` more iterations (the PSNR curves grow by as many entries)."""
        done = len(self.psnr_noisy)
        core.fit(self.train_step, self.batch, done + steps, start=done, callbacks=[self._record])

    def step(self) -> None:
        self.run(1)

    def image(self) -> np.ndarray:
        """The latest output, float32 ``(H, W, 3)`` in [0, 1] (before the first step: the init's)."""
        if self.output is None:
            with torch.no_grad():
                self.output = crop(self.net(self.z), self.height, self.width)
        return to_image(self.output)


@dataclass
class FitResult:
    method: str
    image: np.ndarray
    psnr_noisy: list[float]
    psnr_clean: list[float]
    seconds: float
    density: float
    info: dict = field(default_factory=dict)

    def summary(self) -> dict:
        out = {"method": self.method, "steps": len(self.psnr_noisy), "density": round(self.density, 6),
               "seconds": round(self.seconds, 2),
               "final_psnr_vs_noisy": round(self.psnr_noisy[-1], 3) if self.psnr_noisy else None}
        if self.psnr_clean:
            peak = int(np.argmax(self.psnr_clean))
            out |= {"final_psnr": round(self.psnr_clean[-1], 3), "peak_psnr": round(self.psnr_clean[peak], 3),
                    "peak_step": peak + 1}
        return out | self.info


def fit(noisy: np.ndarray, *, steps: int, preset: str = "lean", masks: Masks | None = None,
        clean: np.ndarray | None = None, lr: float = 0.01, seed: int = 0, method: str = "sparse",
        n_threads: int = 0) -> FitResult:
    """Train for ``steps`` steps; returns the final image and the PSNR curves."""
    t0 = time.perf_counter()
    with threads(n_threads):
        f = Fitter(noisy, preset=preset, masks=masks, clean=clean, lr=lr, seed=seed)
        f.run(steps)
        img = f.image()
    density = density_of(masks) if masks is not None else 1.0
    return FitResult(method, img, f.psnr_noisy, f.psnr_clean, time.perf_counter() - t0, density)


def imp_mask(noisy: np.ndarray, *, preset: str, density: float, steps_per_round: int, rate: float = 0.2,
             lr: float = 0.01, seed: int = 0, scope: str = "weights") -> Masks:
    """IMP: train, prune ``rate`` of the survivors by global magnitude, rewind to θ0, repeat.

    The per-round rate is adjusted so the last round lands exactly on ``density``
    (``ceil(log density / log(1 - rate))`` rounds).
    """
    check_density(density)
    net = build_generator(preset, seed=seed)
    names = masked_names(net, scope)
    masks = ones_masks(net, names)
    total = sum(m.numel() for m in masks.values())
    rounds = max(1, math.ceil(math.log(density) / math.log(1.0 - rate))) if density < 1 else 0
    for r in range(1, rounds + 1):
        f = Fitter(noisy, preset=preset, masks=masks, lr=lr, seed=seed)
        f.run(steps_per_round)
        alive = int(sum(m.sum() for m in masks.values()))
        goal = n_keep(density ** (r / rounds), total)
        weights = dict(f.net.named_parameters())
        masks = prune_global({n: weights[n] for n in names}, masks, (alive - goal) / alive)
    return masks


def parse_mask_spec(spec: str) -> tuple[str, str | None]:
    """``'transfer:oes-lean-d05'`` -> ``('transfer', 'oes-lean-d05')``; ``'random'`` -> ``('random', None)``."""
    kind, _, name = spec.partition(":")
    if kind not in MASK_KINDS:
        valid = ", ".join(k + (":NAME" if k == "transfer" else "") for k in MASK_KINDS)
        raise RestoreLabError(f"unknown mask {spec!r}; valid: {valid}")
    if name and kind != "transfer":
        raise RestoreLabError(f"only transfer takes a name ({spec!r})")
    return kind, name or None


@dataclass
class MaskPlan:
    """What ``prepare`` needs besides the image (the CLI and the app build one)."""

    spec: str = "transfer"
    preset: str | None = None  # None: the transferred mask's preset, else 'lean'
    density: float | None = None  # None: the transferred mask's density, else 0.05
    seed: int = 0
    init_seed: int | None = None  # transfer: None = the mask file's seed
    learn_steps: int = 1000
    learn_lr: float = 0.01
    imp_steps_per_round: int = 500
    random_seed: int = 1
    scope: str = "all"  # random, magnitude, learn, imp: which tensors are masked (transfer: the file's)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Prepared:
    masks: Masks | None
    preset: str
    seed: int
    density: float
    info: dict


def prepare(plan: MaskPlan, noisy: np.ndarray) -> Prepared:
    """Resolve ``plan`` into (masks, preset, seed): load, learn or compute the mask."""
    kind, name = parse_mask_spec(plan.spec)
    if kind == "transfer":
        return _transfer(plan, name)
    preset = plan.preset or "lean"
    get_config(preset)
    density = check_density(plan.density if plan.density is not None else 0.05)
    info = {"mask": kind} | ({} if kind == "dense" else {"scope": check_scope(plan.scope)})
    if kind == "dense":
        return Prepared(None, preset, plan.seed, 1.0, info)
    net = build_generator(preset, seed=plan.seed)
    if kind == "random":
        masks = random_mask(net, density, seed=plan.random_seed, scope=plan.scope)
    elif kind == "magnitude":
        masks = magnitude_mask(net, density, scope=plan.scope)
    elif kind == "learn":
        from restorelab.oes.learn import LearnConfig, learn_mask

        res = learn_mask(noisy, LearnConfig(preset=preset, density=density, steps=plan.learn_steps,
                                            lr=plan.learn_lr, seed=plan.seed, scope=plan.scope))
        masks, info = res.masks, info | {"learn": res.summary()}
    elif kind == "imp":
        t0 = time.perf_counter()
        masks = imp_mask(noisy, preset=preset, density=density, steps_per_round=plan.imp_steps_per_round,
                         seed=plan.seed, scope=plan.scope)
        info["imp_seconds"] = round(time.perf_counter() - t0, 2)
    else:
        raise RestoreLabError(f"unknown mask kind {kind!r}")
    return Prepared(masks, preset, plan.seed, density, info)


def _transfer(plan: MaskPlan, name: str | None) -> Prepared:
    from restorelab.oes.maskfile import load_mask, mask_name, resolve_mask

    preset = plan.preset or "lean"
    name = name or mask_name(preset, plan.density if plan.density is not None else 0.05)
    path = resolve_mask(name)
    masks, meta = load_mask(path)
    if plan.preset is not None and plan.preset != meta["preset"]:
        raise RestoreLabError(f"mask {name} is for preset {meta['preset']!r}, not {plan.preset!r}")
    if plan.density is not None and abs(plan.density - meta["density"]) > 5e-4:
        raise RestoreLabError(f"mask {name} has density {meta['density']:.4f}, not {plan.density}")
    seed = meta["seed"] if plan.init_seed is None else plan.init_seed
    info = {"mask": "transfer", "mask_file": str(path), "mask_source": meta["source"], "init_seed": seed,
            "scope": check_masks(build_generator(meta["preset"], seed=seed), masks)}
    return Prepared(masks, meta["preset"], seed, meta["density"], info)


def run(noisy: np.ndarray, plan: MaskPlan, *, steps: int, clean: np.ndarray | None = None,
        lr: float | None = None, n_threads: int = 0) -> FitResult:
    """Prepare the mask of ``plan`` and fit; ``lr=None``: 1e-2 masked, 1e-3 dense (the reference's)."""
    with threads(n_threads):
        t0 = time.perf_counter()
        p = prepare(plan, noisy)
        lr = lr if lr is not None else (DENSE_LR if p.masks is None else 0.01)
        res = fit(noisy, steps=steps, preset=p.preset, masks=p.masks, clean=clean, lr=lr, seed=p.seed,
                  method=parse_mask_spec(plan.spec)[0])
    res.info = p.info | {"preset": p.preset, "lr": lr, "total_seconds": round(time.perf_counter() - t0, 2)}
    return res


def compare(noisy: np.ndarray, clean: np.ndarray | None, *, steps: int, specs: tuple[str, ...],
            plan: MaskPlan, n_threads: int = 0) -> list[FitResult]:
    """Every mask ``spec`` on the same image, budget, preset and density (baselines side by side)."""
    from dataclasses import replace

    return [run(noisy, replace(plan, spec=s), steps=steps, clean=clean, n_threads=n_threads) for s in specs]
