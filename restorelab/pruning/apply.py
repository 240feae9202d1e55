"""Masks on a live model: zero the pruned weights, and keep them zero through training.

No hooks or parametrizations: the weights stay plain parameters (what optimizers, ``state_dict``
and the compact format see), and a training loop calls ``masked_step`` instead of ``opt.step``.
"""

from __future__ import annotations

import torch
from torch import nn

from restorelab.pruning.masks import Masks


def apply_masks(model: nn.Module, masks: Masks | None, grads: bool = False) -> None:
    """Multiply each masked parameter (``grads``: its gradient) by its mask, in place; no-op for no masks."""
    if not masks:
        return
    with torch.no_grad():
        for name, p in model.named_parameters():
            m = masks.get(name)
            if m is None:
                continue
            if grads:
                if p.grad is not None:
                    p.grad.mul_(m)
            else:
                p.mul_(m)


def masked_step(model: nn.Module, masks: Masks | None, opt: torch.optim.Optimizer) -> None:
    """``opt.step()`` that leaves pruned weights at exactly 0.

    Their gradients are zeroed first, so Adam's moments for them stay 0; the weights are zeroed
    again after, against weight decay or momentum carried in from before the mask.
    """
    apply_masks(model, masks, grads=True)
    opt.step()
    apply_masks(model, masks)
