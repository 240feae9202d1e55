"""Where is a restored JPEG's remaining error, and is the network just too timid?

    python benchmarks/probe_jpeg_luma.py > benchmarks/results/probe-jpeg-luma.json

For the first N CBSD68 photos at each JPEG quality: the PSNR of the input and of the model's output,
each again with its luma (Y of YCrCb) or its chroma replaced by the clean photo's (what is left if
that part were perfect), the luma-only PSNR, and the output with the model's correction scaled
(``x + s·(model(x) − x)``: if a larger step helped, the network would be under-correcting, a
calibration problem rather than one of capacity). Prints JSON (CPU flags included).
"""

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_jpeg_qcs import jpeg_cases  # noqa: E402  (the probes' shared flags and photos)

from restorelab.inference.backends import cpu_info  # noqa: E402
from restorelab.metrics import psnr  # noqa: E402

SCALES = (1.2, 1.4, 1.6)


def _with_clean(img: np.ndarray, clean: np.ndarray, part: str) -> np.ndarray:
    """``img`` with its luma (``part="luma"``) or chroma (``"chroma"``) taken from ``clean``."""
    a, c = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb), cv2.cvtColor(clean, cv2.COLOR_RGB2YCrCb)
    sl = slice(0, 1) if part == "luma" else slice(1, 3)
    a[..., sl] = c[..., sl]
    return np.clip(cv2.cvtColor(a, cv2.COLOR_YCrCb2RGB), 0, 1)


def _luma_psnr(img: np.ndarray, clean: np.ndarray) -> float:
    return psnr(cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)[..., :1], cv2.cvtColor(clean, cv2.COLOR_RGB2YCrCb)[..., :1])


def main() -> None:
    t0, rows, args = time.time(), {}, None
    for args, q, clean, x, y in jpeg_cases(__doc__.split("\n\n")[0], 16, "20,40"):
        vals = {"input": psnr(x, clean), "output": psnr(y, clean),
                "input_clean_luma": psnr(_with_clean(x, clean, "luma"), clean),
                "input_clean_chroma": psnr(_with_clean(x, clean, "chroma"), clean),
                "output_clean_luma": psnr(_with_clean(y, clean, "luma"), clean),
                "output_clean_chroma": psnr(_with_clean(y, clean, "chroma"), clean),
                "input_luma_only": _luma_psnr(x, clean), "output_luma_only": _luma_psnr(y, clean),
                **{f"output_scaled_{s}": psnr(np.clip(x + s * (y - x), 0, 1), clean) for s in SCALES}}
        for k, v in vals.items():
            rows.setdefault(f"q{q}", {}).setdefault(k, []).append(v)
    rows = {q: {k: round(float(np.mean(v)), 3) for k, v in cols.items()} for q, cols in rows.items()}
    print(json.dumps({"probe": "jpeg-luma", "model": args.model, "images": args.images, "rows": rows,
                      "cpu": cpu_info(), "seconds": round(time.time() - t0, 1)}, indent=2))


if __name__ == "__main__":
    main()
