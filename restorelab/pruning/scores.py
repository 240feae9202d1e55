"""How survivors are ranked before the lowest are removed: a score per weight, higher = kept longer.

A score function takes one tensor's surviving values (flat, float32) and returns one score each:

* ``magnitude``  ``|w|`` (MIR-L, the lottery-ticket papers).
* ``lamp``       LAMP (Lee et al., ICLR 2021): ``w²`` over the sum of ``w'²`` of the tensor's
                 survivors at least as large. Comparable across tensors whatever their scale, and
                 each tensor's largest survivor scores 1, so global pruning by LAMP never empties a
                 tensor while any other has a weight below its own largest.

No channel (structured) scores exist: dead channels are found after pruning, by
``restorelab.inference.shrink``.
"""

from __future__ import annotations

from typing import Callable

import torch


def magnitude_scores(w: torch.Tensor) -> torch.Tensor:
    """``|w|``, same dtype."""
    return w.abs()


def lamp_scores(w: torch.Tensor) -> torch.Tensor:
    """LAMP score of each entry of ``w`` (one tensor's survivors), float64 in [0, 1].

    >>> lamp_scores(torch.tensor([3.0, -1.0, 2.0, 0.0])).tolist()  # squares 9, 1, 4, 0
    [1.0, 0.07142857142857142, 0.3076923076923077, 0.0]
    """
    sq = w.double() ** 2
    order = torch.argsort(sq, stable=True)
    s = sq[order]
    tail = s.flip(0).cumsum(0).flip(0)  # tail[j] = sum of s[j:]
    out = torch.empty_like(sq)
    out[order] = s / tail.clamp_min(torch.finfo(torch.float64).tiny)
    return out


SCORES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"magnitude": magnitude_scores, "lamp": lamp_scores}


def get_score(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name in SCORES:
        return SCORES[name]
    raise ValueError(f"unknown pruning score {name!r}; valid: {', '.join(SCORES)}")
