"""CPU speed of the presets: the naive eager NCHW path vs ours, measured side by side.

naive: the official code's form (``impl="reference"``): NCHW tensors, LayerNorm via to_3d +
       hand-written mean/var, per-head reshapes in the attention, ``chunk`` in the feed-forward,
       torch's default AdamW, one graph over the cores' intra-op threads; autograd on at
       inference (a plain ``model(x)``).
fast:  our path as ``restorelab train`` runs it by default: the fast model (``impl="fast"``,
       ``restorelab.models.promptir``: channels_last tensors kept channels_last through every
       block, forward and backward; LayerNorm on a channels-last view; the channel attention on
       the (N, HW, C) view with a hand-written backward; the feed-forward's halves as separate
       convs; 1x1 convs on mkldnn at one thread), fused AdamW, and the batch split over one thread
       per core, one intra-op thread each (``restorelab.training.split``). ``torch.inference_mode``
       at inference (one image: all cores' intra-op threads).
bf16:  the fast path with ``restorelab train --precision bf16``: forward + backward on a bfloat16
       copy of the model, the fused AdamW update on its float32 weights
       (``restorelab.training.precision``; training only, inference stays float32).
ops:   the fast model trained as one graph over the cores' intra-op threads (``--batch-threads 1``).
ranks: the fast model trained data-parallel by ``ranks`` single-threaded processes (DDP over
       gloo, ``batch / ranks`` each: the same update as one batch), as ``torchrun --nproc_per_node
       2 -m restorelab train --batch-size 4`` trains.
1 thread: naive and fast training also timed on one thread, one graph. Its seconds per step are
       the work a step costs with these kernels; ``train_ceiling_speedup`` = naive (all cores) /
       (fast on one thread / cores) is what the fast path would reach if that work split perfectly
       over the cores (the batch split reaches it when half a batch costs half a full one).
default: what ``restorelab restore`` runs by default on the shipped default model (``--model``):
       ``inference.backends.pick_backend(auto)``, the fastest installed runtime on this machine
       (a reduced-precision one only where the model's card verifies it and the CPU has native
       bf16), timed in alternation with that model's naive and fast torch paths.
The variants are timed alternately, several times, and the best time of each is kept, so a burst
of load on the machine hurts all rather than one.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import socket
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from restorelab.models import count_params, create_model
from restorelab.training.core import Step
from restorelab.training.loop import teardown_distributed
from restorelab.training.precision import native_bf16


@contextlib.contextmanager
def _stepper(model, fused: bool, parts: int = 1, precision: str = "fp32"):
    """Yields ``step(x, y)``: one training step (zero grads, forward + backward, AdamW update), as Trainer's."""
    # fused: the single-kernel AdamW our training loop uses; naive: torch's default AdamW, as the
    # official code builds it (on CPU its per-parameter loop)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused or None)
    with Step(model, opt, parts=parts, precision=precision) as step:
        yield step


def _train_step_time(model, x, y, steps: int, fused: bool, parts: int = 1, precision: str = "fp32") -> float:
    best = float("inf")
    with _stepper(model, fused, parts, precision) as step:
        for i in range(steps + 1):
            t = time.perf_counter()
            step(x, y)
            if i:  # the first step warms up allocators and kernels
                best = min(best, time.perf_counter() - t)
    return best


def _inputs(batch: int, patch: int, fmt, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 3, patch, patch, generator=g).contiguous(memory_format=fmt)
    return x, torch.rand(batch, 3, patch, patch, generator=g).contiguous(memory_format=fmt)


def _ddp_worker(rank: int, world: int, port: int, preset: str, batch: int, patch: int, steps: int, out: str):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = create_model(preset).to(memory_format=torch.channels_last)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        x, y = _inputs(batch // world, patch, torch.channels_last, seed=rank)
        t = _train_step_time(ddp, x, y, steps, fused=True)
        if rank == 0:
            with open(out, "w") as f:
                f.write(repr(t))
        # DDP's reducer holds the process group: dropped first, so that leaving the group ends Gloo's
        # threads (left to interpreter shutdown, both ranks aborted once in CI).
        del ddp
        gc.collect()
    except BaseException:
        teardown_distributed(wait=False)
        raise
    teardown_distributed()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_step_time(preset: str, ranks: int, batch: int, patch: int, steps: int) -> float:
    """Best seconds per data-parallel step (``ranks`` processes of one thread, ``batch`` in all)."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "t")
        mp.spawn(_ddp_worker, args=(ranks, _free_port(), preset, batch, patch, steps, out), nprocs=ranks)
        with open(out) as f:
            return float(f.read())


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
    naive = create_model(preset, impl="reference")
    fast = create_model(preset).to(memory_format=torch.channels_last)
    fast.load_state_dict(naive.state_dict())
    out = {"naive": (naive, False), "fast": (fast, True)}
    if compile_:
        out["compiled"] = (torch.compile(fast), True)
    return out


def default_path_benchmark(model_name: str, size: int = 512, repeats: int = 3) -> dict:
    """Seconds per ``size``² image of shipped ``model_name``: naive (the reference implementation,
    NCHW, autograd on), fast (our torch path) and the default restore path (``pick_backend``), in
    alternation, best of ``repeats``; speed-ups against naive."""
    from restorelab.inference import load_model
    from restorelab.inference.backends import cpu_info, pick_backend, verified_reduced

    fast = load_model(model_name)
    naive = fast.with_impl("reference").to(memory_format=torch.contiguous_format).eval()  # as built, NCHW
    pick = pick_backend(fast, reduced=verified_reduced(model_name))
    img = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    fmt = {"naive": img, "fast": img.contiguous(memory_format=torch.channels_last)}
    fmt["default"] = fmt["fast"]
    runs = {"naive": (naive, False), "fast": (fast, True), "default": (pick.restorer, True)}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for k, (m, inference) in runs.items():
            best[k] = min(best[k], _infer_time(m, fmt[k], inference, repeats=1))
    return {"model": model_name, "size": size, "backend": pick.backend, "pick": pick.summary(),
            "skipped": pick.skipped, "seconds": best,
            "speedup": {k: best["naive"] / v for k, v in best.items()}, "cpu": cpu_info()}


def run_core_benchmark(presets: list[str], steps: int = 6, size: int = 512, batch: int = 8, patch: int = 64,
                       compile_: bool = False, rounds: int = 2, ranks: int = 2,
                       default_model: str | None = None) -> dict:
    """Training steps/s (batch x patch²) and seconds per size² image, per preset and path.

    ``ranks`` > 1 also times data-parallel training of the fast model (see the module doc).
    """
    if ranks > 1 and batch % ranks:
        raise ValueError(f"batch {batch} does not split over {ranks} ranks")
    cores = os.cpu_count() or 1
    rows = []
    for preset in presets:
        variants = _variants(preset, compile_)
        train = {k: float("inf") for k in ["naive", "fast", "bf16", "ops", "ranks", "naive_1t", "fast_1t",
                                             *(["compiled"] if compile_ else [])]}
        infer = {k: float("inf") for k in variants}
        for _ in range(rounds):
            torch.set_num_threads(cores)
            # (name, model, channels_last, batch parts, precision)
            runs = [("naive", *variants["naive"], 1, "fp32"), ("fast", *variants["fast"], cores, "fp32"),
                    ("bf16", *variants["fast"], cores, "bf16"), ("ops", *variants["fast"], 1, "fp32")]
            if compile_:
                runs.append(("compiled", *variants["compiled"], 1, "fp32"))
            for k, model, cl, parts, precision in runs:
                x, y = _inputs(batch, patch, torch.channels_last if cl else torch.contiguous_format)
                model.train()
                train[k] = min(train[k], _train_step_time(model, x, y, steps, fused=cl, parts=parts,
                                                          precision=precision))
            for k, (model, cl) in variants.items():
                img = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
                img = img.contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)
                model.eval()
                infer[k] = min(infer[k], _infer_time(model, img, cl, repeats=2))
            torch.set_num_threads(1)
            for k in ("naive", "fast"):
                model, cl = variants[k]
                x, y = _inputs(batch, patch, torch.channels_last if cl else torch.contiguous_format)
                model.train()
                train[k + "_1t"] = min(train[k + "_1t"], _train_step_time(model, x, y, steps, fused=cl))
            torch.set_num_threads(cores)
            if ranks > 1:
                train["ranks"] = min(train["ranks"], _ddp_step_time(preset, ranks, batch, patch, steps))
        row = {"preset": preset, "params": count_params(variants["naive"][0])[0],
               "train_naive_it_s": 1 / train["naive"], "train_fast_it_s": 1 / train["fast"],
               "train_speedup": train["naive"] / train["fast"],
               "train_bf16_it_s": 1 / train["bf16"], "train_bf16_speedup": train["naive"] / train["bf16"],
               "train_ops_it_s": 1 / train["ops"], "train_ops_speedup": train["naive"] / train["ops"],
               "train_naive_1thread_s": train["naive_1t"], "train_fast_1thread_s": train["fast_1t"],
               "train_ceiling_speedup": train["naive"] / (train["fast_1t"] / cores),
               "infer_naive_s": infer["naive"], "infer_fast_s": infer["fast"],
               "infer_speedup": infer["naive"] / infer["fast"]}
        if ranks > 1:
            row.update({"train_ranks_it_s": 1 / train["ranks"], "train_ranks_speedup": train["naive"] / train["ranks"]})
        if compile_:
            row.update({"train_compiled_it_s": 1 / train["compiled"], "infer_compiled_s": infer["compiled"]})
        rows.append(row)
    out = {"benchmark": "core", "threads": cores, "ranks": ranks, "batch": batch, "patch": patch,
           "infer_size": size, "torch": torch.__version__, "machine": platform.machine(),
           "cpus": os.cpu_count(), "native_bf16": native_bf16(), "presets": rows}
    if default_model:
        out["default_path"] = default_path_benchmark(default_model, size)
    return out
