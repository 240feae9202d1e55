"""Score a restorer (or a baseline) on a standard evaluation set.

Protocol (stated next to every number we report): PSNR and SSIM on RGB in [0, 1] float, the
whole image (no centre crop to 16, no border shave), output clamped to [0, 1] and not
quantised; SSIM in the Gaussian (MATLAB / skimage ``gaussian_weights=True``) form; the mean
over images. CBSD68 noise: σ on 0–255, clipped and quantised to uint8, seed [0, i] for image i.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from restorelab.errors import RestoreLabError

PROTOCOL = "RGB PSNR/SSIM (Gaussian SSIM), [0,1] float, full image, mean over images"


def _protocol(self_ensemble: int) -> str:
    if self_ensemble == 1:
        return PROTOCOL
    return PROTOCOL + f"; x{self_ensemble} self-ensemble" + (" (flips and half turn)" if self_ensemble == 4 else "")


def _restorer(model: str, baseline: str, sigma: int | None,
              self_ensemble: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    if baseline == "input":
        return lambda img: img
    if baseline == "cbm3d":
        if sigma is None:
            raise RestoreLabError("the cbm3d baseline only applies to the denoising sets (CBSD68-s*)")
        try:
            import bm3d
        except ImportError:
            raise RestoreLabError("the cbm3d baseline needs the 'bm3d' package (pip install bm3d)") from None
        return lambda img: np.clip(bm3d.bm3d_rgb(img, sigma / 255.0), 0, 1).astype(np.float32)
    if baseline == "model":
        from restorelab.inference import load_model, restore

        net = load_model(model)
        return lambda img: restore(net, img, self_ensemble=self_ensemble)
    raise RestoreLabError(f"unknown baseline {baseline!r}; valid: model, input, cbm3d")


def evaluate(model: str, set_name: str, data_root: str = "../shared/datasets", limit: int | None = None,
             baseline: str = "model", progress: bool = False, self_ensemble: int = 1) -> dict:
    """Per-image and mean PSNR/SSIM of ``model`` (or a baseline) on ``set_name``
    (``self_ensemble`` 4 or 8: the model's mean over flips/rotations, see :func:`inference.restore`)."""
    from restorelab.data import eval_sets
    from restorelab.metrics import psnr, ssim

    if self_ensemble != 1 and baseline != "model":
        raise RestoreLabError("--self-ensemble applies to a model, not to a baseline")
    sets = eval_sets(data_root)
    if set_name not in sets:
        raise RestoreLabError(f"unknown evaluation set {set_name!r}; valid: {', '.join(sets)}")
    spec = sets[set_name]
    data = spec.open()
    fn = _restorer(model, baseline, spec.sigma, self_ensemble)
    n = len(data) if limit is None else min(limit, len(data))
    rows, t0 = [], time.perf_counter()
    it = range(n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"eval {set_name}", dynamic_ncols=True)
    for i in it:
        name, degraded, clean = data[i]
        out = fn(degraded)
        rows.append({"name": name, "psnr": psnr(out, clean), "ssim": ssim(out, clean)})
    return {"model": model if baseline == "model" else baseline, "set": set_name, "task": spec.task,
            "protocol": _protocol(self_ensemble), "self_ensemble": self_ensemble, "images": rows, "n": len(rows),
            "psnr": float(np.mean([r["psnr"] for r in rows])), "ssim": float(np.mean([r["ssim"] for r in rows])),
            "seconds": time.perf_counter() - t0}


STANDARD_SETS = ("CBSD68-s15", "CBSD68-s25", "CBSD68-s50", "Rain12", "Rain100L-10", "SOTS-outdoor-2")


def report(model: str, sets=STANDARD_SETS, data_root: str = "../shared/datasets", with_input: bool = True,
           progress: bool = False, self_ensemble: int = 1) -> dict:
    """Mean PSNR/SSIM of ``model`` (and of the degraded inputs) on each standard set."""
    rows = []
    for name in sets:
        row = {"set": name,
               "model": _summary(evaluate(model, name, data_root, progress=progress, self_ensemble=self_ensemble))}
        if with_input:
            row["input"] = _summary(evaluate(model, name, data_root, baseline="input"))
        rows.append(row)
    return {"model": model, "protocol": _protocol(self_ensemble), "rows": rows}


def _summary(res: dict) -> dict:
    return {"psnr": round(res["psnr"], 2), "ssim": round(res["ssim"], 4), "n": res["n"],
            "seconds": round(res["seconds"], 1)}


def report_markdown(rep: dict) -> str:
    lines = [f"| set | input PSNR / SSIM | {rep['model']} PSNR / SSIM | images |", "|---|---|---|---|"]
    for r in rep["rows"]:
        inp = f"{r['input']['psnr']:.2f} / {r['input']['ssim']:.4f}" if "input" in r else "–"
        lines.append(f"| {r['set']} | {inp} | {r['model']['psnr']:.2f} / {r['model']['ssim']:.4f} | {r['model']['n']} |")
    return "\n".join(lines)


def time_models(models: dict, size: int = 512, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` seconds per ``size``² image for each ready model, timed in alternation
    in one process (timings on a shared CPU are only comparable side by side)."""
    import torch

    from restorelab.inference import run_model

    img = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    for net in models.values():
        run_model(net, img)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, net in models.items():
            t = time.perf_counter()
            run_model(net, img)
            times[name].append(time.perf_counter() - t)
    return {name: min(v) for name, v in times.items()} | {"threads": torch.get_num_threads()}


def compare(models, sets=STANDARD_SETS, data_root: str = "../shared/datasets", size: int = 512, repeats: int = 3,
            limit: int | None = None, progress: bool = False) -> dict:
    """The paper's Table III for shipped models: PSNR/SSIM per set (the first ``limit`` images of
    each) and PSNR averaged over the sets, total and non-zero parameters, file size, CPU seconds
    per ``size``² image (as the app runs them: pruned files shrunk)."""
    from pathlib import Path

    from restorelab.inference import load_model
    from restorelab.inference.weights import read_card, resolve

    rows = []
    for name in models:
        card = read_card(name)
        raw = {s: evaluate(name, s, data_root, limit=limit, progress=progress) for s in sets}
        rows.append({"model": name, "kind": card.get("kind", "dense"), "strategy": card.get("strategy"),
                     "params": card["params"], "nonzero_params": card["nonzero_params"],
                     "sparsity": 1 - card["nonzero_params"] / card["params"],
                     "file_bytes": Path(resolve(name)).stat().st_size,
                     "sets": {s: _summary(r) for s, r in raw.items()},
                     # from the unrounded set means: gaps near a 0.3 dB target need the third decimal
                     "mean_psnr": round(float(np.mean([r["psnr"] for r in raw.values()])), 3) if raw else None})
    secs = time_models({name: load_model(name) for name in models}, size, repeats)
    for row in rows:
        row["seconds"] = round(secs[row["model"]], 3)
    return {"protocol": PROTOCOL, "limit": limit, "size": size, "threads": secs["threads"], "rows": rows}


def save_to_cards(table: dict, command: str, weights_dir=None) -> list[str]:
    """Write each pruned model's row of a ``compare`` table into its card as ``results`` (with the
    command that made it); dense cards keep the full-set report ``ship`` wrote. Returns the names."""
    import json
    from pathlib import Path

    from restorelab.paths import default_weights_dir

    done = []
    for row in table["rows"]:
        if row["kind"] == "dense":
            continue
        path = Path(weights_dir or default_weights_dir()) / f"{row['model']}.json"
        card = json.loads(path.read_text())
        card["results"] = {"command": command, "protocol": table["protocol"], "limit": table["limit"],
                           "sets": row["sets"], "mean_psnr": row["mean_psnr"],
                           f"seconds_{table['size']}": row["seconds"], "threads": table["threads"]}
        path.write_text(json.dumps(card, indent=2))
        done.append(row["model"])
    return done


def compare_markdown(table: dict) -> str:
    sets = list(table["rows"][0]["sets"]) if table["rows"] else []
    head = ["model", *sets, "mean PSNR", "params", "non-zero", "file MB", f"s / {table['size']}²"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table["rows"]:
        cells = [f"`{r['model']}`", *(f"{r['sets'][s]['psnr']:.2f} / {r['sets'][s]['ssim']:.3f}" for s in sets),
                 f"{r['mean_psnr']:.2f}", f"{r['params']:,}", f"{r['nonzero_params']:,} ({100 * r['sparsity']:.1f}% sparse)",
                 f"{r['file_bytes'] / 1e6:.2f}", f"{r['seconds']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
