"""How the `promptir-cpu` preset was chosen: fast-path training it/s (batch 8, 64²) and seconds per
512² image for a few CPU candidates, measured side by side in one run.

    python benchmarks/bench_presets.py > out.json
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from restorelab.benchmark import _infer_time, _train_step_time  # noqa: E402
from restorelab.models import count_params, create_model  # noqa: E402

CANDIDATES = {
    "dim16 b1122 r0 ffn2.0": dict(dim=16, num_blocks=(1, 1, 2, 2), num_refinement_blocks=0, heads=(1, 2, 2, 4),
                                  ffn_expansion_factor=2.0, prompt_dims=(16, 32, 64), prompt_sizes=(16, 16, 8)),
    "dim16 b1233 r1": dict(dim=16, num_blocks=(1, 2, 3, 3), num_refinement_blocks=1, heads=(1, 2, 4, 4),
                           prompt_dims=(16, 32, 64), prompt_sizes=(16, 16, 8)),
    "dim24 b1233 r0 ffn2.0": dict(dim=24, num_blocks=(1, 2, 3, 3), num_refinement_blocks=0, heads=(1, 2, 4, 4),
                                  ffn_expansion_factor=2.0, prompt_dims=(24, 48, 96), prompt_sizes=(16, 16, 8)),
    "promptir-cpu (dim12 b1234 r0)": {},
}

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--size", type=int, default=512)
    a = p.parse_args()
    torch.set_num_threads(2)
    rows = []
    for label, over in CANDIDATES.items():
        torch.manual_seed(0)
        model = create_model("promptir-cpu", **over).to(memory_format=torch.channels_last)
        x = torch.rand(8, 3, 64, 64).contiguous(memory_format=torch.channels_last)
        y = torch.rand(8, 3, 64, 64).contiguous(memory_format=torch.channels_last)
        train_s = _train_step_time(model.train(), x, y, steps=a.steps, fused=True)
        img = torch.rand(1, 3, a.size, a.size).contiguous(memory_format=torch.channels_last)
        infer_s = _infer_time(model.eval(), img, fast=True, repeats=2)
        rows.append({"candidate": label, "params": count_params(model)[0], "train_it_s": 1 / train_s,
                     f"infer_{a.size}_s": infer_s})
    print(json.dumps({"benchmark": "presets", "threads": 2, "rows": rows}, indent=2))
