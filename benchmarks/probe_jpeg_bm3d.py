"""Where does a classical JPEG deblocker stand against our default path on JPEG photos?

    python benchmarks/probe_jpeg_bm3d.py > benchmarks/results/probe-jpeg-bm3d.json

For the first N CBSD68 photos at each JPEG quality: the PSNR of the input, of the network alone,
of the default path (network, then the do-no-harm guard with its JPEG step: the mean with the photo
re-compressed on 64 shifted grids), of that re-compression alone, and of CBM3D at fixed noise levels
σ (the app's CBM3D estimates σ from the photo, which on a JPEG reads ~1/255 and changes nothing;
deblocking a JPEG wants a σ set from its quality, as BM3D/SA-DCT deblocking does). The σ that wins
here is picked on these photos: an upper bound for a σ read from the quality. Prints JSON (CPU flags
included; CBM3D takes ~10-30 s per photo here).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_jpeg_qcs import jpeg_cases  # noqa: E402  (the probes' shared flags and photos)

from restorelab.inference.backends import cpu_info  # noqa: E402
from restorelab.inference.classical import cbm3d, reapply_jpeg  # noqa: E402
from restorelab.inference.guard import guard  # noqa: E402
from restorelab.metrics import psnr  # noqa: E402
from restorelab.metrics.noise import jpeg_quality  # noqa: E402

SIGMAS = (0.05, 0.07, 0.09, 0.11)


def main() -> None:
    t0, rows, args = time.time(), {}, None
    for args, q, clean, x, y in jpeg_cases(__doc__.split("\n\n")[0], 8, "20,40"):
        vals = {"input": psnr(x, clean), "network": psnr(y, clean), "default": psnr(guard(x, y)[0], clean),
                "reapplied": psnr(reapply_jpeg(x, jpeg_quality(x)[0]), clean),
                **{f"cbm3d_{s}": psnr(cbm3d(x, s), clean) for s in SIGMAS}}
        for k, v in vals.items():
            rows.setdefault(f"q{q}", {}).setdefault(k, []).append(v)
    rows = {q: {k: round(float(np.mean(v)), 3) for k, v in cols.items()} for q, cols in rows.items()}
    print(json.dumps({"probe": "jpeg-bm3d", "model": args.model, "images": args.images, "sigmas": SIGMAS,
                      "rows": rows, "cpu": cpu_info(), "seconds": round(time.time() - t0, 1)}, indent=2))


if __name__ == "__main__":
    main()
