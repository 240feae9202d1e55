"""The measurements behind the CPU speed section of docs/performance.md, timed on their own (ms, best of N, JSON).

    python benchmarks/bench_layout.py [--threads 1] > benchmarks/results/layout.json

* depthwise 3x3 backward (mkldnn) when the incoming gradient is NCHW vs channels_last, the input
  channels_last in both: what the reference attention's per-head reshapes cost its qkv conv;
* GELU forward / backward on a strided ``chunk`` half of a channels_last tensor vs a contiguous one;
* the channel-attention core, forward + backward: autograd through ``channel_attention`` vs the
  hand-written backward of ``_ChannelAttention`` (shapes of ``promptir-cpu``'s levels, batch 8);
* a 1x1 convolution, forward + backward on one thread for one part of a split batch (4 images):
  PyTorch's fallback path for batches under 16 vs ``pointwise_conv``'s 16 row blocks (mkldnn);
* the fixed cost of a fast ``promptir-cpu`` training step: ATen calls per step (batch 8 of 64²),
  and seconds per step for batch 8, batch 4 and one 8x8 image on the same threads.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.models import create_model  # noqa: E402
from restorelab.models.promptir import _ChannelAttention, channel_attention, pointwise_conv  # noqa: E402
from restorelab.training.core import Step  # noqa: E402

CL = torch.channels_last


def best_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def depthwise_backward(c: int, hw: int, repeats: int) -> dict:
    x = torch.rand(8, c, hw, hw).contiguous(memory_format=CL)
    w = torch.rand(c, 1, 3, 3)
    g_cl = torch.rand_like(x)
    g_nchw = g_cl.contiguous()

    def bwd(g):
        return lambda: torch.ops.aten.convolution_backward(g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], c,
                                                           [True, True, False])

    return {"channels": c, "size": hw, "grad_channels_last_ms": best_ms(bwd(g_cl), repeats),
            "grad_nchw_ms": best_ms(bwd(g_nchw), repeats)}


def gelu(c: int, hw: int, repeats: int) -> dict:
    half = torch.rand(8, 2 * c, hw, hw).contiguous(memory_format=CL).chunk(2, dim=1)[0]  # strided
    contiguous = half.contiguous(memory_format=CL)
    g = torch.rand_like(contiguous)
    return {"channels": c, "size": hw,
            "forward_strided_ms": best_ms(lambda: F.gelu(half), repeats),
            "forward_contiguous_ms": best_ms(lambda: F.gelu(contiguous), repeats),
            "backward_strided_ms": best_ms(lambda: torch.ops.aten.gelu_backward(g, half), repeats),
            "backward_contiguous_ms": best_ms(lambda: torch.ops.aten.gelu_backward(g, contiguous), repeats)}


def attention_core(c: int, hw: int, heads: int, repeats: int) -> dict:
    qkv = torch.rand(8, hw * hw, 3 * c, requires_grad=True)
    temperature = torch.ones(heads, 1, 1, requires_grad=True)
    head = torch.arange(c) // (c // heads)
    off_head = head[:, None] != head[None, :]
    grad = torch.rand(8, hw * hw, c)

    def autograd():
        t = temperature.reshape(-1).repeat_interleave(c // heads)
        out, _ = channel_attention(*qkv.split(c, dim=-1), t, off_head if heads > 1 else None)
        out.backward(grad)

    def hand_written():
        _ChannelAttention.apply(qkv, temperature, off_head).backward(grad)

    return {"channels": c, "size": hw, "heads": heads, "autograd_ms": best_ms(autograd, repeats),
            "hand_written_ms": best_ms(hand_written, repeats)}


def pointwise(c_in: int, c_out: int, hw: int, repeats: int) -> dict:
    x = torch.rand(4, c_in, hw, hw).contiguous(memory_format=CL).requires_grad_(True)
    w = torch.rand(c_out, c_in, 1, 1, requires_grad=True)
    g = torch.rand(4, c_out, hw, hw).contiguous(memory_format=CL)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the row blocks apply on one thread, as in a part of a split batch
    try:
        return {"in": c_in, "out": c_out, "size": hw,
                "fallback_ms": best_ms(lambda: F.conv2d(x, w).backward(g), repeats),
                "row_blocks_ms": best_ms(lambda: pointwise_conv(x, w, min_pixels=0).backward(g), repeats)}
    finally:
        torch.set_num_threads(threads)


def step_overhead(repeats: int) -> dict:
    from torch.utils._python_dispatch import TorchDispatchMode

    torch.manual_seed(0)
    model = create_model("promptir-cpu").to(memory_format=CL)
    train_step = Step(model, torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True))  # L1, as training

    def step(batch: int, size: int):
        x = torch.rand(batch, 3, size, size).contiguous(memory_format=CL)
        return lambda: train_step(x, x)

    class Count(TorchDispatchMode):  # ATen calls per step, and the share of their time in convolutions
        calls, total, conv = 0, 0.0, 0.0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            t = time.perf_counter()
            out = func(*args, **(kwargs or {}))
            dt = time.perf_counter() - t
            Count.calls, Count.total = Count.calls + 1, Count.total + dt
            if func.overloadpacket.__name__ in ("convolution", "convolution_backward"):
                Count.conv += dt
            return out

    run = step(8, 64)
    run()
    with Count():
        run()
    return {"preset": "promptir-cpu", "aten_calls_per_step": Count.calls,
            "convolution_share_of_aten_time": Count.conv / Count.total,
            "step_batch8_64px_ms": best_ms(run, repeats), "step_batch4_64px_ms": best_ms(step(4, 64), repeats),
            "step_batch1_8px_ms": best_ms(step(1, 8), repeats)}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=10)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    r = a.repeats
    print(json.dumps({
        "benchmark": "layout", "threads": a.threads, "batch": 8, "torch": torch.__version__,
        "depthwise_backward": [depthwise_backward(c, hw, r) for c, hw in ((72, 64), (126, 32), (144, 16))],
        "gelu": [gelu(c, hw, r) for c, hw in ((63, 64), (63, 32), (127, 16))],
        "attention_core": [attention_core(c, hw, h, r)
                           for c, hw, h in ((12, 64, 1), (24, 64, 1), (24, 32, 2), (48, 16, 4), (96, 8, 4))],
        "pointwise_one_thread_batch4": [pointwise(ci, co, hw, r) for ci, co, hw in (
            (12, 36, 64), (24, 63, 64), (63, 24, 64), (24, 72, 32), (24, 63, 32), (63, 24, 32), (24, 24, 32),
            (48, 127, 16))],
        "step_overhead": step_overhead(r),
    }, indent=2))
