"""The OES tab's default path, as a visitor runs it: an example photo centre-cropped to the tab's
default size, σ 25, the shipped 5% mask transferred, dense DIP beside it, the default step count.
Prints JSON: the time taken, both PSNR curves' peak and final values, and the CPU flags."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab import degradations as D  # noqa: E402
from restorelab.inference.backends import cpu_info  # noqa: E402
from restorelab.oes.live import LiveConfig, stream  # noqa: E402
from restorelab.oes.sparse_dip import MaskPlan  # noqa: E402
from restorelab.ui.oes_tab import DEFAULT_MASK, DEFAULT_SIZE  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--photo", default="examples/chelsea.jpg", help="the photo (clean)")
    ap.add_argument("--sigma", type=float, default=25, help="noise σ (0-255 scale)")
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE, help="centre crop side (the tab's default)")
    ap.add_argument("--steps", type=int, default=LiveConfig().steps, help="steps (the tab's default)")
    a = ap.parse_args()
    img = np.asarray(Image.open(a.photo).convert("RGB"), np.float32) / 255
    h, w = img.shape[:2]
    y, x = (h - a.size) // 2, (w - a.size) // 2
    clean = np.ascontiguousarray(img[y:y + a.size, x:x + a.size])
    noisy = D.apply("gaussian_noise", clean, seed=0, sigma=a.sigma)
    t0 = time.perf_counter()
    *_, last = stream(noisy, clean=clean, plan=MaskPlan(spec=f"transfer:{DEFAULT_MASK}"),
                      config=LiveConfig(steps=a.steps, every=50, dense=True))
    out = {"photo": a.photo, "sigma": a.sigma, "size": a.size, "steps": a.steps, "mask": DEFAULT_MASK,
           "seconds": round(time.perf_counter() - t0, 1), "cpu": cpu_info()}
    for arm in ("sparse", "dense"):
        c = last["curves"][arm]["clean"]
        out[arm] = {"peak_psnr": round(max(c), 2), "peak_step": int(np.argmax(c)) + 1, "final_psnr": round(c[-1], 2)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
