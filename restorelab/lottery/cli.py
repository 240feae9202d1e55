"""``restorelab prune`` (MIR-L and its baselines, resumable) and ``restorelab export`` (compact file + card).

    python -m restorelab prune --strategy global --rate 0.2 --target 0.9 --steps-per-round 2000 \\
        --dense-run runs/aio-cpu --run-dir runs/mirl-g
    python -m restorelab prune --strategy oneshot-magnitude --amount 0.7 --dense-run runs/aio-cpu --run-dir runs/osm2
    python -m restorelab prune --strategy reinit --ticket-run runs/mirl-g --run-dir runs/mirl-g-reinit
    python -m restorelab prune --strategy global --score lamp --prune-prompts true --dense-run real-cpu \\
        --rewind-step -1 --teacher real-cpu --run-dir runs/real-g-lamp-pp
    python -m restorelab prune --strategy finetune --ticket-run real-g-lamp --teacher real-cpu --steps 18000 \\
        --run-dir runs/real-g-lamp-kd
    python -m restorelab export --run-dir runs/mirl-g --name mirl-g-cpu

Without ``--dense-run``, IMP trains the dense model itself in ``round_00`` from the training
flags (``--model``, ``--steps``, …, as ``restorelab train``); with it (a run directory, or a shipped
dense model's name: its weights and its card's training config), training flags given on
the command line override the dense run's config (for ``reinit``, the ticket run's; e.g.
``--threads``). Rerunning the same command resumes. ``--json`` prints one JSON object per
finished round (the per-layer report stays in ``round_XX/sparsity.json``).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from restorelab.errors import RestoreLabError
from restorelab.training.config import add_arguments

STRATEGIES = ("global", "layerwise", "channels", "oneshot-magnitude", "oneshot-random", "reinit", "finetune")


def add_parser(subparsers) -> None:
    """Register ``prune`` and ``export`` on an argparse sub-parser set (each sets ``fn``)."""
    from restorelab.lottery.imp import LotteryConfig
    from restorelab.training import TrainConfig

    sp = subparsers.add_parser("prune", help="lottery-ticket pruning (MIR-L) and its baselines; resumable")
    sp.add_argument("--json", action="store_true", help="one JSON object per finished round")
    sp.add_argument("--strategy", choices=STRATEGIES, default="global",
                    help="global | layerwise: iterative magnitude pruning (MIR-L); channels: structured IMP "
                         "(whole channels leave: a smaller, faster dense network); oneshot-magnitude | "
                         "oneshot-random | reinit: the baselines; finetune: train a finished ticket further under "
                         "its own mask, e.g. with --teacher (default: global)")
    sp.add_argument("--run-dir", required=True, type=Path, help="run directory; rerun the same command to resume")
    sp.add_argument("--dense-run", type=Path, default=None,
                    help="finished dense run, or a shipped dense model's name (one-shot: required)")
    sp.add_argument("--ticket-run", type=Path, default=None,
                    help="reinit: the IMP run whose final mask is used; finetune: that, or a shipped pruned model's name")
    sp.add_argument("--stop-after", type=int, default=None, help="stop after N training steps (resume later)")
    g = sp.add_argument_group("IMP (global, layerwise, channels)")
    add_arguments(g, LotteryConfig, skip=("strategy",))
    g = sp.add_argument_group("one-shot and re-init baselines")
    g.add_argument("--amount", type=float, default=0.3, help="one-shot: fraction removed (I: 0.3, II: 0.7)")
    g.add_argument("--finetune-frac", type=float, default=0.05, help="one-shot: fine-tuning steps / dense steps")
    g.add_argument("--finetune-lr", type=float, default=0.0, help="one-shot: fine-tuning LR (0 = dense LR)")
    g.add_argument("--prune-seed", type=int, default=1, help="random pruning / re-init seed")
    g.add_argument("--reinit-steps", type=int, default=0, help="re-init: training steps (0 = the final round's budget)")
    add_arguments(sp.add_argument_group("dense training (as `restorelab train`): the dense model's config without "
                                        "--dense-run; with it, flags given override the dense run's config"),
                  TrainConfig, suppress=True)
    sp.set_defaults(fn=cmd_prune)

    sp = subparsers.add_parser("export", help="write a pruned run's model as a compact file + card into weights/")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.add_argument("--run-dir", required=True, type=Path, help="an IMP run, a baseline run or a round directory")
    sp.add_argument("--round", type=int, default=None, help="IMP round (default: the last finished)")
    sp.add_argument("--name", required=True, help="model name: weights/NAME.safetensors and NAME.json")
    sp.add_argument("--weights-dir", type=Path, default=None, help="default: the project's weights/")
    sp.add_argument("--command", action="append", help="the exact command(s) that made the run, for the card")
    sp.set_defaults(fn=cmd_export)


# -- prune ------------------------------------------------------------------------------
def _given_train_flags(args) -> dict:
    from restorelab.training import TrainConfig

    return {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}


def _train_config(args):
    from restorelab.training import TrainConfig

    given = _given_train_flags(args)
    if args.dense_run is None:
        return TrainConfig(**given)
    base = TrainConfig.load(args.dense_run / "config.json")
    if "model" in given and given["model"] != base.model:
        raise RestoreLabError(f"--model {given['model']} differs from the dense run's {base.model}")
    return TrainConfig.from_dict({**base.to_dict(), **given})


def _line(rec: dict) -> str:
    psnr = rec.get("val_mean_psnr")
    name = rec.get("name") or f"round {rec.get('round', 0):2d}"
    return (f"{name:16} {rec.get('kind', ''):18} sparsity {100 * rec['sparsity']:5.1f}% "
            f"(prunable {100 * rec['prunable_sparsity']:5.1f}%)  non-zero {rec['nonzero_params']:>11,} "
            f"of {rec['total_params']:,}" + (f"  val PSNR {psnr:.2f} dB" if psnr is not None else ""))


def _emit(args, rec: dict) -> None:
    if args.json:
        print(json.dumps({k: v for k, v in rec.items() if k != "layers"}), flush=True)
    else:
        print(_line(rec), flush=True)


def cmd_prune(args) -> None:
    from restorelab.lottery import baselines
    from restorelab.lottery.imp import IMP, IMP_STRATEGIES, LotteryConfig

    progress = not args.json
    if args.dense_run is not None:
        args.dense_run = baselines.dense_run_of(args.dense_run, args.run_dir)
    if args.strategy in IMP_STRATEGIES:
        lottery = LotteryConfig(strategy=args.strategy, **{f.name: getattr(args, f.name)
                                                          for f in fields(LotteryConfig) if f.name != "strategy"})
        imp = IMP(lottery, args.run_dir, train=_train_config(args), dense_run=args.dense_run, progress=progress)
        for rec in imp.run(stop_after=args.stop_after):
            _emit(args, rec)
        stopped = imp.stopped
    else:
        cfg = baselines.BaselineConfig(kind=args.strategy, amount=args.amount, finetune_frac=args.finetune_frac,
                                       finetune_lr=args.finetune_lr, seed=args.prune_seed,
                                       reinit_steps=args.reinit_steps,
                                       keep_norms_dense=args.keep_norms_dense)
        if args.strategy in ("reinit", "finetune"):
            if args.ticket_run is None:
                raise RestoreLabError(f"--strategy {args.strategy} needs --ticket-run (a finished IMP run)")
            run = baselines.run_reinit if args.strategy == "reinit" else baselines.run_finetune
            rec = run(cfg, args.ticket_run, args.run_dir, progress=progress, stop_after=args.stop_after,
                      overrides=_given_train_flags(args))
        else:
            if args.dense_run is None:
                raise RestoreLabError(f"--strategy {args.strategy} needs --dense-run (a trained dense model)")
            rec = baselines.run_oneshot(cfg, args.dense_run, args.run_dir, progress=progress,
                                        stop_after=args.stop_after, train=_train_config(args))
        if rec is not None:
            _emit(args, rec)
        stopped = rec is None
    if stopped:
        msg = f"stopped; rerun the same command to resume {args.run_dir}"
        print(json.dumps({"stopped": True, "run_dir": str(args.run_dir)}) if args.json else msg, flush=True)


# -- export -----------------------------------------------------------------------------
def cmd_export(args) -> None:
    from restorelab.lottery.export import export

    card = export(args.run_dir, args.name, round_=args.round, weights_dir=args.weights_dir, commands=args.command)
    if args.json:
        print(json.dumps({k: v for k, v in card.items() if k != "layers"}, indent=2))
    else:
        print(f"wrote {card['weights']} ({card['file_bytes']:,} bytes, {100 * card['sparsity']:.1f}% sparse, "
              f"{card['nonzero_params']:,} of {card['params']:,} non-zero) and its card {card['card']}")
