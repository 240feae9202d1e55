"""Sparse PromptIR in practice: dense vs dead-structure-removed inference time, compact file size.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_lottery.py [--weights FILE] [--sparsity 0.9]
        [--over all|prunable] [--mask layerwise|global|random] [--size 512] [--repeats 3] [--threads 0]

Prints one JSON object. Without ``--weights`` the model is ``promptir-cpu`` with random
weights; a model sparser than ``--sparsity`` (over its prunable weights) is used as it is (a
real ticket), otherwise ``--mask`` prunes it one-shot to that sparsity first.

On random weights a *global* magnitude mask is not a fair stand-in: init scales go as
1/sqrt(fan-in), so one threshold empties whole high-fan-in layers (at 90% it empties
``output.weight`` of promptir-cpu, and the network becomes the identity). The default stand-in
is therefore ``layerwise`` (the same rate in every tensor, ``output.weight`` at half of it).

Both models run in eval mode, channels_last, ``torch.inference_mode``, on the same input, in
alternation; the best of ``--repeats`` timings is reported (and all of them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.inference.compact import is_compact, load_compact, save_compact  # noqa: E402
from restorelab.inference.shrink import shrink  # noqa: E402
from restorelab.inference.weights import load_weights, read_metadata, save_weights  # noqa: E402
from restorelab.models import create_model  # noqa: E402
from restorelab.pruning import apply_masks, masks_from_weights, ones_masks, prune, sparsity_of  # noqa: E402


def prunable_rate(model, masks, sparsity: float, over: str) -> float:
    """The one-shot rate of the prunable weights that reaches ``sparsity`` over ``over``."""
    if over == "prunable":
        return sparsity
    if over != "all":
        raise ValueError(f"over must be all or prunable, not {over!r}")
    total = sum(p.numel() for p in model.parameters())
    p_total = sum(m.numel() for m in masks.values())
    return min(1.0, 1 - ((1 - sparsity) * total - (total - p_total)) / p_total)


def sparse_model(weights: str | None, sparsity: float, mask: str, seed: int, over: str = "all"):
    """(model, masks, how): the model at >= ``sparsity`` (over all or the prunable parameters)."""
    if weights:
        model = load_compact(weights) if is_compact(read_metadata(weights)) else load_weights(weights)
    else:
        torch.manual_seed(seed)
        model = create_model("promptir-cpu")
    masks = masks_from_weights(model)
    if sparsity_of(model, masks, over) >= sparsity - 1e-6:
        return model.eval(), masks, "as loaded"
    rate = prunable_rate(model, masks, sparsity, over)
    masks = prune(mask, dict(model.named_parameters()), ones_masks(model), rate, seed)
    apply_masks(model, masks)
    return model.eval(), masks, f"one-shot {mask} {'magnitude ' if mask != 'random' else ''}pruning of {rate:.4f} " \
                                f"of the prunable weights"


def time_models(models: list, size: int, repeats: int) -> tuple[list[list[float]], float]:
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    models = [m.to(memory_format=torch.channels_last) for m in models]
    times: list[list[float]] = [[] for _ in models]
    with torch.inference_mode():
        outs = [m(x) for m in models]  # warm-up, and the outputs to compare
        for _ in range(repeats):
            for i, m in enumerate(models):
                t = time.perf_counter()
                m(x)
                times[i].append(time.perf_counter() - t)
    return times, float((outs[0] - outs[1]).abs().max())


def file_sizes(model, masks) -> dict:
    with tempfile.TemporaryDirectory() as d:
        dense, compact = Path(d) / "dense.safetensors", Path(d) / "compact.safetensors"
        save_weights(model, dense)
        save_compact(model, masks, compact)
        a, b = dense.stat().st_size, compact.stat().st_size
    return {"dense_bytes": a, "compact_bytes": b, "compact_ratio": b / a}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="dense or compact .safetensors (default: random promptir-cpu)")
    p.add_argument("--sparsity", type=float, default=0.9, help="sparsity of the stand-in")
    p.add_argument("--over", choices=["all", "prunable"], default="all",
                   help="sparsity over all parameters (the IMP target's default) or the prunable ones")
    p.add_argument("--mask", choices=["layerwise", "global", "random"], default="layerwise")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, masks, how = sparse_model(args.weights, args.sparsity, args.mask, args.seed, args.over)
    small, report = shrink(model)
    times, diff = time_models([model, small], args.size, args.repeats)
    dense_s, shrunk_s = min(times[0]), min(times[1])
    res = {"model": args.weights or "promptir-cpu (random weights)", "mask": how,
           "sparsity_prunable": sparsity_of(model, masks, "prunable"), "sparsity_all": sparsity_of(model, masks, "all"),
           "size": args.size, "threads": torch.get_num_threads(), "load_avg_1min": os.getloadavg()[0],
           "dense_s": dense_s, "shrunk_s": shrunk_s, "speedup": dense_s / shrunk_s, "times": times,
           "max_abs_diff": diff, **{k: v for k, v in report.items() if k != "blocks"}, **file_sizes(model, masks)}
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
