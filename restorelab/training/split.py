"""Data parallel inside one process: each of k threads runs forward + backward on 1/k of a batch.

On a 2-core CPU this trains our small presets as fast as or faster than one graph whose ops each
split their work over both cores, and more steadily (``benchmarks/results/core.json``; in the real
training loop 4.16-4.31 vs 3.39-3.48 steps/s, docs/performance.md "CPU speed"): the ops of a 64² batch are small,
and two ops at a time, each on one core, waste less than one op at a time on two. It is what two
``torchrun`` processes do, without the processes: the threads share the model (no copies, no
all-reduce), and PyTorch releases the GIL inside each op.

The loss of each part is weighted by its share of the batch, so the summed gradients are those
of the whole batch's mean loss (up to float rounding). Each thread returns its gradients
(``torch.autograd.grad``) and they are summed in part order, so results do not depend on which
thread finishes first.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def l1_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (out - target).abs().mean()


class BatchSplit:
    """``backward(model, x, y)``: the batch's loss, with its gradients added to the parameters' ``.grad``.

    ``parts`` = 1 is the plain single-graph backward on the caller's thread.
    """

    def __init__(self, parts: int, loss_fn: LossFn = l1_loss):
        if parts < 1:
            raise ValueError(f"parts must be >= 1, not {parts}")
        self.parts, self.loss_fn = parts, loss_fn
        self._pool = None  # started on first use, again after close()

    def backward(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.parts == 1 or len(x) < 2:
            loss = self.loss_fn(model(x), y)
            loss.backward()
            return loss.detach()
        if isinstance(model, nn.parallel.DistributedDataParallel):
            # its all-reduce hooks into .backward(); torch.autograd.grad would skip it silently
            raise ValueError("BatchSplit cannot drive a DistributedDataParallel model; use parts=1 under torchrun")
        params = [p for p in model.parameters() if p.requires_grad]
        xs, ys = x.tensor_split(self.parts), y.tensor_split(self.parts)

        def part(i: int):
            # each thread: one intra-op thread (thread-local in torch's OpenMP and MKL settings);
            # grad mode, autocast and other thread-local state are not carried over from the caller
            torch.set_num_threads(1)
            loss = self.loss_fn(model(xs[i]), ys[i]) * (len(xs[i]) / len(x))
            return loss.detach(), torch.autograd.grad(loss, params, allow_unused=True)

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parts, thread_name_prefix="restorelab-split")
        threads = torch.get_num_threads()
        futures = [self._pool.submit(part, i) for i in range(len(xs))]
        try:
            wait(futures)  # all parts, even if one failed: none may still run on the model after us
            results = [f.result() for f in futures]
        finally:
            torch.set_num_threads(threads)  # the parts' calls also set the process-wide count
        with torch.no_grad():
            for p, *grads in zip(params, *(g for _, g in results)):
                grads = [g for g in grads if g is not None]
                if not grads:
                    continue
                # in the parameter's own layout, as .backward() would leave it: autograd.grad returns
                # whatever layout the op made, and fused AdamW reads .grad as if laid out like the parameter
                # bfloat16 parts (mixed precision) are summed in float32: one rounding, not one per add
                acc = torch.float32 if p.dtype == torch.bfloat16 else p.dtype
                total = torch.empty_like(p, dtype=acc).copy_(grads[0])
                for g in grads[1:]:
                    total.add_(g)
                total = total.to(p.dtype)
                p.grad = total if p.grad is None else p.grad.add_(total)
        return sum(loss for loss, _ in results)

    def close(self) -> None:
        """Stop the threads (a later ``backward`` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
