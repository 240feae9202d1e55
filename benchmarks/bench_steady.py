"""Steady-state training speed, naive vs fast: what a long run sees, not the best step of a short burst.

    python benchmarks/bench_steady.py [--preset promptir-cpu] [--warmup 20] [--steps 40] [--rounds 3]
        [--mallopt] > benchmarks/results/steady.json

``bench_core.py`` keeps the best of a few steps, all paths in one process. Here every (path, round)
runs in a fresh process, as a training run has one to itself: ``--warmup`` steps untimed, then
``--steps`` timed ones, reported as mean, median and best it/s with the minor page faults per step
(fresh memory the allocator had to take from the OS). The paths take turns, round by round.
naive and fast are ``restorelab.benchmark``'s (fast = the batch split over the cores, as ``train``;
bf16 = fast with ``train --precision bf16``).
``--mallopt`` sets glibc's mmap threshold to 32 MB and its trim threshold to 1 GB in every process
(freed memory stays in the heap), to show what the allocator costs each path.
"""

import argparse
import ctypes
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from restorelab.benchmark import _inputs, _stepper, _variants  # noqa: E402
from restorelab.training.precision import native_bf16  # noqa: E402


def run(preset: str, path: str, warmup: int, steps: int, mallopt: bool) -> dict:
    if mallopt:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    model, fast = _variants(preset, compile_=False)["naive" if path == "naive" else "fast"]
    x, y = _inputs(8, 64, torch.channels_last if fast else torch.contiguous_format)
    times = []
    precision = "bf16" if path == "bf16" else "fp32"
    with _stepper(model, fused=fast, parts=cores if fast else 1, precision=precision) as step:
        for i in range(warmup + steps):
            if i == warmup:
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t = time.perf_counter()
            step(x, y)
            if i >= warmup:
                times.append(time.perf_counter() - t)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return {"mean_it_s": len(times) / sum(times), "median_it_s": 1 / statistics.median(times),
            "best_it_s": 1 / min(times), "faults_per_step": faults / len(times)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="promptir-cpu")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--mallopt", action="store_true")
    a = p.parse_args(argv)
    if a.steps < 1 or a.warmup < 0 or a.rounds < 1:
        p.error("--steps and --rounds must be >= 1, --warmup >= 0")
    if a.mallopt and not sys.platform.startswith("linux"):
        p.error("--mallopt needs glibc (Linux)")
    runs = {"naive": [], "fast": [], "bf16": []}
    for _ in range(a.rounds):
        for path in runs:
            with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
                runs[path].append(ex.submit(run, a.preset, path, a.warmup, a.steps, a.mallopt).result())
    mean = {k: statistics.mean(r["mean_it_s"] for r in v) for k, v in runs.items()}
    res = {"benchmark": "steady", "preset": a.preset, "batch": 8, "patch": 64, "threads": os.cpu_count(),
           "warmup": a.warmup, "steps": a.steps, "rounds": a.rounds, "mallopt": a.mallopt,
           "torch": torch.__version__, "native_bf16": native_bf16(), "runs": runs,
           "speedup_of_means": mean["fast"] / mean["naive"],
           "speedup_per_round": [f["mean_it_s"] / n["mean_it_s"] for n, f in zip(runs["naive"], runs["fast"])],
           "bf16_speedup_of_means": mean["bf16"] / mean["naive"],
           "bf16_speedup_per_round": [b["mean_it_s"] / n["mean_it_s"] for n, b in zip(runs["naive"], runs["bf16"])]}
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
