"""Does a self-ensemble help JPEG photos, and does it need the 8x8 block grid kept in place?

    python benchmarks/probe_jpeg_ensemble.py > benchmarks/results/probe-jpeg-ensemble.json

For the first N CBSD68 photos (481x321 or 321x481: one side not a multiple of 8) at each JPEG quality:
the PSNR of the input, of one pass, of the x4 and x8 self-ensembles as ``restore`` runs them (each
transform on the photo padded to a multiple of 8, so the block grid stays where a JPEG encoder put
it), and of an x4 ensemble that flips the unpadded photo (a flip of 321 rows moves the grid by 1).
Prints JSON (CPU flags included).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_jpeg_qcs import jpeg_cases  # noqa: E402  (the probes' shared flags and photos)

from restorelab.inference import ENSEMBLES, load_model, restore  # noqa: E402
from restorelab.inference.backends import cpu_info  # noqa: E402
from restorelab.metrics import psnr  # noqa: E402
from restorelab.tensors import dihedral, undo_dihedral  # noqa: E402


def _unaligned(model, x: np.ndarray, n: int) -> np.ndarray:
    return np.mean([undo_dihedral(restore(model, np.ascontiguousarray(dihedral(x, k))), k)
                    for k in ENSEMBLES[n]], axis=0)


def main() -> None:
    t0, rows, args, model = time.time(), {}, None, None
    for args, q, clean, x, y in jpeg_cases(__doc__.split("\n\n")[0], 16, "20,40"):
        model = model or load_model(args.model)
        vals = {"input": psnr(x, clean), "single": psnr(y, clean),
                "x4": psnr(restore(model, x, self_ensemble=4), clean),
                "x8": psnr(restore(model, x, self_ensemble=8), clean),
                "x4_unaligned": psnr(_unaligned(model, x, 4), clean)}
        for k, v in vals.items():
            rows.setdefault(f"q{q}", {}).setdefault(k, []).append(v)
    rows = {q: {k: round(float(np.mean(v)), 3) for k, v in cols.items()} for q, cols in rows.items()}
    print(json.dumps({"probe": "jpeg-ensemble", "model": args.model, "images": args.images, "rows": rows,
                      "cpu": cpu_info(), "seconds": round(time.time() - t0, 1)}, indent=2))


if __name__ == "__main__":
    main()
