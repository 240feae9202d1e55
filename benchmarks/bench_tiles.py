"""Does the tile size change what a big photo gets? PSNR of tiled against whole-image restoration.

    python benchmarks/bench_tiles.py [--model real-cpu] [--photos 8] [--tiles 128,256] > result.json

PromptIR's attention and prompts pool over the whole input, so a tile sees less context than the
photo: the same photo restored in tiles differs from the one-pass result. Each of the first
``--photos`` CBSD68 photos (481×321) is degraded per task (seeded), then restored in one pass and
in tiles of at most each ``--tiles`` side (forced below the usual tiling threshold; 32 px overlap).
Prints one JSON object: mean PSNR against the clean photo (clean photos: against the input) per task
and way.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from restorelab.data import list_images, synthesize  # noqa: E402
from restorelab.inference import backends as B  # noqa: E402
from restorelab.inference import load_model, restore, run_model  # noqa: E402
from restorelab.io import load_image  # noqa: E402
from restorelab.metrics import psnr  # noqa: E402

TASKS = ("clean", "jpeg", "denoise_25", "heavy_rain", "dehaze")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="real-cpu", help="shipped model")
    p.add_argument("--photos", type=int, default=8, help="CBSD68 photos per task")
    p.add_argument("--tiles", default="128,256", help="comma-separated largest tile sides")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"), help="datasets folder")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    model = load_model(a.model)
    tiles = [int(t) for t in a.tiles.split(",") if t.strip()]
    photos = list_images(a.data / "test" / "denoise" / "CBSD68")[: a.photos]
    rows = {}
    for task in TASKS:
        scores = {"whole": [], **{f"tile {t}": [] for t in tiles}}
        for i, f in enumerate(photos):
            clean = load_image(f)
            deg = synthesize(task, clean, seed=i)
            ref = deg if task == "clean" else clean
            scores["whole"].append(psnr(run_model(model, deg), ref))
            for t in tiles:
                scores[f"tile {t}"].append(psnr(restore(model, deg, tile=t, threshold=0), ref))
        rows[task] = {k: round(float(np.mean(v)), 3) for k, v in scores.items()}
    res = {"benchmark": "tiles", "model": a.model, "photos": len(photos), "overlap": 32,
           "cpu": B.cpu_info(), "psnr": rows}
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
