"""``restorelab grids …``: similarity, search, select, restore, and the commands that produce them.

    python -m restorelab grids descriptor --steps 5000            # train the SRResNet descriptor
    python -m restorelab grids similarity [--per-image]           # Set5 + Set14 by default
    python -m restorelab grids search [--delta 0.7] [--measure --steps 2000]
    python -m restorelab grids measure --groups 'singles;all'     # single-task + mix-all models
    python -m restorelab grids export [--from-search]             # group models -> weights/
    python -m restorelab grids calibrate --photos DIR             # OOD threshold
    python -m restorelab grids confusion --photos DIR             # selection accuracy
    python -m restorelab grids table --photos DIR                 # Table 1 (PSNR per task)
    python -m restorelab grids select IMG
    python -m restorelab grids restore IN OUT

Every sub-command takes ``--json``. Paths default to ``weights/grids/`` (see ``store``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from restorelab.errors import RestoreLabError
from restorelab.training.config import add_arguments, from_args, parse_bool

DATA = "../shared/datasets"


def _emit(args, data, human: str) -> None:
    print(json.dumps(data, indent=2) if args.json else human)


def _desc_cfg(args):
    from restorelab.grids.descriptor import DescriptorConfig

    return from_args(args, DescriptorConfig)


def _pipeline(sim):
    """The descriptor pipeline the similarity cache was computed with (selection must match it)."""
    from restorelab.grids import store

    return store.pipeline_config(sim)


def _similarity(args):
    from restorelab.grids import store

    return store.load_similarity(args.similarity)


def _groups(args):
    from restorelab.grids import store

    sim = _similarity(args)
    gf, groups = store.selection_groups(sim, args.groups, args.rule)
    return gf, groups, sim


def _descriptor(args, sim):
    """The descriptor, checked to be the one the similarity cache was computed with."""
    from restorelab.grids import store

    return store.load_descriptor_for(sim, args.descriptor)


# -- commands -----------------------------------------------------------------------------
def cmd_descriptor(args) -> None:
    from restorelab.grids import store
    from restorelab.grids.srresnet import DescriptorTrainConfig, train_descriptor

    cfg = from_args(args, DescriptorTrainConfig)
    out = args.out or store.path("descriptor")
    res = train_descriptor(cfg, args.run_dir, out, stop_after=args.stop_after,
                           log=(lambda s: None) if args.json else print)
    _emit(args, {**res, "out": str(out) if res["step"] >= cfg.steps else None},
          f"descriptor at step {res['step']} ({res['steps_per_s']:.2f} steps/s)" +
          (f" -> {out}" if res["step"] >= cfg.steps else ""))


def cmd_similarity(args) -> None:
    from restorelab.grids import similarity, store

    cache = args.cache or store.path("similarity")
    sim = similarity.compute(args.descriptor or store.path("descriptor"), args.photos, cache, _desc_cfg(args),
                             seed=args.seed, limit=args.limit, symmetric=args.symmetric, force=args.force,
                             per_image=args.per_image)
    head = " " * 15 + " ".join(f"{lab[:6]:>6}" for lab in sim.labels)
    rows = [f"{lab[:14]:14} " + " ".join(f"{v:6.2f}" for v in row) for lab, row in zip(sim.labels, sim.matrix)]
    _emit(args, {**sim.to_dict(), "cache": str(cache)},
          "\n".join([head, *rows, f"({sim.seconds:.1f} s; cached in {cache})"]))


def _group_models(args):
    from restorelab.grids.deltap import GroupModels, GroupTrainConfig

    return GroupModels(from_args(args, GroupTrainConfig), args.runs_dir, progress=not args.json,
                       log=(lambda s: None) if args.json else print)


def cmd_search(args) -> None:
    from restorelab.grids import store
    from restorelab.grids.deltap import GroupTrainConfig
    from restorelab.grids.search import DeltaCache, SearchConfig, search

    sim = _similarity(args)
    fn = _group_models(args) if args.measure else None
    cache = DeltaCache(args.deltap_cache or store.path("deltap"), fn,
                       from_args(args, GroupTrainConfig).protocol() if args.measure else None, args.max_measure)
    res = search(sim.tasks, sim.matrix, cache, SearchConfig(args.delta, args.tie_tol, args.prune_levels,
                                                            args.max_size))
    out = res.to_dict()
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    lines = [f"delta {res.delta} dB: {len(res.groups)} groups (L_max {res.l_max})"]
    lines += [f"  G{i + 1}: {', '.join(g)}  (dP {cache.known(g):.2f} dB)" if cache.known(g) is not None
              else f"  G{i + 1}: {', '.join(g)}" for i, g in enumerate(res.groups)]
    if res.unverified:
        lines.append(f"  {len(res.unverified)} group(s) not measured (counted as failing); add --measure")
    _emit(args, out, "\n".join(lines))


def cmd_measure(args) -> None:
    from restorelab.grids.tasks import TASKS, parse_tasks

    gm = _group_models(args)
    groups = []
    for spec in args.groups.split(";"):
        spec = spec.strip()
        if spec == "singles":
            groups += [(t,) for t in TASKS]
        elif spec == "all":
            groups.append(TASKS)
        elif spec == "paper":
            from restorelab.grids.tasks import PAPER_GROUPS

            groups += list(PAPER_GROUPS)
        elif spec:
            groups.append(parse_tasks(spec))
    res = {"+".join(g): gm.scores(g) for g in groups}
    _emit(args, res, "\n".join(f"{k}: " + ", ".join(f"{t} {v:.2f}" for t, v in r.items()) for k, r in res.items()))


def cmd_export(args) -> None:
    from restorelab.grids import store
    from restorelab.grids.deltap import export_group
    from restorelab.grids.tasks import TASKS

    gf = store.load_groups(args.groups)
    if args.from_search:
        found = json.loads(Path(args.from_search).read_text())
        gf = store.GroupsFile(found["groups"], source=f"search {args.from_search}", search=found.get("config", {}))
    gf.set_rule(args.rule)  # a new rule needs a new calibration
    gm = _group_models(args)
    extra = {"commands": args.command, "source": gf.source}
    names = []
    for i, g in enumerate(gf.groups):
        name = f"{args.prefix}-g{i + 1}" if len(g) < 11 else f"{args.prefix}-mixall"
        export_group(gm, tuple(g), name, extra=extra)
        names.append(name)
    gf.models = names
    gf.save(Path(args.groups) if args.groups else store.path("groups"))
    out = {"groups": gf.groups, "models": names, "baseline": None}
    if (gm.run_dir(TASKS) / "final.safetensors").exists() and f"{args.prefix}-mixall" not in names:
        export_group(gm, TASKS, f"{args.prefix}-mixall", extra={**extra, "role": "mix-all baseline"})
        out["baseline"] = f"{args.prefix}-mixall"
    _emit(args, out, "\n".join(f"{n}: {', '.join(g)}" for n, g in zip(names, gf.groups))
          + (f"\n{out['baseline']}: all 11 (baseline)" if out["baseline"] else ""))


def _photos(args):
    from restorelab.grids.similarity import load_photos

    return load_photos(args.photos, args.limit, args.last)[1]


def _command(args) -> str:
    import shlex

    return "python -m restorelab " + shlex.join(getattr(args, "argv", None) or [])


def _groups_path(args) -> Path:
    from restorelab.grids import store

    return Path(args.groups) if args.groups else store.path("groups")


def cmd_calibrate(args) -> None:
    from restorelab.grids import store

    gf, groups, sim = _groups(args)
    model, photos, cfg = _descriptor(args, sim), _photos(args), _pipeline(sim)
    if args.score == "distance":  # the paper's: the smallest group distance
        from restorelab.grids.select import calibrate

        res = calibrate(model, photos, groups, cfg, args.quantile)
        gf.threshold = res["threshold"]
        gf.calibration = {"score": "distance", **{k: v for k, v in res.items() if k != "min_distances"}}
    else:  # per-task Gaussians over feature statistics (restorelab.grids.ood)
        from restorelab.grids import ood
        from restorelab.grids.similarity import file_hash

        def tick(done, total):  # to stderr under --json, so the JSON on stdout stays clean
            if done % 50 == 0:
                print(f"  {done}/{total} degraded photos described", flush=True,
                      file=sys.stderr if args.json else sys.stdout)

        v = ood.degraded_vectors(model, photos, cfg, progress=tick)
        m, oof = ood.calibrate(v["vectors"], v["labels"], v["photo"], args.quantile, args.folds, args.shrink)
        out = store.ood_path(_groups_path(args))
        m.meta.update(descriptor=file_hash(args.descriptor or store.path("descriptor")), config=cfg.to_dict(),
                      photos=args.photos, limit=args.limit, last=args.last, command=_command(args))
        m.save(out)
        res = {"threshold": m.threshold, "quantile": args.quantile, "n": len(oof), "folds": args.folds,
               "shrink": args.shrink, "false_alarm_rate_out_of_fold": float((oof > m.threshold).mean()),
               "scores": [round(float(x), 4) for x in oof], "file": os.path.relpath(out)}
        gf.threshold = m.threshold
        gf.calibration = {"score": "feature", "file": out.name,
                          **{k: res[k] for k in ("threshold", "quantile", "n", "folds", "shrink")}}
    gf.calibration.update(photos=args.photos, command=_command(args))
    gf.save(_groups_path(args))
    res.update(rule=gf.rule, score=args.score)
    _emit(args, {k: v for k, v in res.items()},
          f"OOD threshold {res['threshold']:.3f} ({args.score} score"
          + (f", rule {gf.rule}" if args.score == "distance" else f", written to {res.get('file')}")
          + f"; quantile {args.quantile} of {res['n']} held-out cases)")


def cmd_confusion(args) -> None:
    from restorelab.grids import store
    from restorelab.grids.select import confusion

    gf, groups, sim = _groups(args)
    model, photos, cfg = _descriptor(args, sim), _photos(args), _pipeline(sim)
    oodm = store.load_ood(gf, sim, _groups_path(args), args.descriptor)
    res = confusion(model, photos, groups, cfg, threshold=gf.threshold, task_ggds=sim.reference_ggds, ood=oodm)
    res["rule"] = gf.rule
    res["command"] = _command(args)
    if args.ood:
        from restorelab.grids.select import ood_rate

        if gf.threshold is None:
            raise RestoreLabError(f"no OOD threshold for rule {gf.rule!r} in the groups file; "
                                  f"run `restorelab grids calibrate --rule {gf.rule}` first")
        res["ood_rates"] = {d: ood_rate(model, photos, groups, cfg, gf.threshold, d, ood=oodm)
                            for d in args.ood.split(",") if d.strip()}
    lines = [f"{'task':16} " + " ".join(f"{n:>5}" for n in groups.names) + "   acc"]
    lines += [f"{t:16} " + " ".join(f"{res['counts'][t][n]:5d}" for n in groups.names) + f"  {a:.2f}"
              for t, a in res["accuracy"].items()]
    lines.append(f"mean accuracy {res['mean_accuracy']:.3f}, min {res['min_accuracy']:.3f}")
    lines.append(f"descriptor alone: nearest to its own degradation's GGD (11-way) "
                 f"{res['mean_task_accuracy']:.3f} of the time; that nearest one is in the right group "
                 f"{res['mean_member_accuracy']:.3f} of the time")
    if "false_alarm_rate" in res:
        lines.append(f"in-distribution cases flagged out-of-distribution ({res['ood_method']} score): "
                     f"{res['false_alarm_rate']:.3f}")
    if "mean_feature_accuracy" in res:
        lines.append(f"nearest task Gaussian of the OOD model in the right group (rule feature): "
                     f"{res['mean_feature_accuracy']:.3f}")
    lines += [f"{d}: {r['rate']:.2f} flagged out-of-distribution" for d, r in res.get("ood_rates", {}).items()]
    _emit(args, res, "\n".join(lines))


def cmd_table(args) -> None:
    from restorelab.grids.deltap import input_psnr, psnr_table
    from restorelab.grids.tasks import TASKS
    from restorelab.inference import load_model

    from restorelab.grids import store

    gm = _group_models(args)
    photos = _photos(args)
    gf = store.load_groups(args.groups)
    rows = {"input": input_psnr(photos)}
    rows["single-task"] = psnr_table(lambda t: load_model(str(gm.weights((t,)))), photos)
    rows["mix-all"] = psnr_table(lambda t: load_model(str(gm.weights(TASKS))), photos)
    group_of = {t: tuple(g) for g in gf.groups for t in g}
    missing = [t for t in TASKS if t not in group_of]
    if missing:
        raise RestoreLabError(f"task(s) {', '.join(missing)} are in no group of the groups file")
    rows["GRIDS"] = psnr_table(lambda t: load_model(str(gm.weights(group_of[t]))), photos)
    for r in rows.values():
        r["avg"] = sum(r[t] for t in TASKS) / len(TASKS)
    lines = ["| model | " + " | ".join(TASKS) + " | avg |", "|---" * (len(TASKS) + 2) + "|"]
    lines += [f"| {k} | " + " | ".join(f"{r[t]:.2f}" for t in [*TASKS, "avg"]) + " |" for k, r in rows.items()]
    _emit(args, rows, "\n".join(lines))


def cmd_select(args) -> None:
    from restorelab.grids.select import select
    from restorelab.io import load_image

    from restorelab.grids import store

    gf, groups, sim = _groups(args)
    s = select(load_image(args.image), _descriptor(args, sim), groups, _pipeline(sim), gf.threshold, seed=args.seed,
               ood=store.load_ood(gf, sim, _groups_path(args), args.descriptor))
    lines = [f"{n}: {d:.3f}  ({', '.join(m)})" for n, d, m in zip(groups.names, s.distances.values(), groups.members)]
    lines.append(f"chosen {s.group} ({', '.join(s.tasks)}), distance {s.distance:.3f}"
                 + (f"; OOD score {s.ood_score:.3f} ({s.ood_method}) vs threshold {s.threshold:.3f}"
                    if s.threshold is not None else "")
                 + ("  OUT OF DISTRIBUTION" if s.ood else ""))
    _emit(args, s.to_dict(), "\n".join(lines))


def cmd_restore(args) -> None:
    from restorelab.grids.select import select
    from restorelab.inference import load_model, restore
    from restorelab.io import load_image, save_png

    from restorelab.grids import store

    gf, groups, sim = _groups(args)
    img = load_image(args.input)
    s = select(img, _descriptor(args, sim), groups, _pipeline(sim), gf.threshold, seed=args.seed,
               ood=store.load_ood(gf, sim, _groups_path(args), args.descriptor))
    if not s.model:
        raise RestoreLabError(f"group {s.group} has no model; run `restorelab grids export` first")
    save_png(args.output, restore(load_model(s.model), img))
    _emit(args, {**s.to_dict(), "output": str(args.output)},
          f"{s.group} ({', '.join(s.tasks)}, distance {s.distance:.3f}{', OOD' if s.ood else ''}) "
          f"with {s.model} -> {args.output}")


# -- parser -------------------------------------------------------------------------------
def add_parser(subparsers) -> None:
    """Register ``grids`` and its sub-commands (each sets ``fn``) on an argparse sub-parser set."""
    from restorelab.grids.deltap import GroupTrainConfig
    from restorelab.grids.descriptor import DescriptorConfig
    from restorelab.grids.select import RULES
    from restorelab.grids.srresnet import DescriptorTrainConfig

    top = subparsers.add_parser("grids", help="GRIDS: degradation similarity, grouping, model selection")
    sub = top.add_subparsers(dest="grids_command", required=True)

    def add(name, fn, help_, *, desc=False, sim=False, groups=False, rule=False, train=False, photos=False):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.set_defaults(fn=fn)
        if desc:  # the pipeline settings come from the similarity cache, except for `similarity` itself
            sp.add_argument("--descriptor", type=Path, default=None, help="default weights/grids/descriptor.safetensors")
            sp.add_argument("--seed", type=int, default=0, help="patch sampling seed")
        if sim:
            sp.add_argument("--similarity", type=Path, default=None, help="default weights/grids/similarity.json")
        if groups:
            sp.add_argument("--groups", type=Path, default=None,
                            help="groups file (default weights/grids/groups.json, else the paper's 4 groups)")
        if rule:
            sp.add_argument("--rule", choices=RULES, default=None,
                            help="group distance: the paper's averaged GGD, the closest member, or (not the "
                                 "paper's) the group of the OOD model's nearest task Gaussian (default: the "
                                 "groups file's; calibrate and export save it there)")
        if train:
            sp.add_argument("--runs-dir", type=Path, default=Path("runs/grids"),
                            help="where the group-model training runs live (default: runs/grids)")
            add_arguments(sp.add_argument_group("group-model training"), GroupTrainConfig)
        if photos:
            sp.add_argument("--photos", required=True, help="folder(s) of clean photos, comma-separated")
            sp.add_argument("--limit", type=int, default=None, help="the first N photos only")
            sp.add_argument("--last", type=int, default=None,
                            help="the last N photos only (before --limit), e.g. the end of a training folder")
        return sp

    sp = add("descriptor", cmd_descriptor, "train the SRResNet x4 descriptor (resumable)")
    add_arguments(sp, DescriptorTrainConfig)
    sp.add_argument("--run-dir", type=Path, default=Path("runs/grids-descriptor"),
                    help="training run directory; rerun to resume (default: runs/grids-descriptor)")
    sp.add_argument("--out", type=Path, default=None,
                    help="where the finished descriptor goes (default weights/grids/descriptor.safetensors)")
    sp.add_argument("--stop-after", type=int, default=None, help="stop after N more steps (resume later)")

    sp = add("similarity", cmd_similarity, "the 11x11 degradation similarity matrix (cached)", desc=True)
    add_arguments(sp.add_argument_group("descriptor pipeline"), DescriptorConfig)
    sp.add_argument("--photos", default=f"{DATA}/test/sr/Set5,{DATA}/test/sr/Set14",
                    help="folder(s) of clean photos, comma-separated (default: Set5 and Set14)")
    sp.add_argument("--limit", type=int, default=None, help="the first N photos only")
    sp.add_argument("--cache", type=Path, default=None, help="default weights/grids/similarity.json")
    sp.add_argument("--symmetric", action="store_true", help="mean of both KL directions")
    sp.add_argument("--force", action="store_true", help="recompute even if the cache matches")
    sp.add_argument("--per-image", action="store_true",
                    help="also store per-photo (self-augmented) task GGDs as the selection references")

    sp = add("search", cmd_search, "grouping search (Algorithm 1) on the cached matrix and dP values",
             sim=True, train=True)
    sp.add_argument("--delta", type=float, default=0.7,
                    help="largest performance drop dP (dB) a group may cost any of its tasks (default: 0.7)")
    sp.add_argument("--tie-tol", type=float, default=0.05,
                    help="candidate groups whose mean distances fall in the same bin of this width are ordered "
                         "by variance (default: 0.05)")
    sp.add_argument("--prune-levels", type=parse_bool, default=True, metavar="BOOL",
                    help="skip group sizes that cannot beat the best partition found so far (default: true)")
    sp.add_argument("--deltap-cache", type=Path, default=None, help="default weights/grids/deltap.json")
    sp.add_argument("--measure", action="store_true", help="train models for unmeasured groups (slow)")
    sp.add_argument("--max-size", type=int, default=0, help="largest group size considered (0 = all tasks)")
    sp.add_argument("--max-measure", type=int, default=None,
                    help="with --measure: train at most this many new group models; later unknown groups fail")
    sp.add_argument("--out", type=Path, default=None, help="write the result JSON here")

    sp = add("measure", cmd_measure, "train and score group models", train=True)
    sp.add_argument("--groups", default="singles;all", help="';'-separated: singles, all, paper, or t1,t2,...")

    sp = add("export", cmd_export, "copy group models to weights/ and record them in the groups file",
             groups=True, rule=True, train=True)
    sp.add_argument("--from-search", default=None, help="a search result JSON (else the groups file)")
    sp.add_argument("--prefix", default="grids", help="model names: PREFIX-g1, PREFIX-g2, …, PREFIX-mixall")
    sp.add_argument("--command", action="append", default=[],
                    help="the exact command(s) that made the models (measure, search), for the cards")

    sp = add("calibrate", cmd_calibrate, "fit the OOD model and calibrate its threshold on held-out photos",
             desc=True, sim=True, groups=True, rule=True, photos=True)
    sp.add_argument("--score", choices=("feature", "distance"), default="feature",
                    help="feature: nearest-task Mahalanobis distance of feature statistics, model written to "
                         "ood.safetensors beside the groups file (default); distance: the paper's smallest "
                         "group distance")
    sp.add_argument("--quantile", type=float, default=0.99,
                    help="the threshold is this quantile of the held-out cases' scores (default: 0.99)")
    sp.add_argument("--folds", type=int, default=4,
                    help="feature score: the held-out photos are scored out-of-fold, N folds (default: 4)")
    sp.add_argument("--shrink", type=float, default=0.5,
                    help="feature score: covariance shrinkage towards its diagonal, 0..1 (default: 0.5)")
    add("confusion", cmd_confusion, "selection confusion matrix on test photos", desc=True, sim=True,
        groups=True, rule=True, photos=True).add_argument("--ood", default="", help="also the OOD-flag rate of these "
                                                "core degradations, e.g. haze,rain")
    add("table", cmd_table, "Table 1: PSNR per task of single-task, mix-all and group models",
        groups=True, train=True, photos=True)

    sp = add("select", cmd_select, "pick the group (and model) for an image", desc=True, sim=True, groups=True,
             rule=True)
    sp.add_argument("image", help="the degraded image")
    sp = add("restore", cmd_restore, "select the group, restore with its model", desc=True, sim=True, groups=True,
             rule=True)
    sp.add_argument("input", help="the degraded image")
    sp.add_argument("output", help="the output PNG")


def main(argv=None) -> int:
    """Stand-alone entry (tests): ``restorelab.cli`` wires ``add_parser`` into the main parser."""
    import sys

    p = argparse.ArgumentParser(prog="restorelab")
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args.fn(args)
    except RestoreLabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
