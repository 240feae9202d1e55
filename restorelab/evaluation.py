"""Score a restorer (or a baseline) on a standard evaluation set.

Protocol (stated next to every number we report): PSNR and SSIM on RGB in [0, 1] float, the
whole image (no centre crop to 16, no border shave), output clamped to [0, 1] and not
quantised; an output identical to the reference scores ``PSNR_CAP`` (100 dB); SSIM in the Gaussian (MATLAB / skimage ``gaussian_weights=True``) form; the mean
over images. CBSD68 noise: σ on 0–255, clipped and quantised to uint8, seed [0, i] for image i.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from restorelab.errors import RestoreLabError

PROTOCOL = "RGB PSNR/SSIM (Gaussian SSIM), [0,1] float, full image, mean over images"
PSNR_CAP = 100.0  # identical images have infinite PSNR; capped so means and JSON stay finite


def _protocol(self_ensemble: int) -> str:
    if self_ensemble == 1:
        return PROTOCOL
    return PROTOCOL + f"; x{self_ensemble} self-ensemble" + (" (flips and half turn)" if self_ensemble == 4 else "")


def _restorer(model: str, baseline: str, sigma: int | None, self_ensemble: int = 1,
              device: str = "cpu") -> Callable[[np.ndarray], np.ndarray]:
    if baseline == "input":
        return lambda img: img
    if baseline == "cbm3d":
        if sigma is None:
            raise RestoreLabError("the cbm3d baseline only applies to the denoising sets (CBSD68-s*) and to "
                                   "folders of clean images with --sigma")
        import bm3d

        return lambda img: np.clip(bm3d.bm3d_rgb(img, sigma / 255.0), 0, 1).astype(np.float32)
    if baseline == "model":
        from restorelab.inference import load_model, restore
        from restorelab.inference.guard import guard, split_method

        name, guarded = split_method(model)
        net = load_model(name, device=device)
        if guarded:  # as restore and the app run it (``inference.guard``)
            return lambda img: guard(img, restore(net, img, self_ensemble=self_ensemble))[0]
        return lambda img: restore(net, img, self_ensemble=self_ensemble)
    raise RestoreLabError(f"unknown baseline {baseline!r}; valid: model, input, cbm3d")


def _check_ensemble(baseline: str, self_ensemble: int) -> None:
    if self_ensemble != 1 and baseline != "model":
        raise RestoreLabError("--self-ensemble applies to a model, not to a baseline")


def evaluate(model: str, set_name: str, data_root: str = "../shared/datasets", limit: int | None = None,
             baseline: str = "model", progress: bool = False, self_ensemble: int = 1, device: str = "cpu") -> dict:
    """Per-image and mean PSNR/SSIM of ``model`` (or a baseline) on ``set_name``
    (``self_ensemble`` 4 or 8: the model's mean over flips/rotations, see :func:`inference.restore`;
    ``device``: where the model runs, see ``tensors.resolve_device``)."""
    from restorelab.data import eval_sets

    _check_ensemble(baseline, self_ensemble)
    sets = eval_sets(data_root)
    if set_name not in sets:
        raise RestoreLabError(f"unknown evaluation set {set_name!r}; valid: {', '.join(sets)}")
    spec = sets[set_name]
    return _score(model, spec.open(), set_name, spec.task, spec.sigma, limit, baseline, progress, self_ensemble,
                  device)


def evaluate_folder(model: str, folder, sigma: float | None = None, seed: int = 0, limit: int | None = None,
                    baseline: str = "model", progress: bool = False, self_ensemble: int = 1,
                    device: str = "cpu") -> dict:
    """:func:`evaluate` on any folder: with ``sigma``, a folder of clean images with Gaussian noise
    of that std added (as the CBSD68-s* sets: 0-255 scale, clipped and quantised, image ``i`` of the
    sorted names seeded ``[seed, i]``); without, a paired folder (``input/`` + ``target/`` with
    matching file names, see :func:`restorelab.data.find_pairs`)."""
    from restorelab.data.folders import open_eval_folder

    _check_ensemble(baseline, self_ensemble)
    data = open_eval_folder(folder, sigma, seed)
    task = "paired" if sigma is None else f"denoise_{sigma:g}"
    res = _score(model, data, str(folder), task, sigma, limit, baseline, progress, self_ensemble, device)
    if sigma is not None:
        res["protocol"] += (f"; Gaussian noise σ {sigma:g} (0-255) added, clipped and quantised, "
                            f"seed [{seed}, i] for image i of the sorted names")
    return res | {"dir": str(folder), "sigma": sigma, "seed": seed if sigma is not None else None}


def _score(model: str, data, set_name: str, task: str, sigma, limit: int | None, baseline: str, progress: bool,
           self_ensemble: int, device: str = "cpu") -> dict:
    """The evaluation loop: ``data`` items are ``(name, degraded, clean)``."""
    from restorelab.metrics import psnr, ssim

    fn = _restorer(model, baseline, sigma, self_ensemble, device)
    n = len(data) if limit is None else min(limit, len(data))
    rows, t0 = [], time.perf_counter()
    it = range(n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"eval {set_name}", dynamic_ncols=True)
    for i in it:
        name, degraded, clean = data[i]
        out = fn(degraded)
        rows.append({"name": name, "psnr": min(psnr(out, clean), PSNR_CAP), "ssim": ssim(out, clean)})
    return {"model": model if baseline == "model" else baseline, "set": set_name, "task": task,
            "protocol": _protocol(self_ensemble), "self_ensemble": self_ensemble, "images": rows, "n": len(rows),
            "psnr": float(np.mean([r["psnr"] for r in rows])), "ssim": float(np.mean([r["ssim"] for r in rows])),
            "seconds": time.perf_counter() - t0}


STANDARD_SETS = ("CBSD68-s15", "CBSD68-s25", "CBSD68-s50", "Rain12", "Rain100L-10", "SOTS-outdoor-2")


def report(model: str, sets=STANDARD_SETS, data_root: str = "../shared/datasets", with_input: bool = True,
           progress: bool = False, self_ensemble: int = 1, device: str = "cpu") -> dict:
    """Mean PSNR/SSIM of ``model`` (and of the degraded inputs) on each standard set."""
    rows = []
    for name in sets:
        row = {"set": name, "model": _summary(evaluate(model, name, data_root, progress=progress,
                                                       self_ensemble=self_ensemble, device=device))}
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
        rows.append({"model": name, "kind": card.kind, "strategy": card.extra.get("strategy"),
                     "params": card.params, "nonzero_params": card.nonzero_params,
                     "sparsity": card.sparsity,
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


# -- what users bring: the real-photo evaluation ----------------------------------------------
#: Rows of the real-photo table: clean photos, web JPEG, blind Gaussian noise, camera noise, rain, haze.
REAL_SETS = ("CBSD68-clean", "CBSD68-jpeg10", "CBSD68-jpeg20", "CBSD68-jpeg30", "CBSD68-jpeg40",
             "CBSD68-s15", "CBSD68-s25", "CBSD68-s50", "CBSD68-camera", "Rain12", "Rain100L-10",
             "CBSD68-heavyrain", "CBSD68-downpour", "SOTS-outdoor-2")
#: Task family of each row (the ticket must stay within 0.3 dB of its parent on each family).
REAL_FAMILIES = {"CBSD68-clean": "clean", "CBSD68-jpeg10": "jpeg", "CBSD68-jpeg20": "jpeg",
                 "CBSD68-jpeg30": "jpeg", "CBSD68-jpeg40": "jpeg", "CBSD68-s15": "gaussian",
                 "CBSD68-s25": "gaussian", "CBSD68-s50": "gaussian", "CBSD68-camera": "camera noise",
                 "Rain12": "rain", "Rain100L-10": "rain", "CBSD68-heavyrain": "rain", "CBSD68-downpour": "rain",
                 "SOTS-outdoor-2": "haze"}


def method_fingerprint(method: str) -> str:
    """What a stored result was computed with: the weights file's SHA-256 for a model, the
    parameters for a classical method (so ``real_eval`` reuses a result only for the same thing)."""
    import hashlib

    from restorelab.inference.classical import NLM_H, NLM_H_COLOR, is_classical
    from restorelab.inference.guard import GuardConfig, split_method
    from restorelab.inference.weights import resolve

    if method == "input":
        return "input"
    base, guarded = split_method(method)
    if guarded:  # the thresholds are part of what was computed
        return f"{method_fingerprint(base)}+guard:{GuardConfig()}"
    if "@" in method:  # a model behind another inference backend (see ``load_method``)
        name, backend = method.rsplit("@", 1)
        return f"{method_fingerprint(name)}@{backend}"
    if is_classical(method):
        return f"{method}:nlm_h={NLM_H},{NLM_H_COLOR}" if method == "nlm" else method
    return "sha256:" + hashlib.sha256(resolve(method).read_bytes()).hexdigest()[:16]


def load_method(method: str, device: str = "cpu"):
    """A method of ``real_eval``: a shipped name / weights path / classical method, or ``NAME@BACKEND``
    (that model behind an inference backend, e.g. ``real-cpu@openvino-bf16``; CPU only); a
    ``+guard`` suffix is handled by the caller (``inference.guard``: the same network)."""
    from restorelab.inference import load_model
    from restorelab.inference.guard import split_method

    method = split_method(method)[0]
    if "@" not in method:
        return load_model(method, device=device)
    from restorelab.inference.backends import load_backend

    name, backend = method.rsplit("@", 1)
    return load_backend(load_model(name), backend)


def verify_backend(model: str, backend: str, sets=REAL_SETS, data_root: str = "../shared/datasets",
                   limit: int | None = None, previous: dict | None = None, progress: bool = False) -> dict:
    """Whether ``model`` behind ``backend`` (a reduced-precision one) loses at most
    ``QUALITY_LOSS_DB`` PSNR against the model itself (PyTorch, float32) on every set: both run on
    the same images; ``previous`` (a real-eval result) supplies the float32 cells it already has."""
    from restorelab.inference.backends import QUALITY_LOSS_DB

    other = f"{model}@{backend}"
    res = real_eval([model, other], sets, data_root=data_root, limit=limit, slow_limit=None,
                    progress=progress, previous=previous)
    per_set = {r["set"]: {"psnr": r["methods"][model]["psnr"], "backend_psnr": r["methods"][other]["psnr"],
                          "loss_db": r["methods"][model]["psnr"] - r["methods"][other]["psnr"],
                          "n": r["n"]} for r in res["rows"]}
    worst = max(per_set, key=lambda k: per_set[k]["loss_db"])
    return {"model": model, "backend": backend, "limit": limit, "max_loss_db": QUALITY_LOSS_DB,
            "worst_set": worst, "worst_loss_db": per_set[worst]["loss_db"],
            "ok": per_set[worst]["loss_db"] <= QUALITY_LOSS_DB, "per_set": per_set}


def real_eval(methods, sets=REAL_SETS, data_root: str = "../shared/datasets", limit: int | None = None,
              slow_limit: int | None = 8, slow=("bm3d",), progress: bool = False, previous: dict | None = None,
              on_row: Callable[[dict], None] | None = None, device: str = "cpu") -> dict:
    """Every method (``input``, a classical method or a shipped model, ``NAME+guard`` for a model behind
    the do-no-harm guard, see ``inference.guard``) on every set, per image.

    ``slow`` methods run on the first ``slow_limit`` images of each set only (CBM3D takes ~10-20 s
    per 481x321 photo on 2 cores); each row records, for every other method, its mean on those same
    images too (``psnr_slow_subset``), so the comparison stays like for like. ``previous``: an
    earlier result; a (set, method) cell with the same fingerprint and image count is reused.
    ``on_row(partial_result)`` after each finished row (the CLI saves it: a killed run keeps its rows).
    ``device``: where the networks run (classical methods stay on the CPU).
    """
    from restorelab.data import eval_sets
    from restorelab.inference import restore
    from restorelab.inference.guard import guard, split_method
    from restorelab.metrics import psnr, ssim

    specs = eval_sets(data_root)
    bad = [s for s in sets if s not in specs]
    if bad:
        raise RestoreLabError(f"unknown evaluation set(s) {', '.join(bad)}; valid: {', '.join(specs)}")
    nets = {m: (None if m == "input" else load_method(m, device)) for m in methods}
    prints = {m: method_fingerprint(m) for m in methods}
    old = {(r["set"], name): cell for r in (previous or {}).get("rows", []) for name, cell in r["methods"].items()}
    rows = []
    for set_name in sets:
        data = specs[set_name].open()
        n = len(data) if limit is None else min(limit, len(data))
        items = [data[i] for i in range(n)]
        row = {"set": set_name, "family": REAL_FAMILIES.get(set_name, specs[set_name].task), "n": n, "methods": {}}
        for m, net in nets.items():
            k = n if (m not in slow or slow_limit is None) else min(slow_limit, n)
            cell = old.get((set_name, m))
            if cell and cell.get("fingerprint") == prints[m] and cell.get("n") == k:
                row["methods"][m] = cell
                continue
            it = range(k)
            if progress:
                from tqdm import tqdm

                it = tqdm(it, desc=f"{set_name} {m}", dynamic_ncols=True, leave=False)
            ps, ss, secs, kept = [], [], 0.0, 0
            guarded = split_method(m)[1]
            for i in it:
                _, degraded, clean = items[i]
                t = time.perf_counter()
                out = degraded if net is None else restore(net, degraded)
                if guarded:
                    out, verdict = guard(degraded, out)
                    kept += verdict.kept
                secs += time.perf_counter() - t
                ps.append(min(psnr(out, clean), PSNR_CAP))
                ss.append(ssim(out, clean))
            row["methods"][m] = {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "n": k,
                                 "seconds_per_image": secs / k, "psnr_images": [round(p, 4) for p in ps],
                                 "fingerprint": prints[m], **({"restored": kept} if guarded else {})}
        k_slow = min([r["n"] for name, r in row["methods"].items() if name in slow] or [n])
        for r in row["methods"].values():
            r["psnr_slow_subset"] = float(np.mean(r["psnr_images"][:k_slow]))
        row["slow_subset"] = k_slow
        rows.append(row)
        if on_row:
            on_row(_real_result(methods, slow, slow_limit, limit, rows))
    return _real_result(methods, slow, slow_limit, limit, rows)


def _real_result(methods, slow, slow_limit, limit, rows) -> dict:
    import torch

    return {"protocol": PROTOCOL + f"; PSNR capped at {PSNR_CAP:g} dB", "methods": list(methods),
            "slow": [m for m in methods if m in slow], "slow_limit": slow_limit, "limit": limit,
            "threads": torch.get_num_threads(), "rows": list(rows)}


def _is_ours(method: str) -> bool:
    """A network of ours (a shipped name or a weights file), not the input or a classical method."""
    from restorelab.paths import CLASSICAL_METHODS

    return method != "input" and method not in CLASSICAL_METHODS


def real_markdown(res: dict) -> str:
    """The real-photo table: one row per set, PSNR of every method; a slow method's cell also
    gives the best of our models on the same images, a guarded model's how many photos the guard
    handed back unchanged."""
    methods = res["methods"]
    ours = [m for m in methods if _is_ours(m)]
    lines = ["| situation | images | " + " | ".join(f"`{m}`" if m != "input" else "input" for m in methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for row in res["rows"]:
        cells = []
        best = max((row["methods"][m]["psnr"] for m in methods if m != "input"), default=None)
        for m in methods:
            r = row["methods"][m]
            txt = f"{r['psnr']:.2f}"
            if m in res["slow"] and r["n"] < row["n"]:
                sub = max((row["methods"][o]["psnr_slow_subset"] for o in ours), default=None)
                txt = f"{r['psnr']:.2f} ({r['n']}; ours {sub:.2f})" if sub is not None else f"{r['psnr']:.2f} ({r['n']})"
            elif m != "input" and best is not None and round(r["psnr"], 2) == round(best, 2):  # ties: all bold
                txt = f"**{txt}**"
            if r.get("restored", r["n"]) < r["n"]:  # behind the guard: how many photos it handed back as they were
                txt += f" ({r['n'] - r['restored']} unchanged)"
            cells.append(txt)
        lines.append(f"| {row['set']} ({row['family']}) | {row['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_real_to_cards(res: dict, weights_dir=None) -> list[str]:
    """Write each shipped model's real-photo rows into its card (``results_real``), beside the input
    and the classical methods on the same rows, with the command that made them. Returns the names."""
    from pathlib import Path

    from restorelab.inference.guard import GUARD_SUFFIX
    from restorelab.inference.weights import update_card
    from restorelab.paths import default_weights_dir

    others = [m for m in res["methods"] if not _is_ours(m)]
    done = []
    for m in res["methods"]:
        if m in others or not (Path(weights_dir or default_weights_dir()) / f"{m}.json").exists():
            continue
        results = {"command": res.get("command"), "protocol": res["protocol"],
                   "rows": [{"set": r["set"], "family": r["family"], "n": r["n"],
                             **{o: {k: r["methods"][o][k] for k in ("psnr", "ssim", "n", "restored")
                                    if k in r["methods"][o]}
                                for o in [m, m + GUARD_SUFFIX, *others] if o in r["methods"]}} for r in res["rows"]]}
        update_card(m, lambda card, results=results: card.__setitem__("results_real", results), weights_dir)
        done.append(m)
    return done
