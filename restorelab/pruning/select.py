"""New masks from (weights, old masks, rate): global / layer-wise / random. Masks only ever shrink.

``rate`` is the fraction of the *surviving* (mask = 1) weights to remove, so r rounds at rate p
leave ``(1 - p)**r`` of them; a density d from all-ones masks is rate ``1 - d``. The removed
count is exact, ``round(rate * alive)`` (half up), ties at the threshold broken by position
(lowest index removed first) so the result is deterministic.

* ``global``: the lowest-scoring survivors over all tensors (``scores``: magnitude = MIR-L-G,
  or LAMP). ``min_density`` > 0 guards against *layer collapse*: the ``ceil(min_density * numel)``
  best survivors of every tensor are never removed, the threshold applies to the rest. One
  magnitude threshold over layers whose weights differ in scale (init ∝ 1/sqrt(fan_in)) empties
  whole layers: on ``promptir-cpu`` it had zeroed the down-samplers to levels 3-4, the three
  prompt convolutions and the latent feed-forward outputs by 86% sparsity.
* ``layerwise``: the smallest survivors per tensor; ``output.weight`` at ``rate / 2`` (MIR-L-LW,
  as the official code: "the output layer is pruned at half the rate").
* ``random``: survivors removed uniformly at random over all tensors, seeded (PIR-OSR, OES).
* ``topk_mask``: keep the globally highest of any scores (OES logits) at a density.

Tensors are visited in sorted-name order and the new masks come in that order, so where the
masks came from (file, dict) does not change the result.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from restorelab.errors import RestoreLabError
from restorelab.pruning.masks import Masks
from restorelab.pruning.scores import get_score, magnitude_scores

HALF_RATE_NAMES = ("output.weight",)


def n_to_prune(rate: float, alive: int) -> int:
    """How many of ``alive`` survivors a ``rate`` removes: ``round(rate * alive)``, half up."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"pruning rate must be in [0, 1], got {rate}")
    return min(alive, int(math.floor(rate * alive + 0.5)))


def check_density(density: float) -> float:
    density = float(density)
    if not 0.0 < density <= 1.0:
        raise RestoreLabError(f"density (fraction of weights kept) must be in (0, 1], got {density}")
    return density


def n_keep(density: float, total: int) -> int:
    """How many of ``total`` weights a density keeps (pruning all-ones masks at rate ``1 - density``)."""
    return total - n_to_prune(1.0 - check_density(density), total)


def smallest(values: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask selecting exactly the ``k`` smallest ``values`` (ties: lowest index first)."""
    sel = torch.zeros(values.numel(), dtype=torch.bool)
    if k <= 0:
        return sel
    t = torch.kthvalue(values, k).values
    sel |= values < t
    need = k - int(sel.sum())
    sel[torch.nonzero(values == t).flatten()[:need]] = True
    return sel


def _survivors(mask: torch.Tensor) -> torch.Tensor:
    """Flat indices of the mask's ones."""
    return torch.nonzero(mask.flatten() > 0).flatten()


def _drop(mask: torch.Tensor, flat_idx: torch.Tensor) -> torch.Tensor:
    m = mask.detach().float().flatten().clone()
    m[flat_idx] = 0.0
    return m.reshape(mask.shape)


def _drop_selected(masks: Masks, names: list[str], alive: list[torch.Tensor], sel: torch.Tensor) -> Masks:
    """New masks of ``names``: the survivors ``alive`` (flat indices per tensor, concatenated
    in ``names`` order) for which ``sel`` is True are removed."""
    out, off = {}, 0
    for n, idx in zip(names, alive):
        out[n] = _drop(masks[n], idx[sel[off:off + idx.numel()]])
        off += idx.numel()
    return out


def _floor_protected(v: torch.Tensor, numel: int, min_density: float) -> torch.Tensor:
    """Bool mask of the ``ceil(min_density * numel)`` largest of ``v`` (ties: lowest index first)."""
    keep = min(v.numel(), math.ceil(min_density * numel - 1e-9))
    return ~smallest(v, v.numel() - keep)


def prune_global(weights: dict[str, torch.Tensor], masks: Masks, rate: float, seed: int = 0,
                 min_density: float = 0.0, score: str = "magnitude") -> Masks:
    """Remove the ``round(rate * alive)`` lowest-scoring survivors over all tensors.

    ``score``: a name in ``scores.SCORES``. With ``min_density``, each tensor's floor of best
    survivors is exempt (see the module doc); the removed count stays ``round(rate * alive)``
    while enough unprotected survivors remain.
    """
    if not 0.0 <= min_density < 1.0:
        raise ValueError(f"min_density must be in [0, 1), got {min_density}")
    scorer = get_score(score)
    names = sorted(masks)
    alive = [_survivors(masks[n]) for n in names]
    scores = [scorer(weights[n].detach().float().flatten()[idx]) for n, idx in zip(names, alive)]
    values = torch.cat(scores) if scores else torch.zeros(0)
    k = n_to_prune(rate, values.numel())
    if min_density > 0 and scores:
        protected = torch.cat([_floor_protected(v, masks[n].numel(), min_density) for n, v in zip(names, scores)])
        values = values.masked_fill(protected, float("inf"))
        k = min(k, int((~protected).sum()))
    return _drop_selected(masks, names, alive, smallest(values, k))


def prune_layerwise(weights: dict[str, torch.Tensor], masks: Masks, rate: float, seed: int = 0,
                    half_rate_names: tuple[str, ...] = HALF_RATE_NAMES) -> Masks:
    """Remove ``round(r * alive)`` smallest survivors per tensor; r = rate/2 for ``half_rate_names``."""
    out = {}
    for n in sorted(masks):
        idx = _survivors(masks[n])
        v = magnitude_scores(weights[n].detach().float().flatten()[idx])
        r = rate / 2 if n in half_rate_names else rate
        out[n] = _drop(masks[n], idx[smallest(v, n_to_prune(r, v.numel()))])
    return out


def prune_random(weights: dict[str, torch.Tensor] | None, masks: Masks, rate: float, seed: int = 0) -> Masks:
    """Remove ``round(rate * alive)`` survivors chosen uniformly over all tensors (seeded)."""
    names = sorted(masks)
    alive = [_survivors(masks[n]) for n in names]
    total = sum(a.numel() for a in alive)
    gen = torch.Generator().manual_seed(int(seed))
    sel = torch.zeros(total, dtype=torch.bool)
    sel[torch.randperm(total, generator=gen)[:n_to_prune(rate, total)]] = True
    return _drop_selected(masks, names, alive, sel)


def topk_mask(scores: dict[str, torch.Tensor], density: float) -> Masks:
    """Keep the globally highest ``scores`` (e.g. OES logits) at ``density``; exact count, sorted names.

    Ranked as global magnitude pruning of ``scores - min(scores)`` (>= 0, so ``|.|`` keeps their
    order): the float32 shift can make near-equal scores tie, broken by position, and masks
    learned so far were made this way.
    """
    check_density(density)
    low = min(float(s.detach().min()) for s in scores.values())
    shifted = {n: s.detach().float() - low for n, s in scores.items()}
    ones = {n: torch.ones_like(s) for n, s in shifted.items()}
    return prune_global(shifted, ones, 1.0 - density)


Strategy = Callable[[dict, Masks, float, int], Masks]
STRATEGIES: dict[str, Strategy] = {"global": prune_global, "layerwise": prune_layerwise, "random": prune_random}


def get_strategy(name: str) -> Strategy:
    if name in STRATEGIES:
        return STRATEGIES[name]
    raise ValueError(f"unknown pruning strategy {name!r}; valid: {', '.join(sorted(STRATEGIES))}")


def prune(strategy: str, weights: dict[str, torch.Tensor] | None, masks: Masks, rate: float, seed: int = 0,
          min_density: float = 0.0, score: str = "magnitude") -> Masks:
    """New masks: ``strategy`` ('global' | 'layerwise' | 'random') removes ``rate`` of the survivors.

    ``min_density`` and ``score`` (global only): the per-tensor floor against layer collapse and
    how survivors are ranked (``scores.SCORES``).
    """
    if min_density or score != "magnitude":
        if strategy != "global":
            raise ValueError(f"min_density and score apply to global pruning only, not {strategy!r}")
        return prune_global(weights, masks, rate, seed, min_density=min_density, score=score)
    return get_strategy(strategy)(weights, masks, rate, seed)


def planned_kept(strategy: str, masks: Masks, rate: float, rounds: int) -> list[int]:
    """Kept counts after each of ``rounds`` rounds (counts only depend on counts)."""
    get_strategy(strategy)
    alive = {n: int(m.sum()) for n, m in masks.items()}
    out = []
    for _ in range(rounds):
        if strategy == "layerwise":
            alive = {n: a - n_to_prune(rate / 2 if n in HALF_RATE_NAMES else rate, a) for n, a in alive.items()}
        else:
            total = sum(alive.values())
            alive = {"all": total - n_to_prune(rate, total)}
        out.append(sum(alive.values()))
    return out

