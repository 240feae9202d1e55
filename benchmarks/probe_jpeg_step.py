"""Where the guard's JPEG step helps and where it would hurt: the dev photos its thresholds came from.

    python benchmarks/probe_jpeg_step.py > benchmarks/results/probe-jpeg-step.json

BSDS *training* photos (not CBSD68, on which the step is reported), each degraded by plain JPEG at
q10-q60 and by noise that a JPEG kept (Gaussian σ 10 or 25 then JPEG, our camera noise, noise_jpeg).
Per case: the PSNR gain over the input of the network alone, behind the guard as it was before
2026-12-07 (``guard_no_step``: JPEG found by its visible grid only, no JPEG step), and behind the guard
as it is (``default``: a JPEG also found by its DCT, and the JPEG step), the JPEG step's weight, and the range of the
network's change (PSNR of its output against the input) that the weight is read from: plain JPEG is
changed little, noise under a JPEG much (there the step would bring half the noise back, so its
weight falls to 0 below 34 dB). Prints JSON (CPU flags included).
"""

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab import degradations as D  # noqa: E402
from restorelab.data import list_images  # noqa: E402
from restorelab.inference import load_model, restore  # noqa: E402
from restorelab.inference.backends import cpu_info  # noqa: E402
from restorelab.inference.guard import GuardConfig, guard  # noqa: E402
from restorelab.io import load_image  # noqa: E402
from restorelab.metrics import psnr  # noqa: E402
from restorelab.metrics.noise import removed_layer  # noqa: E402

CASES = {"jpeg q10": [("jpeg", {"quality": 10})], "jpeg q20": [("jpeg", {"quality": 20})],
         "jpeg q40": [("jpeg", {"quality": 40})], "jpeg q60": [("jpeg", {"quality": 60})],
         "σ 10, jpeg q40": [("gaussian_noise", {"sigma": 10}), ("jpeg", {"quality": 40})],
         "σ 25, jpeg q50": [("gaussian_noise", {"sigma": 25}), ("jpeg", {"quality": 50})],
         "camera_noise": [("camera_noise", {})], "noise_jpeg": [("noise_jpeg", {})]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="real-cpu", help="a shipped model")
    ap.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder")
    ap.add_argument("--first", type=int, default=40, help="first training photo used")
    ap.add_argument("--images", type=int, default=8, help="how many training photos")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0, model = time.time(), load_model(args.model)
    files = list_images(Path(args.data_dir) / "train/clean")[args.first: args.first + args.images]
    off = replace(GuardConfig(), jpeg_fit=np.inf)
    rows = {}
    for name, steps in CASES.items():
        cols = {}
        for i, f in enumerate(files):
            clean = x = load_image(f).astype(np.float32)
            for j, (deg, kw) in enumerate(steps):
                x = D.apply(deg, x, seed=1000 * i + j, **kw).astype(np.float32)
            y = restore(model, x)
            out, v = guard(x, y)
            vals = {"network": psnr(y, clean), "guard_no_step": psnr(guard(x, y, off)[0], clean),
                    "default": psnr(out, clean)}
            for k, val in vals.items():
                cols.setdefault(k, []).append(val - psnr(x, clean))
            cols.setdefault("weight", []).append(v.jpeg_weight)
            cols.setdefault("change_db", []).append(removed_layer(x, y)["change_db"])
        rows[name] = {**{k: round(float(np.mean(cols[k])), 3) for k in ("network", "guard_no_step", "default", "weight")},
                      "worst_step_gain": round(float(np.min(np.subtract(cols["default"], cols["guard_no_step"]))), 3),
                      "change_db_range": [round(float(min(cols["change_db"])), 1), round(float(max(cols["change_db"])), 1)]}
    print(json.dumps({"probe": "jpeg-step", "model": args.model, "photos": f"train/clean[{args.first}:{args.first + args.images}]",
                      "rows": rows, "cpu": cpu_info(), "seconds": round(time.time() - t0, 1)}, indent=2))


if __name__ == "__main__":
    main()
