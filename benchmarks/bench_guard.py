"""What the do-no-harm guard adds to a restoration: its cost on a 12 MP photo, per kind of photo.

    python benchmarks/bench_guard.py > benchmarks/results/guard-12mp.json

The guard (``restorelab.inference.guard``) runs after the network on the full-size photo: the grid
and DCT reading of the input, the measurements of what the network removed, and on a JPEG the JPEG
step (16 shifted re-compressions above 4 MP) or, on a light JPEG, the luma projection. ``bench`` and
``bench_backends.py --big`` time the network alone; this times the guard alone on a real photo
(``--photo``, tiled to 4000x3000) as a never-compressed photo, a JPEG q30 (the step) and JPEGs q75
and q90 (light JPEGs where no grid shows), with the network's output stood in by the input plus a
small smooth change (the guard's cost hardly depends on it). Best of ``--repeats``; prints JSON (CPU flags included).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab import degradations as D  # noqa: E402
from restorelab.inference.backends import cpu_info  # noqa: E402
from restorelab.inference.guard import guard  # noqa: E402
from restorelab.io import load_image  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", default="../shared/datasets/test/denoise/McMaster/1.tif", help="a photo, tiled to 12 MP")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per case (best kept)")
    args = ap.parse_args()
    photo = load_image(args.photo).astype(np.float32)
    reps = (-(-3000 // photo.shape[0]), -(-4000 // photo.shape[1]), 1)
    big = np.ascontiguousarray(np.tile(photo, reps)[:3000, :4000])  # its own texture at 12 MP, no resampling
    cases = {"never compressed": big, "jpeg q30": D.apply("jpeg", big, seed=0, quality=30),
             "jpeg q75": D.apply("jpeg", big, seed=0, quality=75),
             "jpeg q90": D.apply("jpeg", big, seed=0, quality=90)}
    rows = {}
    for name, x in cases.items():
        x = x.astype(np.float32)
        out = np.clip(x + 0.004 * cv2.GaussianBlur(x, (0, 0), 3.0), 0, 1).astype(np.float32)
        best, verdict = float("inf"), None
        for _ in range(args.repeats):
            t = time.perf_counter()
            verdict = guard(x, out)[1]
            best = min(best, time.perf_counter() - t)
        rows[name] = {"seconds": round(best, 2), "found": verdict.found, "jpeg_step_weight": round(verdict.jpeg_weight, 2),
                      "light_jpeg": verdict.jpeg_light}
        print(name, rows[name], file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "guard", "pixels": "4000x3000", "photo": args.photo, "rows": rows,
                      "cpu": cpu_info()}, indent=2))


if __name__ == "__main__":
    main()
