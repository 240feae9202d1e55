"""Sparse-DIP speed and quality on a CPU: preset timings, the app's default path, the long experiment.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_oes.py timing [--size 256] [--threads 1,2]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_oes.py app [--images 1] [--steps 600] [--long-steps 3000]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_oes.py experiment --steps 6000 --images 5 [--preset lean]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_oes.py summary RUN.json [RUN.json ...]

Prints one JSON object.

* ``timing``: seconds per Sparse-DIP step (forward, backward, gradient masking, Adam) at
  ``size``², per preset and per candidate config, for each thread count.
* ``app``: what the app does by default (``restorelab.oes.live.stream`` with its defaults:
  transferred shipped mask, lean preset, Sparse-DIP only) on the centre 256² crops of the first
  CBSD68 images at σ = 25 (clipped, not quantised, noise seed = image index): wall seconds from
  the call to the final snapshot, PSNR vs clean; with ``--long-steps`` also the same fit run for
  longer (peak and final PSNR).
* ``experiment``: the issue's "Done means": on the same crops and budget, Sparse-DIP
  (transferred mask) against dense DIP (lr 1e-3, the reference's; it overfits), random and
  magnitude masks at the same density; per image and mean peak/final PSNR.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.models.dip import PRESETS, GeneratorConfig, build_generator  # noqa: E402
from restorelab.oes._common import add_noise  # noqa: E402
from restorelab.oes.mask import random_mask  # noqa: E402
from restorelab.oes.sparse_dip import Fitter, MaskPlan, compare  # noqa: E402
from restorelab.tensors import threads  # noqa: E402

CANDIDATES = {  # lean-preset candidates timed beside the registered presets
    "c5-avg-5x5": GeneratorConfig(channels=(16, 32, 64, 128, 128), input_depth=32),
    "c4-avg-3x3-in8": GeneratorConfig(channels=(16, 32, 64, 64), input_depth=8, down_kernel=3),
    "c5-stride-3x3-in8": GeneratorConfig(channels=(16, 32, 64, 64, 64), input_depth=8, down_kernel=3,
                                         downsample="stride"),
    "c4-avg-3x3-in8-ch8": GeneratorConfig(channels=(8, 16, 32, 64), input_depth=8, down_kernel=3),
    "paper-in8": GeneratorConfig(input_depth=8),
    "paper-in8-stride": GeneratorConfig(input_depth=8, downsample="stride"),
    "c5-stride-5x5-in8": GeneratorConfig(channels=(16, 32, 64, 128, 128), input_depth=8, downsample="stride"),
}


def crops(n: int, size: int = 256, sigma: float = 25.0, start: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, noisy, clean) for the centre ``size``² crops of CBSD68 images ``start .. start + n - 1``
    (sorted; the noise seed is the image's index, so a run split with ``start`` sees the same inputs)."""
    from restorelab.data import eval_sets
    from restorelab.data._imread import list_images
    from restorelab.io import load_image
    from restorelab.oes.cli import centre_crop

    es = eval_sets()["CBSD68-s25"]
    if not es.available:
        raise SystemExit(f"CBSD68 not found at {es.path}")
    out = []
    for i, path in list(enumerate(list_images(es.path)))[start:start + n]:
        clean = centre_crop(load_image(path), size)
        out.append((Path(path).stem, add_noise(clean, sigma, seed=i), clean))
    return out


def time_config(cfg, size: int, n_threads: int, steps: int = 4) -> float:
    """Best-of seconds per masked training step at ``size``²."""
    rng = np.random.default_rng(0)
    noisy = rng.uniform(0, 1, (size, size, 3)).astype(np.float32)
    with threads(n_threads):
        f = Fitter(noisy, preset=cfg, masks=random_mask(build_generator(cfg), 0.05), lr=0.01)
        f.step()  # warm-up
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            f.step()
            times.append(time.perf_counter() - t0)
    return min(times)


def cmd_timing(args) -> dict:
    configs = {name: cfg for name, cfg in PRESETS.items() if name != "tiny"} | CANDIDATES
    out = []
    for name, cfg in configs.items():
        params = sum(p.numel() for p in build_generator(cfg).parameters())
        row = {"config": name, "params": params, "channels": "-".join(map(str, cfg.channels)),
               "input_depth": cfg.input_depth, "down_kernel": cfg.down_kernel, "downsample": cfg.downsample}
        for t in args.threads:
            row[f"s_per_step_{t}t"] = round(time_config(cfg, args.size, t), 4)
        out.append(row)
    return {"size": args.size, "torch": torch.__version__, "load_avg_1min": os.getloadavg()[0], "configs": out}


def cmd_app(args) -> dict:
    from restorelab.metrics import psnr
    from restorelab.oes.live import LiveConfig, stream
    from restorelab.oes.sparse_dip import run

    rows = []
    for name, noisy, clean in crops(args.images):
        t0, c0 = time.perf_counter(), time.process_time()
        last = None
        for last in stream(noisy, clean=clean, plan=MaskPlan(spec=args.mask),
                           config=LiveConfig(steps=args.steps, every=args.every, dense=False, threads=args.threads)):
            pass
        row = {"image": name, "steps": args.steps, "wall_seconds": round(time.perf_counter() - t0, 2),
               "cpu_seconds": round(time.process_time() - c0, 2),
               "psnr": round(psnr(last["sparse"], clean), 3), "psnr_noisy_input": round(psnr(noisy, clean), 3),
               "peak_psnr": round(max(last["curves"]["sparse"]["clean"]), 3), "info": last["info"]}
        if args.long_steps:
            r = run(noisy, MaskPlan(spec=args.mask), steps=args.long_steps, clean=clean, n_threads=args.threads)
            row["long"] = r.summary()
        rows.append(row)
    mean = lambda k: round(float(np.mean([r[k] for r in rows])), 3)  # noqa: E731
    return {"mode": "app", "threads": args.threads, "mask": args.mask, "load_avg_1min": os.getloadavg()[0],
            "images": rows,
            "mean_wall_seconds": mean("wall_seconds"), "mean_psnr": mean("psnr")}


def label(spec: str, scope: str) -> str:
    """A method's name in the JSON: the spec, with the scope where the method builds its own mask."""
    return spec if spec.startswith("transfer") or spec == "dense" else f"{spec}({scope})"


def cmd_experiment(args) -> dict:
    specs = tuple(args.methods.split(","))
    rows, t0 = [], time.perf_counter()
    for name, noisy, clean in crops(args.images, size=args.size, start=args.start):
        res = compare(noisy, clean, steps=args.steps, specs=specs,
                      plan=MaskPlan(spec=specs[0], preset=args.preset, density=args.density, scope=args.scope),
                      n_threads=args.threads)
        rows.append({"image": name, "results": [r.summary() | {"label": label(spec, args.scope)}
                                                for spec, r in zip(specs, res)]})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    means = {}
    for j, s in enumerate(specs):
        rs = [row["results"][j] for row in rows]
        means[label(s, args.scope)] = {k: round(float(np.mean([r[k] for r in rs])), 3) for k in ("peak_psnr", "final_psnr", "seconds")}
    return {"mode": "experiment", "steps": args.steps, "start": args.start, "sigma": 25, "crop": args.size,
            "scope": args.scope, "methods": list(specs), "images": rows, "mean": means,
            "wall_seconds": round(time.perf_counter() - t0, 1)}


def _load_run(path: Path) -> dict:
    """An ``experiment`` output, or the per-image lines it prints to stderr as it goes (what a run
    stopped before its end leaves: its finished images)."""
    text = path.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        steps = {r["steps"] for row in rows for r in row["results"]}
        if len(steps) != 1:
            raise SystemExit(f"{path}: no experiment output and no per-image lines with one step budget")
        return {"steps": steps.pop(), "images": rows}


def cmd_summary(args) -> dict:
    """Merge ``experiment`` outputs (split runs: other images or other methods on the same steps)
    into per-method means over the images each method ran on, and the issue's two checks."""
    runs = [_load_run(Path(f)) for f in args.files]
    if len({r["steps"] for r in runs}) != 1:
        raise SystemExit("the runs have different step budgets")
    per = {}  # method label -> image -> summary
    for r in runs:
        for img in r["images"]:
            for res in img["results"]:
                per.setdefault(res.get("label", res["method"]), {})[img["image"]] = res
    means = {m: {"images": sorted(v), **{k: round(float(np.mean([x[k] for x in v.values()])), 3)
                                          for k in ("peak_psnr", "final_psnr")}} for m, v in per.items()}
    out = {"mode": "summary", "steps": runs[0]["steps"], "files": args.files, "learned": args.learned,
           "random": args.random, "mean": means,
           "per_image": {m: {i: {k: x[k] for k in ("peak_psnr", "final_psnr", "peak_step")} for i, x in v.items()}
                         for m, v in per.items()}}

    def diffs(a: str, b: str, ka: str, kb: str) -> list[float]:
        both = sorted(set(per[a]) & set(per[b]))
        return [round(per[a][i][ka] - per[b][i][kb], 3) for i in both]

    learned = args.learned
    if learned not in per:
        raise SystemExit(f"no method {learned!r} in the runs (methods: {', '.join(per)})")
    checks = {}
    if "dense" in per:  # the checks: learned final >= dense final + 3 dB; (earlier) >= dense peak - 1 dB
        gain, gap = diffs(learned, "dense", "final_psnr", "final_psnr"), diffs(learned, "dense", "final_psnr", "peak_psnr")
        checks |= {"learned_final_minus_dense_final": gain, "learned_final_minus_dense_peak": gap,
                   "mean_gain_over_dense_final_ge_3dB": bool(np.mean(gain) >= 3.0),
                   "mean_gap_to_dense_peak_ge_minus_1dB": bool(np.mean(gap) >= -1.0)}
    if args.random in per:  # learned final >= random final + 1 dB
        lead = diffs(learned, args.random, "final_psnr", "final_psnr")
        checks |= {"learned_final_minus_random_final": lead, "mean_lead_over_random_ge_1dB": bool(np.mean(lead) >= 1.0)}
    out["checks"] = checks
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    sp = sub.add_parser("timing")
    sp.add_argument("--size", type=int, default=256)
    sp.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    sp.set_defaults(fn=cmd_timing)
    sp = sub.add_parser("app")
    sp.add_argument("--images", type=int, default=1)
    sp.add_argument("--steps", type=int, default=None, help="default: LiveConfig's")
    sp.add_argument("--every", type=int, default=25)
    sp.add_argument("--mask", default="transfer")
    sp.add_argument("--long-steps", type=int, default=0)
    sp.add_argument("--threads", type=int, default=2)
    sp.set_defaults(fn=cmd_app)
    sp = sub.add_parser("experiment")
    sp.add_argument("--images", type=int, default=5)
    sp.add_argument("--start", type=int, default=0, help="first CBSD68 image (to split a run)")
    sp.add_argument("--steps", type=int, default=6000)
    sp.add_argument("--preset", default=None)
    sp.add_argument("--density", type=float, default=None)
    sp.add_argument("--methods", default="transfer,random,magnitude,dense")
    sp.add_argument("--size", type=int, default=256, help="centre crop side")
    sp.add_argument("--scope", default="all", help="masked tensors of random/magnitude/imp: all | weights")
    sp.add_argument("--threads", type=int, default=2)
    sp.set_defaults(fn=cmd_experiment)
    sp = sub.add_parser("summary", help="merge experiment JSON files")
    sp.add_argument("files", nargs="+")
    sp.add_argument("--learned", default="transfer", help="the learned mask's method label (e.g. transfer:NAME)")
    sp.add_argument("--random", default="random(all)", help="the random baseline's label")
    sp.set_defaults(fn=cmd_summary)
    args = p.parse_args(argv)
    if args.mode == "app" and args.steps is None:
        from restorelab.oes.live import LiveConfig

        args.steps = LiveConfig().steps
    print(json.dumps(args.fn(args), indent=1))


if __name__ == "__main__":
    main()
