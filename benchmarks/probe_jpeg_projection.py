"""Where clipping a restoration into a JPEG's quantization intervals helps: behind the guard, and for
the light JPEGs the guard used to hand back.

    python benchmarks/probe_jpeg_projection.py > benchmarks/results/probe-jpeg-projection.json

A JPEG keeps each luma block's DCT coefficient as ``k·Q``; the photo before compression lay within
``±Q/2`` of it. ``inference.classical.project_jpeg`` clips a restoration's coefficients into the middle
of those intervals (IJG table of the quality ``metrics.noise.jpeg_quality`` reads). Per case and photo
set: the PSNR gain over the input of the network alone, of the guard without the light-JPEG test
(``no_projection``: as before 2026-12-07's fifth session) and of the guard with it at each interval
``width`` (``width 0.25`` is the default: a light JPEG that no other test found is kept, its luma
change clipped into that middle share of the intervals, its colour untouched); the share of photos
read as JPEGs and of those kept as light JPEGs, the worst single photo's gain, and the range of the
network's change (PSNR of its output against the input).
Dev photos: BSDS *training* photos 40-47; McMaster and Set14 (top-left 256² crops) are the held-out
probe's sets. Noise that a JPEG kept (σ 10 then q75, camera noise) is where the projection would bring
noise back. Prints JSON (CPU flags included).
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
from restorelab.metrics.noise import jpeg_quality, removed_layer  # noqa: E402

SETS = {"train[40:48]": ("train/clean", 40, 8, None), "McMaster": ("test/denoise/McMaster", 0, 6, 256),
        "Set14": ("test/sr/Set14", 0, 6, 256), "Set5": ("test/sr/Set5", 0, 5, 256)}


def _half_jpeg(img, seed):
    import cv2

    h, w = img.shape[:2]
    small = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return D.apply("jpeg", cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), seed=seed, quality=75)


WIDTHS = (0.25, 0.5, 1.0)
COLUMNS = ("network", "no_projection", *(f"width {w}" for w in WIDTHS))
CASES = {
    "jpeg q20": lambda x, s: D.apply("jpeg", x, seed=s, quality=20),
    "jpeg q40": lambda x, s: D.apply("jpeg", x, seed=s, quality=40),
    "jpeg q60": lambda x, s: D.apply("jpeg", x, seed=s, quality=60),
    "jpeg q75": lambda x, s: D.apply("jpeg", x, seed=s, quality=75),
    "jpeg q90": lambda x, s: D.apply("jpeg", x, seed=s, quality=90),
    "jpeg q95": lambda x, s: D.apply("jpeg", x, seed=s, quality=95),
    "web_jpeg double": lambda x, s: D.apply("web_jpeg", x, seed=s, double=True),
    "half size, jpeg q75": _half_jpeg,
    "σ 10, jpeg q75": lambda x, s: D.apply("jpeg", D.apply("gaussian_noise", x, seed=s, sigma=10), seed=s, quality=75),
    "camera_noise": lambda x, s: D.apply("camera_noise", x, seed=s),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="real-cpu", help="a shipped model")
    ap.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder")
    ap.add_argument("--sets", default=",".join(SETS), help="photo sets (comma-separated)")
    args = ap.parse_args()
    t0, model = time.time(), load_model(args.model)
    off = replace(GuardConfig(), jpeg_project=False)
    out = {}
    for set_name in args.sets.split(","):
        folder, first, n, crop = SETS[set_name]
        files = list_images(Path(args.data_dir) / folder)[first:first + n]
        cleans = [load_image(f).astype(np.float32) for f in files]
        cleans = [c[:crop, :crop] if crop else c for c in cleans]
        rows = {}
        for name, degrade in CASES.items():
            cols = {}
            for i, clean in enumerate(cleans):
                x = degrade(clean, 1000 + i).astype(np.float32)
                y = restore(model, x)
                base, verdict = psnr(x, clean), guard(x, y)[1]
                vals = {"network": psnr(y, clean), "no_projection": psnr(guard(x, y, off)[0], clean),
                        **{f"width {w}": psnr(guard(x, y, replace(GuardConfig(), jpeg_width=w))[0], clean)
                           for w in WIDTHS}}
                for k, v in vals.items():
                    cols.setdefault(k, []).append(v - base)
                cols.setdefault("read", []).append(jpeg_quality(x).fit >= GuardConfig().jpeg_fit)
                cols.setdefault("light", []).append(verdict.jpeg_light)
                cols.setdefault("change_db", []).append(removed_layer(x, y)["change_db"])
            rows[name] = {**{k: round(float(np.mean(cols[k])), 3) for k in (*COLUMNS, "read", "light")},
                          "worst": {k: round(float(np.min(cols[k])), 3) for k in COLUMNS},
                          "change_db_range": [round(float(min(cols["change_db"])), 1),
                                              round(float(max(cols["change_db"])), 1)]}
            print(set_name, name, rows[name], file=sys.stderr, flush=True)
        out[set_name] = rows
    print(json.dumps({"probe": "jpeg-projection", "model": args.model, "rows": out, "cpu": cpu_info(),
                      "seconds": round(time.time() - t0, 1)}, indent=2))


if __name__ == "__main__":
    main()
