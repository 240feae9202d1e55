"""GRIDS descriptor: does a GGD of an earlier layer, or the KL summed over several layers, separate
the 11 degradations better than SRGA's deepest ("hr") features alone?

    PYTHONPATH=. .venv/bin/python benchmarks/grids_layers.py [--data ../shared/datasets] [--threads 1] \
        > benchmarks/results/grids-layers.json

References: every task's GGD over Set5 + Set14 (as ``grids similarity``); development photos: the
Rain12 targets, each degraded once per task with ``grids confusion``'s seeds. Layers: the first conv
(``f0``), each residual block (``b1`` ...; the last is ``rb``) and ``hr``. For each layer or layer set:
the descriptor's own 11-way accuracy (nearest task reference), group selection with the shipped
groups (KL to each group's averaged GGD) and the nearest-member rule. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from restorelab.grids import TASKS, store  # noqa: E402
from restorelab.grids import ggd as G  # noqa: E402
from restorelab.grids.descriptor import DescriptorConfig, pca_scores, sample_patches  # noqa: E402
from restorelab.grids.similarity import load_photos  # noqa: E402
from restorelab.grids.srresnet import default_descriptor_path, load_descriptor  # noqa: E402
from restorelab.grids.tasks import degrade  # noqa: E402


def layer_features(model, patches: np.ndarray) -> dict:
    """name -> (N, D) flattened features of every trunk stage and of the "hr" layer."""
    out = {}
    with torch.inference_mode():
        h = F.leaky_relu(model.conv_first(torch.from_numpy(patches)), 0.1)
        out["f0"] = h
        for i, block in enumerate(model.body):
            h = block(h)
            out[f"b{i + 1}"] = h
        out["hr"] = model._hr(h)
    return {k: v.reshape(v.shape[0], -1).numpy() for k, v in out.items()}


def layer_ggds(model, images, cfg: DescriptorConfig, seed) -> dict:
    patches = sample_patches(images, cfg.n_patches, cfg.patch_size, np.random.default_rng(seed), cfg.augment)
    return {k: G.fit(G.remove_outliers(pca_scores(f, cfg.n_components), cfg.outlier_sigma))
            for k, f in layer_features(model, patches).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/datasets")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load_descriptor(default_descriptor_path()).eval()
    cfg = DescriptorConfig()
    refs_photos = load_photos(f"{a.data}/test/sr/Set5,{a.data}/test/sr/Set14")[1]
    refs = {t: layer_ggds(model, [degrade(t, p, seed=[0, i, ti]) for i, p in enumerate(refs_photos)], cfg, [0, ti])
            for ti, t in enumerate(TASKS)}
    dev = load_photos(f"{a.data}/test/derain/Rain12/target")[1]
    cases = [(t, layer_ggds(model, [degrade(t, p, seed=[30_000, i, ti])], cfg, [30_000, i, ti]))
             for ti, t in enumerate(TASKS) for i, p in enumerate(dev)]
    groups = store.load_groups().groups

    def evaluate(layers):
        hit = {k: {t: 0 for t in TASKS} for k in ("task", "group", "nearest_member")}
        for t, g in cases:
            d = {r: sum(G.distance(g[lay], refs[r][lay]) for lay in layers) for r in TASKS}
            nearest = min(d, key=d.get)
            gd = [sum(G.distance(g[lay], G.average([refs[m][lay] for m in grp])) for lay in layers) for grp in groups]
            hit["task"][t] += nearest == t
            hit["group"][t] += t in groups[int(np.argmin(gd))]
            hit["nearest_member"][t] += any(t in grp and nearest in grp for grp in groups)
        n = len(dev)
        return {k: round(float(np.mean([v[t] / n for t in TASKS])), 4) for k, v in hit.items()} | {
            "per_task_accuracy": {t: round(hit["task"][t] / n, 3) for t in TASKS}}

    names = list(refs[TASKS[0]])
    sets = [[x] for x in names] + [["f0", "hr"], ["b1", "hr"], ["b3", "hr"], [names[-2], "hr"],
                                   ["f0", "b3", names[-2], "hr"], names]
    print(json.dumps({"benchmark": "grids descriptor layers", "descriptor": str(default_descriptor_path()),
                      "config": cfg.to_dict(), "groups": groups, "n_dev_photos": len(dev),
                      "rows": [{"layers": s} | evaluate(s) for s in sets]}, indent=1))


if __name__ == "__main__":
    main()
