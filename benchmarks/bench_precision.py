"""Does bf16 mixed-precision training learn as well as float32? The same run, three ways.

    python benchmarks/bench_precision.py [--model promptir-cpu] [--steps 3000] [--runs-dir runs/precision]
        [--data ../shared/datasets] > benchmarks/results/precision.json

Trains ``--model`` with ``restorelab train``'s defaults except the schedule below: ``fp32``
(the default path), ``bf16`` (``--precision bf16``) and ``fp32-one-graph`` (``--batch-threads 1``:
the same float32 maths as ``fp32``, its sums rounded in another order). Same seed, θ0, batches and
validation photos; the third run shows how far two float32 runs drift apart from rounding alone,
the yardstick for the bf16 difference. Each run lives in ``<runs-dir>/<name>`` and resumes if
killed (run the command again). Prints the validation PSNR/SSIM per task at every ``--val-every``
steps of each run and the final differences to ``fp32`` (RGB, [0,1], 128² centre crops of the 8
held-out photos).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.training import TrainConfig, Trainer  # noqa: E402
from restorelab.training.precision import native_bf16  # noqa: E402


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="promptir-cpu")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup-steps", type=int, default=300)
    p.add_argument("--runs-dir", default="runs/precision")
    p.add_argument("--data", default="../shared/datasets")
    a = p.parse_args(argv)
    if a.steps < 1 or a.val_every < 1:
        p.error("--steps and --val-every must be >= 1")
    if not (Path(a.data) / "train/clean").is_dir():
        p.error(f"no {a.data}/train/clean (clean training photos)")
    runs = {}
    for name, change in [("fp32", {}), ("bf16", {"precision": "bf16"}), ("fp32-one-graph", {"batch_threads": 1})]:
        cfg = TrainConfig(model=a.model, data_dir=f"{a.data}/train/clean", steps=a.steps, lr=a.lr,
                          warmup_steps=a.warmup_steps, val_every=a.val_every, **change)
        run_dir = Path(a.runs_dir) / name
        Trainer(cfg, run_dir, progress=sys.stderr.isatty()).train()
        log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
        # the last validation at each step (a resumed run may have validated a step twice)
        val = {r["step"]: r for r in log if "val" in r}
        runs[name] = {"config": cfg.to_dict(),
                           "val": [{"step": s, "mean_psnr": r["val_mean_psnr"], "per_task": r["val"]}
                                   for s, r in sorted(val.items())],
                           "train_wall_s": sum(r["wall_s"] for r in log if r.get("event") == "stopped")}
    end = {k: v["val"][-1] for k, v in runs.items()}
    res = {"benchmark": "precision", "model": a.model, "steps": a.steps, "native_bf16": native_bf16(),
           "runs": runs,
           "final_mean_psnr": {k: e["mean_psnr"] for k, e in end.items()},
           "minus_fp32": {k: {t: {m: e["per_task"][t][m] - end["fp32"]["per_task"][t][m] for m in ("psnr", "ssim")}
                              for t in e["per_task"]}
                          for k, e in end.items() if k != "fp32"}}
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
