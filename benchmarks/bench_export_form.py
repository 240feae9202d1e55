"""Which form of PromptIR to export: seconds per image on OpenVINO (and ONNX Runtime when installed)
for graphs traced from the ``fast`` form (channels_last, permutes around every LayerNorm and
attention) and from the ``graph`` form (NCHW, no permutes), timed in alternation on one machine.

    python benchmarks/bench_export_form.py [--model real-cpu] [--size 512] [--repeats 15] > out.json

Both go through the backends' own path (``exported_program`` with dynamic sizes, then the
OpenVINO runner's static-shape compilation, or ONNX Runtime without spinning threads); only the
traced form differs. The outputs agree (max abs difference printed). Timings on a shared 2-core
machine are noisy: best and median of ``--repeats`` rounds are printed, each round running every
variant once.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.inference import load_model  # noqa: E402
from restorelab.inference.backends import (OpenVINORunner, available_backends, cpu_info,  # noqa: E402
                                           exported_program, onnxruntime_runner)

FORMS = ("fast", "graph")


def _runner(backend: str, program, threads: int, tmp: Path, name: str):
    if backend == "openvino":
        import openvino as ov

        path = tmp / f"{name}.xml"
        ov.save_model(ov.convert_model(program), str(path), compress_to_fp16=False)
        return OpenVINORunner(path, threads=threads)
    path = tmp / f"{name}.onnx"
    torch.onnx.export(program, dynamo=True, optimize=True, verbose=False).save(str(path))
    return onnxruntime_runner(path, threads=threads)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="real-cpu", help="a shipped model name")
    p.add_argument("--size", type=int, default=512, help="square input side, px")
    p.add_argument("--repeats", type=int, default=15, help="alternating timed rounds")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="runtime threads")
    a = p.parse_args()
    model = load_model(a.model)
    x = torch.rand(1, 3, a.size, a.size, generator=torch.Generator().manual_seed(0))
    xa = x.numpy()
    with torch.no_grad():
        ref = model(x.contiguous(memory_format=torch.channels_last)).numpy()
    programs = {form: exported_program(model, form) for form in FORMS}
    backends = [b for b in ("openvino", "onnxruntime") if b in available_backends()]
    with tempfile.TemporaryDirectory() as tmp:
        runners = {f"{b}/{f}": _runner(b, programs[f], a.threads, Path(tmp), f"{b}-{f}")
                   for b in backends for f in FORMS}
        diff = {k: float(np.abs(fn(xa) - ref).max()) for k, fn in runners.items()}  # also the warm-up
        times = {k: [] for k in runners}
        for _ in range(a.repeats):
            for k, fn in runners.items():
                t = time.perf_counter()
                fn(xa)
                times[k].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({
        "benchmark": "export_form", "model": a.model, "size": a.size, "threads": a.threads,
        "repeats": a.repeats, "torch": torch.__version__, "seconds_best": best, "seconds_median": median,
        "graph_speedup_over_fast": {b: {"best": best[f"{b}/fast"] / best[f"{b}/graph"],
                                        "median": median[f"{b}/fast"] / median[f"{b}/graph"]} for b in backends},
        "max_abs_diff_to_torch": diff, "cpu": cpu_info()}, indent=1))


if __name__ == "__main__":
    main()
