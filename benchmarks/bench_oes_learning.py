"""How OES mask learning converges: the KL weight, the steps, and what the top-k mask keeps.

    PYTHONPATH=. python benchmarks/bench_oes_learning.py learn TAG --kl-weight 1e-7 --steps 20000 > log.jsonl
    PYTHONPATH=. python benchmarks/bench_oes_learning.py fit LOGITS.pt [...] --steps 1500 --dev 2

``learn``: OES (every parameter masked, 5%) on the centre 128² crop of the first BSDS500 training
photo at σ 25, one thread, as ``oes learn-mask`` does (same loop, same draws); every ``--every``
steps one JSON line: the mean and spread of the logits, the mean Bernoulli probability, the PSNR
of the sampled masked network against the noisy image (last 50 steps), and how many BatchNorm
scales the global top-k keeps (a pruned scale silences its channel). The logits are saved beside
(``--out-dir``/logits-TAG-STEP.pt). ``fit``: the top-k 5% mask of saved logits, trained as
Sparse-DIP for ``--steps`` on development crops (training photos 2, 3, …: not the one the mask was
learned on) or, with ``--test N``, the first N CBSD68 crops. (Numbers in docs/oes.md.)
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restorelab.io import load_image  # noqa: E402
from restorelab.oes._common import add_noise  # noqa: E402
from restorelab.oes.cli import centre_crop  # noqa: E402
from restorelab.oes.learn import LearnConfig, MaskLearner  # noqa: E402
from restorelab.oes.sparse_dip import fit  # noqa: E402
from restorelab.pruning import topk_mask  # noqa: E402

TRAIN = "../shared/datasets/train/clean"


def _photos(first: int, n: int, size: int = 128):
    paths = sorted(glob.glob(f"{TRAIN}/*"))[first:first + n]
    return [(Path(p).stem, add_noise(centre_crop(load_image(p), size), 25, seed=i), centre_crop(load_image(p), size))
            for i, p in enumerate(paths)]


def cmd_learn(a) -> None:
    torch.set_num_threads(1)
    _, noisy, _ = _photos(0, 1)[0]
    learner = MaskLearner(noisy, LearnConfig(preset="lean", density=a.density, steps=a.steps, lr=a.lr, seed=0,
                                             threads=1, scope="all", kl_weight=a.kl_weight))
    bn = [f"{n}.weight" for n, m in learner.net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    t0 = time.time()
    for done in range(a.every, a.steps + 1, a.every):
        learner.run(a.every)
        masks = learner.final_masks()
        flat = torch.cat([l.detach().flatten() for l in learner.logits.values()])
        print(json.dumps({"step": done, "s": round(time.time() - t0),
                          "psnr_noisy_sampled": round(-10 * math.log10(sum(learner.mse[-50:]) / 50), 2),
                          "bn_kept": sum(int(masks[b].sum()) for b in bn), "bn_total": sum(masks[b].numel() for b in bn),
                          "logit_mean": round(float(flat.mean()), 3), "logit_std": round(float(flat.std()), 3),
                          "mean_prob": round(learner.mean_prob[-1], 4)}), flush=True)
        a.out_dir.mkdir(parents=True, exist_ok=True)
        torch.save({n: l.detach() for n, l in learner.logits.items()}, a.out_dir / f"logits-{a.tag}-{done}.pt")


def cmd_fit(a) -> None:
    from benchmarks.bench_oes import crops

    torch.set_num_threads(1)
    images = crops(a.test, size=128) if a.test else _photos(1, a.dev)
    for f in a.logits:
        masks = topk_mask(torch.load(f, weights_only=True), a.density)
        for name, noisy, clean in images:
            r = fit(noisy, steps=a.steps, preset="lean", masks=masks, clean=clean, lr=0.01, seed=0).summary()
            print(json.dumps({"logits": str(f), "image": name, **{k: r[k] for k in ("final_psnr", "peak_psnr",
                                                                                       "peak_step")}}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    sp = sub.add_parser("learn")
    sp.add_argument("tag", help="name of this run in the saved logits' file names")
    sp.add_argument("--kl-weight", type=float, default=1e-9, help="weight of the summed KL (reference 1e-9)")
    sp.add_argument("--lr", type=float, default=0.01, help="Adam lr of the logits (reference 0.01)")
    sp.add_argument("--density", type=float, default=0.05, help="target density")
    sp.add_argument("--steps", type=int, default=20000, help="learning steps")
    sp.add_argument("--every", type=int, default=1000, help="log and save every N steps")
    sp.add_argument("--out-dir", type=Path, default=Path("runs/oes-learning"), help="where the logits go")
    sp.set_defaults(fn=cmd_learn)
    sp = sub.add_parser("fit")
    sp.add_argument("logits", nargs="+", type=Path, help="saved logits (learn's .pt files)")
    sp.add_argument("--steps", type=int, default=1500, help="Sparse-DIP steps")
    sp.add_argument("--density", type=float, default=0.05, help="top-k density")
    sp.add_argument("--dev", type=int, default=2, help="development crops: training photos 2 .. N+1")
    sp.add_argument("--test", type=int, default=0, help="instead, the first N CBSD68 crops")
    sp.set_defaults(fn=cmd_fit)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
