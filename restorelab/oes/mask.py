"""Masks of the generator: which tensors are masked, and masks at an exact density.

Masked tensors (``masked_names``): **every convolution weight except the final 1x1 output
conv**. Biases and BatchNorm γ/β stay dense and trainable. The reference masks all
parameters; we do not, because a zeroed BN γ or output-conv column silences a whole channel or
colour (a main cause of the "layer collapse" of its 5% baselines), and the unmasked tensors are
0.2% of the parameters (5,731 of 3,008,867 in ``paper``; 2,083 of 245,155 in ``lean``). Density is measured over the masked
tensors only.

A mask set is ``restorelab.lottery`` 's form: ``dict[name -> float32 0/1 tensor]``, so its
pruning helpers apply directly: the random and magnitude baselines are one call to
``prune_random`` / ``prune_global`` from the all-ones mask, and the OES top-k is global
magnitude pruning of the logits shifted to be non-negative (exact count, ties by position).
"""

from __future__ import annotations

import torch
from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.lottery.masks import Masks, kept_count, total_count
from restorelab.lottery.pruning import n_to_prune, prune_global, prune_random

OUTPUT_WEIGHT = "out.weight"


def masked_names(net: nn.Module) -> list[str]:
    """Names of the masked tensors: conv weights except ``out.weight``, in parameter order."""
    convs = {f"{n}.weight" for n, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    return [n for n, _ in net.named_parameters() if n in convs and n != OUTPUT_WEIGHT]


def ones_like_masked(net: nn.Module) -> Masks:
    params = dict(net.named_parameters())
    return {n: torch.ones_like(params[n]) for n in masked_names(net)}


def check_density(density: float) -> float:
    density = float(density)
    if not 0.0 < density <= 1.0:
        raise RestoreLabError(f"density (fraction of weights kept) must be in (0, 1], got {density}")
    return density


def n_keep(density: float, total: int) -> int:
    """How many of ``total`` weights a density keeps (as ``prune_*`` at rate ``1 - density``)."""
    return total - n_to_prune(1.0 - check_density(density), total)


def density_of(masks: Masks) -> float:
    total = total_count(masks)
    return kept_count(masks) / total if total else 1.0


def topk_mask(scores: dict[str, torch.Tensor], density: float) -> Masks:
    """Keep the globally highest ``scores`` (e.g. OES logits) at ``density``; exact count."""
    check_density(density)
    low = min(float(s.detach().min()) for s in scores.values())
    shifted = {n: s.detach().float() - low for n, s in scores.items()}  # |s - low| is monotone in s
    ones = {n: torch.ones_like(s) for n, s in shifted.items()}
    return prune_global(shifted, ones, 1.0 - density)


def magnitude_mask(net: nn.Module, density: float) -> Masks:
    """Global magnitude pruning at init: keep the largest ``|w|`` over the masked tensors."""
    params = dict(net.named_parameters())
    return prune_global({n: params[n] for n in masked_names(net)}, ones_like_masked(net), 1.0 - check_density(density))


def random_mask(net: nn.Module, density: float, seed: int = 0) -> Masks:
    """Uniformly random global mask (layer densities follow layer sizes), seeded."""
    return prune_random(None, ones_like_masked(net), 1.0 - check_density(density), seed)


def check_masks(net: nn.Module, masks: Masks) -> None:
    """RestoreLabError unless ``masks`` covers exactly the masked tensors with their shapes."""
    params = dict(net.named_parameters())
    expected = masked_names(net)
    if sorted(masks) != sorted(expected):
        raise RestoreLabError(f"mask does not fit this generator: it has {len(masks)} tensors, "
                              f"the generator masks {len(expected)}")
    for n in expected:
        if tuple(masks[n].shape) != tuple(params[n].shape):
            raise RestoreLabError(f"mask {n!r} has shape {tuple(masks[n].shape)}, the generator "
                                  f"{tuple(params[n].shape)}")


def layer_densities(masks: Masks) -> dict[str, float]:
    return {n: float(m.mean()) for n, m in masks.items()}
