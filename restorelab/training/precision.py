"""Mixed-precision training on CPU: forward + backward in bfloat16, the update in float32.

``Bf16Shadow(model)`` keeps a bfloat16 copy of an fp32 model. Each step runs forward and
backward on the copy, hands its gradients to the fp32 "master" weights (``grads_to_master``),
the optimizer updates the masters, and ``sync`` rounds them back into the copy. Weights,
optimizer moments, checkpoints, masks and validation all stay float32; only activations and
gradients are bfloat16. The model itself keeps the precision-sensitive parts in float32: its
LayerNorms normalise in float32 and it adds the global residual to the float32 input, and the
L1 loss is taken in float32 against the float32 target.

Why: on a CPU with native bfloat16 (AVX-512 BF16 or AMX), forward + backward on one thread, the
64² depthwise convolutions run 2.3-5.3x faster in bf16 and the 1x1 convolutions 1.2-1.7x (GELU and
the small 16²/8² depthwise convs no faster), and every activation is half the bytes: a
``promptir-cpu`` training step takes 15-20% less time (``benchmarks/bench_core.py``: 0.197 vs
0.236 s per step split over two cores). ``torch.autocast`` is no substitute here: it casts around
every op, which cancels the gain. On a CPU without native bf16 oneDNN emulates the bf16 arithmetic:
measured on an AVX2-only AMD EPYC (2 cores), a bf16 step ran at 0.135 steps/s against 1.50 for the
naive fp32 path (about 11x slower). So fp32 is the default everywhere, bf16 is only ever chosen
explicitly, and ``Trainer`` warns loudly when it is asked for on such a CPU; ``native_bf16()`` says
which kind this one is.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import torch
from torch import nn

from restorelab.errors import RestoreLabError

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> None:
    """The one check behind every config's ``precision`` field."""
    if precision not in PRECISIONS:
        raise RestoreLabError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")


@lru_cache(maxsize=None)
def native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bfloat16 in hardware (Linux: AVX-512 BF16 or AMX-BF16 flags)."""
    from restorelab.inference.backends import native_bf16_cpu

    return native_bf16_cpu(cpuinfo)


class Bf16Shadow:
    """A bfloat16 copy of ``master`` to run forward + backward on; see the module doc."""

    def __init__(self, master: nn.Module):
        self.model = copy.deepcopy(master).to(torch.bfloat16)  # floating-point tensors only
        self._pairs = [(p, s) for p, s in zip(master.parameters(), self.model.parameters()) if p.requires_grad]

    def grads_to_master(self) -> None:
        """Move the copy's gradients to the masters' ``.grad`` as float32 (same layout)."""
        for p, s in self._pairs:
            if s.grad is not None:
                g = s.grad.float()
                p.grad = g if p.grad is None else p.grad.add_(g)
                s.grad = None

    @torch.no_grad()
    def sync(self) -> None:
        """Round the (updated) master weights into the copy."""
        for p, s in self._pairs:
            s.copy_(p)
