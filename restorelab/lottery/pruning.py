"""Pruning strategies: new masks from (weights, old masks, rate). Masks only ever shrink.

``rate`` is the fraction of the *surviving* (mask = 1) prunable weights to remove, so r rounds
at rate p leave ``(1 - p)**r`` of them. The removed count is exact, ``round(rate * alive)``
(half up), ties at the threshold broken by position so the result is deterministic.

* ``global``: one magnitude threshold over the survivors of all prunable tensors (MIR-L-G).
  ``min_density`` > 0 guards against *layer collapse*: the largest ``ceil(min_density * numel)``
  survivors of every tensor are never removed, the threshold applies to the rest. One threshold
  over layers whose weights differ in scale (init ∝ 1/sqrt(fan_in)) empties whole layers: on
  ``promptir-cpu`` it had zeroed the down-samplers to levels 3-4, the three prompt convolutions
  and the latent feed-forward outputs by 86% sparsity.
  ``score="lamp"`` ranks survivors by their LAMP score instead of |w| (Lee et al., ICLR 2021:
  w² over the sum of w'² of the tensor's survivors at least as large). Scores are comparable
  across tensors whatever their scale, and each tensor's largest survivor scores 1, so no
  tensor is emptied while any other has a weight below its own largest.
* ``layerwise``: a threshold per tensor; ``output.weight`` at ``rate / 2`` (MIR-L-LW, as the
  official code: "the output layer is pruned at half the rate").
* ``random``: survivors removed uniformly at random over all tensors, seeded (PIR-OSR).

Tensors are visited in sorted-name order, so where the masks came from (file, dict) does
not change the result.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from restorelab.lottery.masks import Masks

HALF_RATE_NAMES = ("output.weight",)
SCORES = ("magnitude", "lamp")  # how global pruning ranks survivors


def n_to_prune(rate: float, alive: int) -> int:
    """How many of ``alive`` survivors a ``rate`` removes: ``round(rate * alive)``, half up."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"pruning rate must be in [0, 1], got {rate}")
    return min(alive, int(math.floor(rate * alive + 0.5)))


def _smallest(values: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask selecting exactly the ``k`` smallest ``values`` (ties: lowest index first)."""
    sel = torch.zeros(values.numel(), dtype=torch.bool)
    if k <= 0:
        return sel
    t = torch.kthvalue(values, k).values
    sel |= values < t
    need = k - int(sel.sum())
    sel[torch.nonzero(values == t).flatten()[:need]] = True
    return sel


def _alive(weights: dict[str, torch.Tensor], masks: Masks, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(flat indices of survivors, their |weight|) of one tensor."""
    idx = torch.nonzero(masks[name].flatten() > 0).flatten()
    return idx, weights[name].detach().float().flatten().abs()[idx]


def lamp_scores(v: torch.Tensor) -> torch.Tensor:
    """LAMP score of each magnitude in ``v`` (one tensor's survivors): v² / sum of v'² over v' >= v."""
    sq = v.double() ** 2
    order = torch.argsort(sq, stable=True)
    s = sq[order]
    tail = s.flip(0).cumsum(0).flip(0)  # tail[j] = sum of s[j:]
    out = torch.empty_like(sq)
    out[order] = s / tail.clamp_min(torch.finfo(torch.float64).tiny)
    return out


def _drop(masks: Masks, name: str, flat_idx: torch.Tensor) -> torch.Tensor:
    m = masks[name].detach().float().flatten().clone()
    m[flat_idx] = 0.0
    return m.reshape(masks[name].shape)


def _floor_protected(v: torch.Tensor, numel: int, min_density: float) -> torch.Tensor:
    """Bool mask of the ``ceil(min_density * numel)`` largest of ``v`` (ties: lowest index first)."""
    keep = min(v.numel(), math.ceil(min_density * numel - 1e-9))
    return ~_smallest(v, v.numel() - keep)


def prune_global(weights: dict[str, torch.Tensor], masks: Masks, rate: float, seed: int = 0,
                 min_density: float = 0.0, score: str = "magnitude") -> Masks:
    """Remove the ``round(rate * alive)`` lowest-scoring survivors over all tensors.

    ``score``: ``magnitude`` (|w|, MIR-L-G) or ``lamp`` (see the module doc). With
    ``min_density``, each tensor's floor of largest survivors is exempt (see the module doc);
    the removed count stays ``round(rate * alive)`` while enough unprotected survivors remain.
    """
    if not 0.0 <= min_density < 1.0:
        raise ValueError(f"min_density must be in [0, 1), got {min_density}")
    if score not in SCORES:
        raise ValueError(f"unknown pruning score {score!r}; valid: {', '.join(SCORES)}")
    names = sorted(masks)
    alive = [_alive(weights, masks, n) for n in names]
    if score == "lamp":
        alive = [(idx, lamp_scores(v)) for idx, v in alive]
    values = torch.cat([v for _, v in alive]) if alive else torch.zeros(0)
    k = n_to_prune(rate, values.numel())
    if min_density > 0 and alive:
        protected = torch.cat([_floor_protected(v, masks[n].numel(), min_density) for n, (_, v) in zip(names, alive)])
        values = values.masked_fill(protected, float("inf"))
        k = min(k, int((~protected).sum()))
    sel = _smallest(values, k)
    out, off = {}, 0
    for n, (idx, v) in zip(names, alive):
        out[n] = _drop(masks, n, idx[sel[off:off + v.numel()]])
        off += v.numel()
    return out


def prune_layerwise(weights: dict[str, torch.Tensor], masks: Masks, rate: float, seed: int = 0,
                    half_rate_names: tuple[str, ...] = HALF_RATE_NAMES) -> Masks:
    """Remove ``round(r * alive)`` smallest survivors per tensor; r = rate/2 for ``half_rate_names``."""
    out = {}
    for n in sorted(masks):
        idx, v = _alive(weights, masks, n)
        r = rate / 2 if n in half_rate_names else rate
        out[n] = _drop(masks, n, idx[_smallest(v, n_to_prune(r, v.numel()))])
    return out


def prune_random(weights: dict[str, torch.Tensor] | None, masks: Masks, rate: float, seed: int = 0) -> Masks:
    """Remove ``round(rate * alive)`` survivors chosen uniformly over all tensors (seeded)."""
    names = sorted(masks)
    alive = [torch.nonzero(masks[n].flatten() > 0).flatten() for n in names]
    total = sum(a.numel() for a in alive)
    gen = torch.Generator().manual_seed(int(seed))
    sel = torch.zeros(total, dtype=torch.bool)
    sel[torch.randperm(total, generator=gen)[:n_to_prune(rate, total)]] = True
    out, off = {}, 0
    for n, idx in zip(names, alive):
        out[n] = _drop(masks, n, idx[sel[off:off + idx.numel()]])
        off += idx.numel()
    return out


Strategy = Callable[[dict, Masks, float, int], Masks]
STRATEGIES: dict[str, Strategy] = {"global": prune_global, "layerwise": prune_layerwise, "random": prune_random}


def get_strategy(name: str) -> Strategy:
    if name in STRATEGIES:
        return STRATEGIES[name]
    raise ValueError(f"unknown pruning strategy {name!r}; valid: {', '.join(sorted(STRATEGIES))}")


def prune(strategy: str, weights: dict[str, torch.Tensor], masks: Masks, rate: float, seed: int = 0,
          min_density: float = 0.0, score: str = "magnitude") -> Masks:
    """New masks: ``strategy`` ('global' | 'layerwise' | 'random') removes ``rate`` of the survivors.

    ``min_density`` and ``score`` (global only): the per-tensor floor against layer collapse and
    how survivors are ranked.
    """
    if min_density or score != "magnitude":
        if strategy != "global":
            raise ValueError(f"min_density and score apply to global pruning only, not {strategy!r}")
        return prune_global(weights, masks, rate, seed, min_density=min_density, score=score)
    return get_strategy(strategy)(weights, masks, rate, seed)


def planned_kept(strategy: str, masks: Masks, rate: float, rounds: int) -> list[int]:
    """Kept prunable counts after each of ``rounds`` rounds (counts only depend on counts)."""
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
