"""``python -m restorelab …``: human text by default, ``--json`` for machines.

Every user error (bad path, bad image, unknown name) ends with exit code 2 and one line
``error: …`` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from restorelab.errors import RestoreLabError
from restorelab.paths import DEFAULT_MODEL, DEFAULT_TICKET


def _add_self_ensemble(sp) -> None:
    sp.add_argument("--self-ensemble", type=int, default=1, choices=(1, 4, 8), metavar="N",
                    help="the model's mean output over N transforms of each image, N times slower: 8 = all "
                         "flips/rotations (helps denoising and dehazing most, hurts deraining), "
                         "4 = flips and the half turn (helps every task we score); see docs/mirl.md")


def _add_device(sp) -> None:
    sp.add_argument("--device", default="cpu", metavar="DEVICE",
                    help="where the networks run: cpu (default: reproducible results), cuda, cuda:N, or auto "
                         "(CUDA when present, else the CPU); nlm and bm3d always run on the CPU")


def _emit(args, data, human: str) -> None:
    print(json.dumps(data, indent=2) if args.json else human)


# -- models -----------------------------------------------------------------------------
def cmd_models(args) -> None:
    from restorelab.inference.catalog import list_models

    rows = list_models()
    lines = [f"{'name':22} {'family':9} {'kind':11} {'preset':16} {'params':>11} {'non-zero':>11}  tasks"]
    for r in rows:
        lines.append(f"{r['name']:22} {r['family']:9} {r['kind']:11} {r['preset']:16} {r['params']:>11,} "
                     f"{r['nonzero_params']:>11,}  {','.join(r['tasks']) or '-'}")
    _emit(args, rows, "\n".join(lines))


# -- train ------------------------------------------------------------------------------
def cmd_train(args) -> None:
    from restorelab.training import TrainConfig, Trainer, from_args, setup_distributed, teardown_distributed

    cfg = from_args(args, TrainConfig)
    setup_distributed()
    try:
        trainer = Trainer(cfg, args.run_dir, progress=not args.json)
        trainer.train(stop_after=args.stop_after)
        if args.rank_weights:
            from restorelab.inference import save_weights

            save_weights(trainer.model, Path(args.run_dir) / f"rank{trainer.rank}.safetensors")
    except BaseException:
        teardown_distributed(wait=False)
        raise
    teardown_distributed()
    _emit(args, {"run_dir": str(args.run_dir), "step": trainer.step},
          f"trained {cfg.model} to step {trainer.step} in {args.run_dir}")


def cmd_ship(args) -> None:
    from restorelab.training.export import ship_dense

    report = json.loads(Path(args.report).read_text()) if args.report else None
    average = tuple(a.strip() for a in (args.average_with or "").split(",") if a.strip())
    card = ship_dense(args.run_dir, args.name, args.command or [], report=report, average_with=average)
    _emit(args, card, f"shipped {args.name}: {card['params']:,} params, "
                      f"{card['train']['train_seconds'] / 3600:.2f} h of training -> weights/{args.name}.safetensors")


# -- eval -------------------------------------------------------------------------------
def cmd_eval(args) -> None:
    from restorelab.evaluation import evaluate, evaluate_folder

    common = dict(limit=args.limit, baseline=args.baseline, progress=not args.json, self_ensemble=args.self_ensemble,
                  device=args.device)
    if args.dir is not None:
        res = evaluate_folder(args.model, args.dir, sigma=args.sigma, seed=args.seed, **common)
    elif args.sigma is not None:
        raise RestoreLabError("--sigma adds noise to a folder of clean images (--dir); a set has its own noise")
    else:
        res = evaluate(args.model, args.set, data_root=args.data_dir, **common)
    lines = [f"{res['model']} on {res['set']} ({res['protocol']})"]
    lines += [f"  {r['name']:24} PSNR {r['psnr']:6.2f}  SSIM {r['ssim']:.4f}" for r in res["images"]]
    lines.append(f"  mean ({len(res['images'])} images)       PSNR {res['psnr']:6.2f}  SSIM {res['ssim']:.4f}")
    _emit(args, res, "\n".join(lines))


def cmd_report(args) -> None:
    from restorelab.evaluation import STANDARD_SETS, report, report_markdown

    sets = args.sets.split(",") if args.sets else STANDARD_SETS
    rep = report(args.model, sets, data_root=args.data_dir, progress=not args.json, self_ensemble=args.self_ensemble,
                 device=args.device)
    _emit(args, rep, f"{rep['protocol']}\n" + report_markdown(rep))


def cmd_compare(args) -> None:
    from restorelab.evaluation import STANDARD_SETS, compare, compare_markdown

    sets = args.sets.split(",") if args.sets else STANDARD_SETS
    table = compare(args.models.split(","), sets, data_root=args.data_dir, size=args.size, repeats=args.repeats,
                    limit=args.limit, progress=not args.json)
    if args.save_cards:
        from restorelab.evaluation import save_to_cards

        table["cards_updated"] = save_to_cards(table, "python -m restorelab " + " ".join(args.argv))
    _emit(args, table, f"{table['protocol']}{'' if args.limit is None else f'; first {args.limit} images of each set'}"
                       f"; seconds: best of {args.repeats}, {table['threads']} threads\n"
                       + compare_markdown(table))


def cmd_real_eval(args) -> None:
    from restorelab.evaluation import REAL_SETS, real_eval, real_markdown

    methods = [m.strip() for m in args.models.split(",") if m.strip()]
    sets = [x.strip() for x in args.sets.split(",")] if args.sets else REAL_SETS
    from restorelab.io import write_json_atomic

    previous = json.loads(args.out.read_text()) if args.out and args.out.exists() and not args.fresh else None
    command = "python -m restorelab " + " ".join(args.argv)

    def save(partial: dict) -> None:  # after every row, so a killed run keeps what it finished
        if args.out:
            merged = dict(previous or {}, **partial, command=command)
            if previous:  # rows this run has not reached yet stay as they were
                done = {r["set"] for r in partial["rows"]}
                merged["rows"] = partial["rows"] + [r for r in previous.get("rows", []) if r["set"] not in done]
            write_json_atomic(args.out, merged)

    res = real_eval(methods, sets, data_root=args.data_dir, limit=args.limit,
                    slow_limit=None if args.slow_limit == 0 else args.slow_limit, progress=not args.json,
                    previous=previous, on_row=save, device=args.device)
    res["command"] = command
    if args.out:
        write_json_atomic(args.out, res)
    if args.save_cards:
        from restorelab.evaluation import save_real_to_cards

        res["cards_updated"] = save_real_to_cards(res)
    _emit(args, res, f"{res['protocol']}; PSNR (dB)\n" + real_markdown(res))


def cmd_verify_backend(args) -> None:
    from restorelab.evaluation import REAL_SETS, verify_backend
    from restorelab.inference.backends import cpu_info
    from restorelab.io import write_json_atomic

    sets = [x.strip() for x in args.sets.split(",")] if args.sets else REAL_SETS
    previous = json.loads(args.results.read_text()) if args.results and args.results.exists() else None
    res = verify_backend(args.model, args.backend, sets, data_root=args.data_dir, limit=args.limit,
                         previous=previous, progress=not args.json)
    res.update(command="python -m restorelab " + " ".join(args.argv), cpu=cpu_info())
    if args.out:
        write_json_atomic(args.out, res)
    if args.save_card:
        from restorelab.inference.weights import update_card

        update_card(args.model, lambda card: card.setdefault("backend_quality", {}).__setitem__(
            args.backend, {k: res[k] for k in ("ok", "worst_set", "worst_loss_db", "max_loss_db", "limit",
                                               "per_set", "command", "cpu")}))
    rows = "\n".join(f"  {s_}: {r['psnr']:.3f} -> {r['backend_psnr']:.3f} dB (loss {r['loss_db']:+.3f})"
                     for s_, r in res["per_set"].items())
    verdict = "kept" if res["ok"] else "rejected"
    _emit(args, res, f"{args.model} on {args.backend}: worst loss {res['worst_loss_db']:+.3f} dB "
                     f"({res['worst_set']}; limit {res['max_loss_db']} dB): {verdict}\n{rows}")


def cmd_real_table(args) -> None:
    from restorelab.evaluation import real_markdown

    res = json.loads(Path(args.results).read_text())
    print(real_markdown(res))


def cmd_readme(args) -> None:
    from restorelab.io import atomic_write
    from restorelab.reports import REPO, update_readme

    path = args.readme or REPO / "README.md"
    if not path.is_file():
        raise RestoreLabError(f"{path}: not found")
    new, stale = update_readme(path.read_text(), REPO)
    if args.check:
        if stale:
            raise RestoreLabError(f"{path} is stale: block(s) {', '.join(stale)}; run `python -m restorelab readme`")
    elif stale:
        atomic_write(path, lambda tmp: tmp.write_text(new))
    verb = "stale" if args.check else "updated"
    _emit(args, {"readme": str(path), verb: stale},
          f"{path}: " + (f"{verb} {', '.join(stale)}" if stale else "every generated block is up to date"))


# -- restore ----------------------------------------------------------------------------
def cmd_restore(args) -> None:
    from restorelab.io import load_image

    if Path(args.input).is_dir():
        _restore_folder(args)
        return
    img = load_image(args.input)
    res = _restore_image(*_load_restorer(args), img, args.input, args.output, args)
    verb = "restored" if res["guard"] is None or res["guard"]["kept"] else "handed back unchanged"
    human = (f"{verb} {args.input} ({res['width']}x{res['height']}) with {args.model} ({_ran_on(res)}) in "
             f"{res['seconds']:.2f} s -> {args.output}\n" + _noise_line(res))
    _emit(args, res, human)


def _load_restorer(args) -> tuple:
    """``(restorer, backend name)``: ``args.model`` on ``args.device`` behind ``args.backend`` (see
    ``inference.backends.pick_backend``), called like the torch model."""
    from restorelab.inference import load_model
    from restorelab.inference.backends import AUTO, pick_backend, verified_reduced
    from restorelab.tensors import resolve_device

    device = resolve_device(args.device)
    # the exported backends are CPU runtimes: on a GPU there is nothing to measure them against
    if device.type != "cpu" and args.backend not in (AUTO, "torch"):
        raise RestoreLabError(f"--backend {args.backend} runs on the CPU only, and --device {args.device} is {device}; "
                              "use --backend torch (or auto) or --device cpu")
    backend = args.backend if device.type == "cpu" else "torch"
    pick = pick_backend(load_model(args.model, device=args.device), backend, reduced=verified_reduced(args.model),
                        log=None if args.json else lambda msg: print(msg, file=sys.stderr))
    return pick.restorer, pick.backend


def _ran_on(res: dict) -> str:
    return f"{res['backend']} on {res['device']}"


def _restore_image(model, backend: str, img, src, dst, args) -> dict:
    """Restore ``img`` (read from ``src``) into the PNG ``dst``; what it did, as ``restore --json`` says."""
    import time

    from restorelab.inference import restore
    from restorelab.inference.classical import is_classical
    from restorelab.inference.guard import guard
    from restorelab.io import save_png
    from restorelab.metrics.noise import estimate_sigma, tone_change
    from restorelab.tensors import model_device

    t = time.perf_counter()
    tile = {"tile": args.tile} if args.tile else {}
    out = restore(model, img, overlap=args.overlap, self_ensemble=args.self_ensemble, **tile)
    verdict = None
    if args.guard and not is_classical(args.model):
        out, verdict = guard(img, out)
    secs = time.perf_counter() - t
    save_png(dst, out)
    return {"input": str(src), "output": str(dst), "model": args.model, "self_ensemble": args.self_ensemble,
            "backend": backend, "device": str(model_device(model)),
            "height": img.shape[0], "width": img.shape[1], "seconds": secs,
            "guard": None if verdict is None else verdict.as_dict(),
            "input_noise_sigma": 255 * estimate_sigma(img), "output_noise_sigma": 255 * estimate_sigma(out),
            "tone_change": tone_change(img, out)}


def _noise_line(res: dict) -> str:
    tone = res["tone_change"]
    verdict = "" if res["guard"] is None else f"do-no-harm guard: {res['guard']['sentence']}\n"
    return (verdict + f"estimated noise σ {res['input_noise_sigma']:.1f} -> {res['output_noise_sigma']:.1f} (0-255); "
            f"brightness {tone['brightness']:+.1f}/255, largest colour shift {tone['color']:.1f}/255")


def _restore_folder(args) -> None:
    """Every image directly in the folder ``args.input`` -> ``args.output/<same name>.png``."""
    from restorelab.data import list_images
    from restorelab.io import load_image

    src, dst = Path(args.input), Path(args.output)
    files = [Path(f) for f in list_images(str(src))]
    if not files:
        raise RestoreLabError(f"no images in {src}")
    if dst.exists() and not dst.is_dir():
        raise RestoreLabError(f"{dst} is a file; restoring a folder needs an output folder")
    if dst.resolve() == src.resolve():
        raise RestoreLabError("the output folder must differ from the input folder (its PNGs would be overwritten)")
    names = [f.stem + ".png" for f in files]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise RestoreLabError(f"{src}: several images would be written as {', '.join(clash)} (same name, different "
                              "extension); rename them")
    model, backend = _load_restorer(args)
    rows = []
    for f, name in zip(files, names):
        rows.append(_restore_image(model, backend, load_image(f), f, dst / name, args))
        if not args.json:
            r = rows[-1]
            print(f"{f.name} ({r['width']}x{r['height']}) in {r['seconds']:.2f} s -> {dst / name}; " + _noise_line(r),
                  flush=True)
    res = {"input": str(src), "output": str(dst), "model": args.model, "self_ensemble": args.self_ensemble,
           "backend": backend, "device": rows[0]["device"],
           "n": len(rows), "seconds": sum(r["seconds"] for r in rows), "images": rows}
    _emit(args, res, f"restored {len(rows)} images from {src} with {args.model} ({_ran_on(res)}) in "
                     f"{res['seconds']:.2f} s -> {dst}")


# -- metrics ----------------------------------------------------------------------------
def cmd_metrics(args) -> None:
    from restorelab.io import load_image
    from restorelab.metrics import psnr, ssim

    a, b = load_image(args.a), load_image(args.b)
    if a.shape != b.shape:
        raise RestoreLabError(f"images differ in size: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}")
    res = {"psnr": psnr(a, b, y_channel=args.y), "ssim": ssim(a, b, y_channel=args.y),
           "protocol": "Y channel (BT.601)" if args.y else "RGB, [0,1] float, no border shave"}
    _emit(args, res, f"PSNR {res['psnr']:.2f} dB  SSIM {res['ssim']:.4f}  ({res['protocol']})")


# -- synthesis check ------------------------------------------------------------------------
# kind -> the real folder it is compared with (pairs: residual statistics; real/noise: no ground
# truth, so a no-reference noise estimate). heavy_rain and downpour have no real heavy pairs here:
# against Rain100L they show how much heavier they are.
_REAL = {"rain": "test/derain/Rain100L-10", "haze": "test/dehaze/SOTS-outdoor-2",
         "heavy_rain": "test/derain/Rain100L-10", "downpour": "test/derain/Rain100L-10",
         "camera_noise": "real/noise"}


def cmd_check_synthesis(args) -> None:
    from restorelab.data import resolve_data_root
    from restorelab.data.synthetic import (compare_noise_levels, compare_to_real, format_comparison,
                                           format_noise_levels)

    root = Path(resolve_data_root(args.data_dir))
    real = args.real or str(root / _REAL[args.kind])
    clean = str(root / "train" / "clean")
    if args.kind == "camera_noise":
        res = compare_noise_levels(args.kind, real, clean, n=args.n, seed=args.seed)
        _emit(args, res, format_noise_levels(res))
        return
    res = compare_to_real(args.kind, real, clean, n=args.n, seed=args.seed)
    _emit(args, res, format_comparison(res))


# -- bench ------------------------------------------------------------------------------
def cmd_bench(args) -> None:
    from restorelab.benchmark import run_core_benchmark

    presets = [x.strip() for x in args.presets.split(",") if x.strip()]
    res = run_core_benchmark(presets, steps=args.steps, size=args.size, compile_=args.compile, ranks=args.ranks,
                             default_model=args.model or None)
    lines = []
    if "default_path" in res:
        d = res["default_path"]
        lines.append(f"default restore path ({d['model']}, {args.size}²): {d['backend']} {d['seconds']['default']:.2f} s "
                     f"(x{d['speedup']['default']:.2f} naive), torch fast {d['seconds']['fast']:.2f} s "
                     f"(x{d['speedup']['fast']:.2f}), naive {d['seconds']['naive']:.2f} s")
    for r in res["presets"]:
        ranks = (f", {args.ranks} ranks {r['train_ranks_it_s']:.2f} it/s (x{r['train_ranks_speedup']:.2f})"
                 if "train_ranks_it_s" in r else "")
        lines.append(f"{r['preset']:16} train naive {r['train_naive_it_s']:.2f} it/s, fast {r['train_fast_it_s']:.2f} "
                     f"it/s (x{r['train_speedup']:.2f}; bf16 {r['train_bf16_it_s']:.2f} it/s, "
                     f"x{r['train_bf16_speedup']:.2f}; one graph on all threads {r['train_ops_it_s']:.2f} it/s, "
                     f"x{r['train_ops_speedup']:.2f}){ranks}; infer {args.size}² naive {r['infer_naive_s']:.2f} s, "
                     f"fast {r['infer_fast_s']:.2f} s (x{r['infer_speedup']:.2f}); one thread: naive "
                     f"{r['train_naive_1thread_s']:.2f} s/step, fast {r['train_fast_1thread_s']:.2f} s/step, "
                     f"ceiling of the fast path on {res['threads']} cores x{r['train_ceiling_speedup']:.2f}")
    _emit(args, res, "\n".join(lines))


def build_parser() -> argparse.ArgumentParser:
    from restorelab.training import TrainConfig, add_arguments

    p = argparse.ArgumentParser(prog="restorelab", description="See, train and shrink image restorers.")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, fn, help_):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.set_defaults(fn=fn)
        return sp

    add("models", cmd_models, "list every registered model (with its family) and the shipped models")

    sp = add("train", cmd_train, "train a restorer (resumable; torchrun for several processes)")
    add_arguments(sp, TrainConfig)
    sp.add_argument("--run-dir", required=True, type=Path,
                    help="run directory: config, checkpoints, log and weights; rerun to resume")
    sp.add_argument("--stop-after", type=int, default=None, help="stop after N more steps (resume later)")
    sp.add_argument("--rank-weights", action="store_true", help="each process saves rankN.safetensors")

    sp = add("ship", cmd_ship, "copy a finished dense run into weights/ with θ0 and a card")
    sp.add_argument("--run-dir", required=True, type=Path, help="a finished `restorelab train` run directory")
    sp.add_argument("--name", required=True, help="model name: weights/NAME.safetensors and NAME.json")
    sp.add_argument("--command", action="append", help="the exact training command(s), for the card")
    sp.add_argument("--report", default=None, help="JSON from `report --json` to record in the card")
    sp.add_argument("--average-with", default="", help="comma-separated run directories, .safetensors files or "
                                                       "shipped names: ship the uniform mean of the run's final "
                                                       "weights and these (a model soup of fine-tunes of one model)")

    sp = add("eval", cmd_eval, "PSNR/SSIM of a model on an evaluation set or on any folder")
    sp.add_argument("--model", required=True, help="shipped model name, .safetensors path, nlm or bm3d "
                                                   "(classical, noise level estimated from each photo); NAME+guard: "
                                                   "that network behind the do-no-harm guard, as restore runs it")
    what = sp.add_mutually_exclusive_group(required=True)
    what.add_argument("--set", help="CBSD68-s15|CBSD68-s25|CBSD68-s50|Rain12|Rain100L-10|SOTS-outdoor-2, "
                                    "or a real-photo row: CBSD68-clean|-jpeg10..40|-camera|-heavyrain")
    what.add_argument("--dir", type=Path, default=None,
                      help="any folder: clean images with --sigma, else input/ + target/ subfolders of degraded "
                           "and clean images with matching file names")
    sp.add_argument("--sigma", type=float, default=None,
                    help="with --dir: add Gaussian noise of this std (0-255; clipped and quantised, as CBSD68-s*) "
                         "to each clean image and score the denoising")
    sp.add_argument("--seed", type=int, default=0,
                    help="with --sigma: the noise of the i-th image (sorted names) is seeded [seed, i]")
    sp.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder (for --set)")
    sp.add_argument("--limit", type=int, default=None, help="first N images only")
    sp.add_argument("--baseline", choices=["model", "input", "cbm3d"], default="model",
                    help="score the model, the degraded input itself, or CBM3D (denoising sets)")
    _add_self_ensemble(sp)
    _add_device(sp)

    sp = add("report", cmd_report, "mean PSNR/SSIM of a model and of the inputs on the standard sets")
    sp.add_argument("--model", required=True, help="shipped model name or .safetensors path")
    sp.add_argument("--sets", default=None, help="comma-separated (default: all six)")
    _add_self_ensemble(sp)
    _add_device(sp)
    sp.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder")

    sp = add("compare", cmd_compare, "Table III: several models' PSNR/SSIM per set, parameters, file size, "
                                     "CPU seconds per image")
    sp.add_argument("--models", required=True, help="comma-separated shipped model names")
    sp.add_argument("--sets", default=None, help="comma-separated (default: all six)")
    sp.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder")
    sp.add_argument("--size", type=int, default=512, help="timing image side")
    sp.add_argument("--repeats", type=int, default=3, help="timing: best of N runs")
    sp.add_argument("--limit", type=int, default=None, help="first N images of each set only")
    sp.add_argument("--save-cards", action="store_true", help="write each pruned model's row into its card")

    sp = add("real-eval", cmd_real_eval, "what users bring: clean photos, web JPEG, blind Gaussian and camera "
                                         "noise, rain, heavy rain, haze; every method beside the input")
    sp.add_argument("--models", default=f"input,nlm,bm3d,aio-cpu-21k,{DEFAULT_MODEL},{DEFAULT_MODEL}+guard,"
                                        f"{DEFAULT_TICKET}",
                    help="comma-separated methods: input, nlm, bm3d or shipped model names; NAME+guard is that "
                         "model behind the do-no-harm guard (as restore and the app run it)")
    sp.add_argument("--sets", default=None, help="comma-separated evaluation sets (default: the real-photo rows)")
    sp.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder")
    sp.add_argument("--limit", type=int, default=None, help="first N images of each set only")
    sp.add_argument("--slow-limit", type=int, default=8,
                    help="CBM3D runs on the first N images of each set only (0: all; ~15 s per photo)")
    sp.add_argument("--out", type=Path, default=None,
                    help="also write the JSON here (README tables are made from it); results already in it for "
                         "the same weights and image count are reused")
    sp.add_argument("--fresh", action="store_true", help="recompute everything, ignoring what --out holds")
    sp.add_argument("--save-cards", action="store_true",
                    help="write each shipped model's rows (with input, nlm, bm3d) into its card as results_real")
    _add_device(sp)

    sp = add("verify-backend", cmd_verify_backend,
             "PSNR a reduced-precision backend (openvino-bf16) loses against float32 PyTorch on the real-photo "
             "sets; with --save-card a passing result makes it a candidate of --backend auto for that model")
    sp.add_argument("--model", default=DEFAULT_MODEL, help=f"shipped model name (default: {DEFAULT_MODEL})")
    from restorelab.inference.backends import REDUCED

    sp.add_argument("--backend", default="openvino-bf16", choices=REDUCED,
                    help="the reduced-precision backend to check (default: openvino-bf16)")
    sp.add_argument("--sets", default=None, help="comma-separated evaluation sets (default: the real-photo rows)")
    sp.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder")
    sp.add_argument("--limit", type=int, default=None, help="first N images of each set only (default: all)")
    sp.add_argument("--results", type=Path, default=None,
                    help="a real-eval JSON whose float32 cells for the same weights and image count are reused")
    sp.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    sp.add_argument("--save-card", action="store_true",
                    help="record the verdict in the model's card (backend_quality); `ok` makes restore/app consider it")

    sp = add("real-table", cmd_real_table, "the markdown table of a real-eval JSON (as in the README)")
    sp.add_argument("results", type=Path, help="JSON written by real-eval --out")

    sp = add("readme", cmd_readme, "regenerate README.md's generated blocks (the real-photo table, the results "
                                   "summary) from the committed JSON results")
    sp.add_argument("--check", action="store_true",
                    help="change nothing; exit with code 2 naming the stale blocks if any differs (as CI does)")
    sp.add_argument("--readme", type=Path, default=None, help="the README to update (default: the repository's)")

    sp = add("restore", cmd_restore, "restore one image, or every image in a folder")
    sp.add_argument("input", help="an image, or a folder: every image directly in it")
    sp.add_argument("output", help="the output PNG; for a folder INPUT, the output folder (created), each image "
                                   "written as its own name with .png")
    sp.add_argument("--model", default=DEFAULT_MODEL, help="shipped model name, .safetensors path, nlm or bm3d "
                                                           f"(default: {DEFAULT_MODEL})")
    sp.add_argument("--tile", type=int, default=None,
                    help="largest tile side for large images; tiles are sized to cover the photo evenly "
                         "(default: restorelab.inference.DEFAULT_TILE, 512)")
    sp.add_argument("--overlap", type=int, default=32, help="overlap of neighbouring tiles in pixels (default: 32)")
    sp.add_argument("--guard", action=argparse.BooleanOptionalAction, default=True,
                    help="do no harm (default: on): hand a network's output back only when the photo showed a "
                         "degradation (JPEG, noise, rain or haze, a strong change), else the photo itself; on a JPEG, "
                         "average in the photo re-compressed on shifted grids; on a light JPEG (q60-90) keep only the "
                         "luma change, within the file's quantization intervals (restorelab.inference.guard); "
                         "--no-guard keeps every raw output")
    _add_self_ensemble(sp)
    _add_device(sp)
    from restorelab.inference.backends import AUTO, BACKENDS

    sp.add_argument("--backend", choices=(AUTO, *BACKENDS), default=AUTO,
                    help="runtime of a shipped network on the CPU: auto (default) measures the installed ones once "
                         "on this machine and keeps the fastest (torch when neither onnxruntime nor openvino is "
                         "installed, without measuring; openvino-bf16 only where the model's card verifies it and "
                         "the CPU has native bf16, see verify-backend); with --device cuda only torch")

    sp = add("metrics", cmd_metrics, "PSNR/SSIM between two images")
    sp.add_argument("a", help="an image")
    sp.add_argument("b", help="an image of the same size")
    sp.add_argument("--y", action="store_true", help="on the Y channel instead of RGB")

    sp = add("check-synthesis", cmd_check_synthesis, "our synthesis vs real data: residual stats against real "
                                                     "pairs (rain, haze, heavy_rain, downpour), or noise estimates against "
                                                     "real noisy photos (camera_noise)")
    sp.add_argument("kind", choices=sorted(_REAL), help="the synthetic degradation to check")
    sp.add_argument("--real", default=None, help="real folder (default: Rain100L-10 / SOTS-outdoor-2 / real/noise)")
    sp.add_argument("--data-dir", default="../shared/datasets", help="the shared datasets folder")
    sp.add_argument("-n", type=int, default=50, help="clean photos to synthesise on")
    sp.add_argument("--seed", type=int, default=0, help="synthesis seed")

    sp = add("bench", cmd_bench, "CPU speed: naive eager NCHW vs the fast path, per preset")
    sp.add_argument("--presets", default="promptir-tiny,promptir-cpu", help="comma-separated model presets")
    sp.add_argument("--steps", type=int, default=6, help="timed training steps per variant")
    sp.add_argument("--size", type=int, default=512, help="inference image side")
    sp.add_argument("--compile", action="store_true", help="also time torch.compile")
    sp.add_argument("--ranks", type=int, default=2, help="also time data-parallel training over N single-threaded "
                                                          "processes (1: skip)")
    sp.add_argument("--model", default=DEFAULT_MODEL,
                    help=f"shipped model whose default restore path (--backend auto) is timed against its naive "
                         f"and fast torch paths (default: {DEFAULT_MODEL}; empty: skip)")
    from restorelab.grids.cli import add_parser as add_grids
    from restorelab.lottery.cli import add_parser as add_lottery
    from restorelab.oes.cli import add_parser as add_oes

    add_lottery(sub)
    add_grids(sub)
    add_oes(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for cards
    try:
        args.fn(args)
    except RestoreLabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0
