"""Zeros vs speed: a dense model, its unstructured ticket and its structured ticket, timed in one run.

    python benchmarks/bench_tickets.py [--models real-cpu,real-g-lamp,real-cpu-slim] [--repeats 5]
        [--backends torch,openvino] [--results docs/results/real-photos.json] > result.json

Each model restores the same 512x512 array through ``restorelab.inference.restore`` (the app's
path: an unstructured ticket is loaded with its dead channels removed, ``inference.shrink``); the
models take turns, ``--repeats`` rounds after one warm-up call each, the best time is kept. The
first model is the parent: ``speedup`` and ``file_ratio`` are against it. With ``--results`` (a
``real-eval`` JSON), the PSNR of every model on every set is copied in with its gap to the parent.
Prints one JSON object with the CPU flags, threads and load average (timings on a busy machine
are noisy: only ratios of one run mean much).
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from restorelab.inference import load_model, resolve, restore  # noqa: E402
from restorelab.inference import backends as B  # noqa: E402
from restorelab.inference.weights import read_card  # noqa: E402
from restorelab.models import count_params  # noqa: E402
from restorelab.training.precision import native_bf16  # noqa: E402


def psnr_rows(results: dict, models: list[str]) -> dict:
    """{set: {model: psnr, model + ' gap': psnr - parent's}} from a real-eval JSON."""
    out = {}
    for row in results.get("rows", []):
        methods = row.get("methods", {})
        if not all(m in methods for m in models):
            continue
        parent = methods[models[0]]["psnr"]
        out[row["set"]] = {m: round(methods[m]["psnr"], 3) for m in models}
        out[row["set"]].update({f"{m} gap": round(methods[m]["psnr"] - parent, 3) for m in models[1:]})
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="real-cpu,real-g-lamp,real-cpu-slim",
                   help="parent first, then its tickets (shipped names or .safetensors paths)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (best kept)")
    p.add_argument("--size", type=int, default=512, help="square input side")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--backends", default="torch", help="comma list of inference backends to time each model on")
    p.add_argument("--results", default=None, help="a real-eval JSON to copy each model's PSNR from")
    p.add_argument("--cache-dir", default=None, help="export cache of the ONNX/OpenVINO backends")
    a = p.parse_args(argv)
    if a.threads < 0 or a.repeats < 1 or a.size < 8:
        p.error("--threads must be >= 0, --repeats >= 1, --size >= 8")
    if a.threads:
        torch.set_num_threads(a.threads)
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    backends = [b.strip() for b in a.backends.split(",") if b.strip()]
    for b in backends:
        if b not in B.BACKENDS:
            p.error(f"unknown backend {b!r}; valid: {', '.join(B.BACKENDS)}")
    load_start = os.getloadavg()
    info, fns = {}, {}
    for m in models:
        net = load_model(m)
        card = read_card(m).to_dict() if not m.endswith(".safetensors") else {}
        info[m] = {"params": card.get("params", count_params(net)[0]),
                   "nonzero_params": card.get("nonzero_params", count_params(net)[1]),
                   "params_after_shrink": count_params(net)[0], "file_bytes": resolve(m).stat().st_size,
                   "structured": bool(card.get("structured", False)), "kind": card.get("kind")}
        for b in backends:
            r = net if b == "torch" else B.load_backend(net, b, a.cache_dir)
            fns[f"{m}|{b}"] = (lambda r: (lambda x: restore(r, x)))(r)
    img = np.random.default_rng(0).random((a.size, a.size, 3), dtype=np.float32)
    timed = B.time_backends(fns, img, a.repeats, reference=f"{models[0]}|{backends[0]}")
    parent = info[models[0]]
    for m in models:
        info[m]["seconds"] = {b: round(timed[f"{m}|{b}"]["seconds"], 4) for b in backends}
        info[m]["speedup"] = {b: round(timed[f"{models[0]}|{b}"]["seconds"] / timed[f"{m}|{b}"]["seconds"], 2)
                              for b in backends}
        info[m]["file_ratio"] = round(info[m]["file_bytes"] / parent["file_bytes"], 4)
    cpu = B.cpu_info()
    res = {"benchmark": "tickets", "models": models, "parent": models[0], "size": a.size, "backends": backends,
           "repeats": a.repeats, "threads": torch.get_num_threads(), "native_bf16": native_bf16(),
           "avx2": cpu["avx2"], "avx512f": cpu["avx512f"], "cpu": cpu, "per_model": info,
           "loadavg_start": [round(v, 2) for v in load_start],
           "loadavg_end": [round(v, 2) for v in os.getloadavg()]}
    if a.results:
        res["psnr_from"] = a.results
        res["psnr"] = psnr_rows(json.loads(Path(a.results).read_text()), models)
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
