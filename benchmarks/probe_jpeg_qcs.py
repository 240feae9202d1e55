"""Is the JPEG shortfall a consistency problem? Project a model's output onto JPEG's quantization
constraint set and see what that gains.

    python benchmarks/probe_jpeg_qcs.py > benchmarks/results/probe-jpeg-qcs.json

A JPEG keeps, for every 8×8 block of the luma plane, each DCT coefficient only as a multiple ``k·Q``
of its quantization step ``Q``; the clean photo's coefficient lay in ``[(k - ½)Q, (k + ½)Q]``. Clipping
the restored luma's coefficients into those intervals (the input's ``k``, the standard IJG table of
the quality used, which the probe knows; ``inference.classical.project_jpeg``) moves the output
toward every photo that JPEG could have made the input from, and never away from the clean one. If the network's JPEG gain were held back by
outputs that contradict the file, the projection would add to it. Luma only (where ~80% of the
error is at q20); chroma and the partial blocks at the right and bottom edges are left as they are.
Prints JSON (CPU flags included).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.data import list_images  # noqa: E402
from restorelab.degradations.compression import jpeg  # noqa: E402
from restorelab.inference import load_model, restore  # noqa: E402
from restorelab.inference.backends import cpu_info  # noqa: E402
from restorelab.io import load_image  # noqa: E402
from restorelab.metrics import psnr  # noqa: E402
from restorelab.inference.classical import project_jpeg  # noqa: E402

def jpeg_cases(description: str, images: int, qualities: str):
    """Parse the probes' shared flags; yield ``(args, quality, clean, jpeg input, model output)`` for the
    first ``--images`` CBSD68 photos at each quality (float32 arrays; one torch thread)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", default="real-cpu", help="a shipped model")
    ap.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder")
    ap.add_argument("--images", type=int, default=images, help="first N CBSD68 photos")
    ap.add_argument("--qualities", default=qualities, help="JPEG qualities")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    files = list_images(Path(args.data_dir) / "test/denoise/CBSD68")[: args.images]
    for q in (int(v) for v in args.qualities.split(",")):
        for i, f in enumerate(files):
            clean = load_image(f).astype(np.float32)
            x = jpeg(clean, np.random.default_rng([0, i]), quality=q).astype(np.float32)
            yield args, q, clean, x, restore(model, x).astype(np.float32)


def main() -> None:
    t0, per, args = time.time(), {}, None
    for args, q, clean, x, y in jpeg_cases(__doc__.split("\n\n")[0], 8, "20,40,60,90"):
        per.setdefault(q, []).append([psnr(x, clean), psnr(y, clean), psnr(project_jpeg(x, y, q), clean)])
    rows = {}
    for q, vals in per.items():
        a = np.array(vals)
        rows[f"q{q}"] = {"input": round(a[:, 0].mean(), 3), "output": round(a[:, 1].mean(), 3),
                         "projected": round(a[:, 2].mean(), 3),
                         "worst_output_gain": round((a[:, 1] - a[:, 0]).min(), 3),
                         "worst_projected_gain": round((a[:, 2] - a[:, 0]).min(), 3)}
    print(json.dumps({"probe": "jpeg-qcs", "model": args.model, "images": args.images, "rows": rows,
                      "cpu": cpu_info(), "seconds": round(time.time() - t0, 1)}, indent=2))


if __name__ == "__main__":
    main()
