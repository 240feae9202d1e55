"""GRIDS speed: the 11 x 11 similarity matrix and one adaptive selection (targets 30 s and 1 s on 2 cores).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_grids.py [--descriptor FILE] [--threads 2]
        [--photos DIR[,DIR]] [--image IMG] [--repeats 3] [--layer hr|rb] [--n-patches 128] ...

Prints one JSON object. Without a trained descriptor (``weights/grids/descriptor.safetensors`` or
``--descriptor``) a randomly initialised one of the default architecture is timed, and the JSON says
so (the timings do not depend on the weights). The matrix time covers degrading every photo with
the 11 tasks, features, PCA, GGD fits and the 121 KL values (no cache); the selection time covers
patch sampling, features, PCA, the GGD fit and the group distances for one photo (best of
``--repeats``; the descriptor is loaded once, beforehand, as the app does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from restorelab.grids import PAPER_GROUPS, TASKS, store  # noqa: E402
from restorelab.grids.descriptor import DescriptorConfig  # noqa: E402
from restorelab.grids.select import Groups, select  # noqa: E402
from restorelab.grids.similarity import load_photos, matrix_from_ggds, task_ggds  # noqa: E402
from restorelab.grids.srresnet import SRResNet, SRResNetConfig, load_descriptor  # noqa: E402
from restorelab.io import load_image  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--descriptor", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--photos", default=f"{DATA}/test/sr/Set5,{DATA}/test/sr/Set14")
    p.add_argument("--image", default=f"{DATA}/test/denoise/CBSD68/101085.png")
    p.add_argument("--repeats", type=int, default=3)
    for f in fields(DescriptorConfig):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = DescriptorConfig(**{f.name: getattr(args, f.name) for f in fields(DescriptorConfig)})
    path = Path(args.descriptor) if args.descriptor else store.path("descriptor")
    if path.exists():
        model, which = load_descriptor(path), f"trained ({path})"
    else:
        torch.manual_seed(0)
        model, which = SRResNet(SRResNetConfig()).eval(), "untrained (random init; no trained descriptor found)"
    names, photos = load_photos(args.photos)
    image_path = args.image if os.path.exists(args.image) else str(Path(__file__).resolve().parents[1] /
                                                                   "examples" / "chelsea.jpg")
    img = load_image(image_path)

    t0 = time.perf_counter()
    ggds = task_ggds(model, photos, TASKS, cfg)
    matrix = matrix_from_ggds(ggds, TASKS)
    matrix_s = time.perf_counter() - t0

    groups = Groups.from_task_ggds(PAPER_GROUPS, ggds)
    times = []
    for r in range(max(1, args.repeats)):
        t = time.perf_counter()
        sel = select(img, model, groups, cfg, seed=r)
        times.append(time.perf_counter() - t)
    res = {
        "descriptor": which, "descriptor_config": model.config.to_dict(), "pipeline": cfg.to_dict(),
        "threads": args.threads, "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "photos": len(names), "matrix_s": round(matrix_s, 3), "matrix_target_s": 30.0,
        "select_image": f"{image_path} ({img.shape[1]}x{img.shape[0]})",
        "select_s": round(min(times), 3), "select_all_s": [round(t, 3) for t in times], "select_target_s": 1.0,
        "matrix_ok": matrix_s <= 30.0, "select_ok": min(times) <= 1.0,
        "selected": sel.group, "matrix_offdiag_mean": round(sum(map(sum, matrix)) / (len(TASKS) ** 2 - len(TASKS)), 3),
    }
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
