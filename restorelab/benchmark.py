"""CPU speed of the presets: the naive eager NCHW path vs ours, measured side by side.

naive: official-style LayerNorm (to_3d + hand-written mean/var), NCHW tensors, autograd on at
       inference (a plain ``model(x)``).
fast:  LayerNorm on a channels-last view, channels_last tensors (depthwise convs are ~3x
       faster in that layout on CPU), ``torch.inference_mode`` at inference.
The two are timed alternately, several times, and the best time of each is kept, so a burst
of load on the machine hurts both rather than one.
"""

from __future__ import annotations

import os
import platform
import time

import torch

from restorelab.models import count_params, create_model


def _train_step_time(model, x, y, steps: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    best = float("inf")
    for i in range(steps + 1):
        t = time.perf_counter()
        loss = (model(x) - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step warms up allocators and kernels
            best = min(best, time.perf_counter() - t)
    return best


def _infer_time(model, x, fast: bool, repeats: int) -> float:
    best = float("inf")
    for i in range(repeats + 1):
        t = time.perf_counter()
        if fast:
            with torch.inference_mode():
                model(x)
        else:
            model(x)
        if i:
            best = min(best, time.perf_counter() - t)
    return best


def _variants(preset: str, compile_: bool):
    torch.manual_seed(0)
    naive = create_model(preset, layernorm="reference")
    fast = create_model(preset).to(memory_format=torch.channels_last)
    fast.load_state_dict(naive.state_dict())
    out = {"naive": (naive, False), "fast": (fast, True)}
    if compile_:
        out["compiled"] = (torch.compile(fast), True)
    return out


def run_core_benchmark(presets: list[str], steps: int = 6, size: int = 512, batch: int = 8, patch: int = 64,
                       compile_: bool = False, rounds: int = 2) -> dict:
    """Training steps/s (batch x patch²) and seconds per size² image, per preset and path."""
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for preset in presets:
        variants = _variants(preset, compile_)
        train = {k: float("inf") for k in variants}
        infer = {k: float("inf") for k in variants}
        for _ in range(rounds):
            for k, (model, cl) in variants.items():
                fmt = torch.channels_last if cl else torch.contiguous_format
                g = torch.Generator().manual_seed(0)
                x = torch.rand(batch, 3, patch, patch, generator=g).contiguous(memory_format=fmt)
                y = torch.rand(batch, 3, patch, patch, generator=g).contiguous(memory_format=fmt)
                model.train()
                train[k] = min(train[k], _train_step_time(model, x, y, steps))
                img = torch.rand(1, 3, size, size, generator=g).contiguous(memory_format=fmt)
                model.eval()
                infer[k] = min(infer[k], _infer_time(model, img, cl, repeats=2))
        row = {"preset": preset, "params": count_params(variants["naive"][0])[0],
               "train_naive_it_s": 1 / train["naive"], "train_fast_it_s": 1 / train["fast"],
               "train_speedup": train["naive"] / train["fast"],
               "infer_naive_s": infer["naive"], "infer_fast_s": infer["fast"],
               "infer_speedup": infer["naive"] / infer["fast"]}
        if compile_:
            row.update({"train_compiled_it_s": 1 / train["compiled"], "infer_compiled_s": infer["compiled"]})
        rows.append(row)
    return {"benchmark": "core", "threads": torch.get_num_threads(), "batch": batch, "patch": patch,
            "infer_size": size, "torch": torch.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count(), "presets": rows}
