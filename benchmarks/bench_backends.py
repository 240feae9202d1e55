"""PyTorch vs ONNX Runtime vs OpenVINO for a shipped restorer, timed in alternation in one process.

    python benchmarks/bench_backends.py [--model real-cpu] [--repeats 5] [--threads N] [--big] [--tile 512]
        [--backends torch,onnxruntime,openvino,openvino-bf16] [--cache-dir DIR] [--ov-one-stream] > result.json

Each backend restores the same 512x512 photo-sized array through ``restorelab.inference.restore``
(one pass: below the tiling threshold); the backends take turns, ``--repeats`` rounds after one
warm-up call each, and the best time per backend is kept, so load from other processes hits all
of them alike. ``--big`` adds one tiled run per backend of a 4000x3000 (12 MP) image, tiles of at
most ``--tile``² (restore's default; 32 px overlap), no warm-up (minutes for torch). Backends are built first (the export into the
cache is timed as ``prepare_seconds``: the first use of a model on a machine pays it once).
``openvino-bf16`` (reduced precision) runs only on CPUs with native bfloat16; elsewhere it is listed
in ``skipped``.

Prints one JSON object: seconds, speed-up over torch and max abs difference to torch per backend
and size, the CPU (``native_bf16()``, avx2 / avx512f flags), ``torch.get_num_threads()``, the
runtime versions and the load average at start and end (timings on a busy machine are noisy: only
the ratios of one run mean much).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from restorelab.errors import RestoreLabError  # noqa: E402
from restorelab.inference import DEFAULT_TILE, load_model, restore  # noqa: E402
from restorelab.inference import backends as B  # noqa: E402
from restorelab.training.precision import native_bf16  # noqa: E402


def _round(d: dict, nd: int = 4) -> dict:
    return {k: (round(v, nd) if isinstance(v, float) else v) for k, v in d.items()}


def run_size(restorers: dict, shape: tuple[int, int], repeats: int, warmup: bool = True, **kw) -> dict:
    img = np.random.default_rng(0).random((*shape, 3), dtype=np.float32)
    fns = {b: (lambda r: (lambda a: restore(r, a, **kw)))(r) for b, r in restorers.items()}
    res = B.time_backends(fns, img, repeats, warmup=warmup)
    secs = {b: r["seconds"] for b, r in res.items()}
    out = {"seconds": _round(secs), "max_abs_diff": {b: r["max_abs_diff"] for b, r in res.items()}}
    if "torch" in secs:
        out["speedup_vs_torch"] = _round({b: secs["torch"] / s for b, s in secs.items()}, 2)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="real-cpu")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds for the 512² image (best kept)")
    p.add_argument("--threads", type=int, default=0, help="torch/ORT/OpenVINO threads (0: torch's default)")
    p.add_argument("--big", action="store_true", help="also one tiled 4000x3000 (12 MP) run per backend")
    p.add_argument("--tile", type=int, default=DEFAULT_TILE,
                   help=f"largest tile side of the 12 MP run (default: restore's {DEFAULT_TILE})")
    p.add_argument("--backends", default=",".join(B.BACKENDS))
    p.add_argument("--cache-dir", default=None, help="export cache (default: ~/.cache/restorelab)")
    p.add_argument("--ov-one-stream", action="store_true",
                   help="also time OpenVINO with one stream (tiles one at a time), as before batched tiles")
    a = p.parse_args(argv)
    if a.threads < 0 or a.repeats < 1:
        p.error("--threads must be >= 0 and --repeats >= 1")
    if a.threads:
        torch.set_num_threads(a.threads)
    wanted = [b.strip() for b in a.backends.split(",") if b.strip()]
    for b in wanted:
        if b not in B.BACKENDS:
            p.error(f"unknown backend {b!r}; valid: {', '.join(B.BACKENDS)}")
    load_start = os.getloadavg()
    model = load_model(a.model)
    restorers, prepare, skipped = {}, {}, {}
    for b in wanted:
        if B.missing_packages(b):
            skipped[b] = "not installed: " + ", ".join(B.missing_packages(b))
            continue
        t0 = time.perf_counter()
        try:
            restorers[b] = B.load_backend(model, b, a.cache_dir)
        except RestoreLabError as err:  # e.g. openvino-bf16 on a CPU without native bf16
            skipped[b] = str(err)
            continue
        prepare[b] = round(time.perf_counter() - t0, 2)
        if b == "openvino" and a.ov_one_stream:
            restorers["openvino-1-stream"] = B.load_backend(model, b, a.cache_dir, ov_streams=1)
    cpu = B.cpu_info()
    sizes = {"512x512": run_size(restorers, (512, 512), a.repeats)}
    if a.big:  # 12 MP, tiled with restore's defaults; one timed run per backend, no warm-up run
        sizes["4000x3000"] = run_size(restorers, (3000, 4000), 1, warmup=False, tile=a.tile)
    res = {"benchmark": "backends", "model": a.model, "threads": torch.get_num_threads(),
           "native_bf16": native_bf16(), "avx2": cpu["avx2"], "avx512f": cpu["avx512f"],
           "cpu": cpu, "versions": B.versions(), "prepare_seconds": prepare, "skipped": skipped,
           "repeats": a.repeats, "tile": a.tile, "sizes": sizes,
           "loadavg_start": [round(v, 2) for v in load_start],
           "loadavg_end": [round(v, 2) for v in os.getloadavg()]}
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
