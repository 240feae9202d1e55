"""``restorelab oes``: Sparse-DIP denoising, OES mask learning, and the baselines side by side.

    python -m restorelab oes denoise noisy.png --out den.png                       # shipped lean mask
    python -m restorelab oes denoise noisy.png --clean clean.png --mask learn --steps 2000 --json
    python -m restorelab oes denoise clean.png --add-noise 25 --out den.png        # a synthetic test
    python -m restorelab oes learn-mask clean.png --add-noise 25 --crop 256 --steps 800 \
        --out weights/oes-lean-d05.safetensors
    python -m restorelab oes compare clean.png --add-noise 25 --crop 256 --steps 3000 \
        --methods transfer,random,magnitude,dense

``IMAGE`` is the noisy input as it is, unless ``--add-noise S`` is given: then ``IMAGE`` is clean,
Gaussian noise of std S (0-255 scale, clipped, not quantised, seeded by ``--noise-seed``) is added,
and PSNRs are measured against ``IMAGE``. ``--clean`` gives the reference for an already noisy
``IMAGE``. Sparse-DIP needs no noise level (it stops after ``--steps``); ``denoise`` reports the
noise σ it estimates in the input. ``learn-mask`` and ``compare`` also take ``--sigma S`` for
``--add-noise S`` (the spelling of the shipped masks' recorded commands); ``denoise`` refuses it,
so a noise level meant to describe a noisy photo never adds more noise. ``learn-mask`` also
writes a JSON card (command, steps, time) beside the mask.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.oes._common import SCOPES


def _common(sp, steps: int, sigma_alias: bool = True) -> None:
    sp.add_argument("image", help="the noisy image, used as it is (a clean one with --add-noise)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    noise_flags = ("--add-noise", "--sigma") if sigma_alias else ("--add-noise",)
    sp.add_argument(*noise_flags, dest="add_noise", type=float, default=None, metavar="S",
                    help="IMAGE is clean: add Gaussian noise of std S (0-255) and measure PSNR against IMAGE")
    if not sigma_alias:
        sp.add_argument("--sigma", dest="old_sigma", default=None, help=argparse.SUPPRESS)
    sp.add_argument("--noise-seed", type=int, default=0, help="seed of the noise --add-noise adds")
    sp.add_argument("--clean", default=None, help="clean reference of a noisy IMAGE (PSNR vs clean)")
    sp.add_argument("--crop", type=int, default=0, help="use the centre NxN crop (0: whole image)")
    sp.add_argument("--preset", default=None, help="generator preset: paper | lean | tiny (default lean)")
    sp.add_argument("--density", type=float, default=None,
                    help="fraction of the masked tensors' entries kept (default 0.05)")
    sp.add_argument("--scope", choices=SCOPES, default="all",
                    help="masked tensors (learn, random, magnitude, imp; a transferred mask has its own): "
                         "all = every parameter, BN and biases included (the reference's, default); "
                         "weights = conv weights only")
    sp.add_argument("--steps", type=int, default=steps, help=f"fitting steps (default: {steps})")
    sp.add_argument("--seed", type=int, default=0, help="generator init and input noise seed")
    sp.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")


def _mask_args(sp) -> None:
    sp.add_argument("--learn-steps", type=int, default=1000, help="--mask learn: OES steps")
    sp.add_argument("--init-seed", type=int, default=None, help="transfer: init seed (default: the mask file's)")
    sp.add_argument("--imp-steps", type=int, default=500, help="--mask imp: training steps per round")


def add_parser(subparsers) -> None:
    """Register ``oes`` and its sub-commands (each sets ``fn``)."""
    oes = subparsers.add_parser("oes", help="Sparse-DIP: deep image prior with learned sparse masks (OES)")
    sub = oes.add_subparsers(dest="oes_command", required=True)

    sp = sub.add_parser("denoise", help="denoise one image with Sparse-DIP (or a baseline)")
    _common(sp, steps=500, sigma_alias=False)  # = LiveConfig.steps, the app's budget
    _mask_args(sp)
    sp.add_argument("--mask", default="transfer",
                    help="transfer[:NAME|PATH] | learn | random | magnitude | imp | dense (default: transfer)")
    sp.add_argument("--lr", type=float, default=None, help="default 1e-2 masked, 1e-3 dense")
    sp.add_argument("--out", type=Path, default=None, help="output PNG")
    sp.add_argument("--noisy-out", type=Path, default=None, help="also save the noisy input as PNG")
    sp.add_argument("--curves", type=Path, default=None, help="write the per-step PSNR curves as JSON")
    sp.set_defaults(fn=cmd_denoise)

    sp = sub.add_parser("learn-mask", help="learn an OES mask on one image and save it (+ a JSON card)")
    _common(sp, steps=1000)
    sp.add_argument("--lr", type=float, default=0.01, help="Adam lr of the logits (reference 0.01)")
    sp.add_argument("--kl-weight", type=float, default=1e-9,
                    help="weight of the summed KL toward Bernoulli(density) (reference 1e-9)")
    sp.add_argument("--temperature", type=float, default=0.2, help="Gumbel-sigmoid temperature (reference 0.2)")
    sp.add_argument("--checkpoint", type=Path, default=None,
                    help="save the learning state here every --every steps; a rerun resumes from it")
    sp.add_argument("--every", type=int, default=500, help="checkpoint interval in steps (default: 500)")
    sp.add_argument("--out", type=Path, required=True, help="mask file (.safetensors)")
    sp.add_argument("--source", default=None, help="provenance text stored in the file (default: the image path)")
    sp.set_defaults(fn=cmd_learn_mask)

    sp = sub.add_parser("compare", help="Sparse-DIP and its baselines on one image, same budget")
    _common(sp, steps=3000)
    _mask_args(sp)
    sp.add_argument("--methods", default="transfer,random,magnitude,dense",
                    help="comma-separated mask kinds (as --mask of denoise)")
    sp.add_argument("--curves", type=Path, default=None, help="write every method's PSNR curves as JSON")
    sp.set_defaults(fn=cmd_compare)

    sp = sub.add_parser("record-replays", help="record full-length Sparse-DIP + dense DIP runs that the app "
                                                 "replays instantly for these photos (its example photos)")
    sp.add_argument("photos", nargs="+", type=Path, help="clean photos (the app's examples/*.jpg)")
    sp.add_argument("--out", type=Path, default=Path("examples/oes-replay"), help="folder of the replays")
    sp.add_argument("--steps", type=int, default=3000, help="steps of each run (past dense DIP's peak and its fall)")
    sp.add_argument("--frames", type=int, default=20, help="images kept per fit (one every steps/frames steps)")
    sp.add_argument("--size", type=int, default=128, help="centre crop side, as the app's working size")
    sp.add_argument("--add-noise", "--sigma", dest="add_noise", type=float, default=25.0, metavar="S",
                    help="Gaussian noise std added (0-255), as the app's σ")
    sp.add_argument("--noise-seed", type=int, default=0, help="noise seed, as the app's")
    sp.add_argument("--mask", default="transfer:oes-lean-d05", help="mask source, as the app's (transfer:NAME)")
    sp.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(fn=cmd_record_replays)


def _check(args) -> None:
    from restorelab.pruning import check_density

    if args.density is not None:
        check_density(args.density)
    if args.steps < 1:
        raise RestoreLabError(f"--steps must be >= 1, got {args.steps}")
    if getattr(args, "old_sigma", None) is not None:
        raise RestoreLabError("oes denoise takes IMAGE as already noisy and needs no noise level; to add noise "
                              f"to a clean IMAGE, say so: --add-noise {args.old_sigma}")
    if args.add_noise is not None and args.clean is not None:
        raise RestoreLabError("give --add-noise (IMAGE is clean) or --clean (IMAGE is noisy), not both")
    if args.crop < 0:
        raise RestoreLabError(f"--crop must be >= 0, got {args.crop}")


def centre_crop(img: np.ndarray, size: int) -> np.ndarray:
    if size <= 0:
        return img
    h, w = img.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[top:top + size, left:left + size]


def load_inputs(args) -> tuple[np.ndarray, np.ndarray | None]:
    """(noisy, clean or None) from IMAGE, --add-noise, --clean, --crop."""
    from restorelab.io import load_image
    from restorelab.oes._common import add_noise

    img = centre_crop(load_image(args.image), args.crop)
    if args.add_noise is not None:
        return add_noise(img, args.add_noise, args.noise_seed), img
    if args.clean is None:
        return img, None
    clean = centre_crop(load_image(args.clean), args.crop)
    if clean.shape != img.shape:
        raise RestoreLabError(f"--clean is {clean.shape[1]}x{clean.shape[0]}, IMAGE {img.shape[1]}x{img.shape[0]}")
    return img, clean


def _plan(args, spec: str):
    from restorelab.oes.sparse_dip import MaskPlan

    return MaskPlan(spec=spec, preset=args.preset, density=args.density, seed=args.seed,
                    init_seed=getattr(args, "init_seed", None), learn_steps=getattr(args, "learn_steps", 1000),
                    imp_steps_per_round=getattr(args, "imp_steps", 500), scope=args.scope)


def _emit(args, obj: dict, text: str) -> None:
    print(json.dumps(obj) if args.json else text)


def _line(s: dict) -> str:
    clean = (f", PSNR {s['final_psnr']:.2f} dB (peak {s['peak_psnr']:.2f} at {s['peak_step']})"
             if "final_psnr" in s else "")
    return f"{s['method']:9} {s['steps']} steps in {s['seconds']:.1f} s{clean}"


def cmd_denoise(args) -> None:
    from restorelab.io import save_png
    from restorelab.metrics.noise import estimate_sigma
    from restorelab.oes.sparse_dip import parse_mask_spec, run

    _check(args)
    parse_mask_spec(args.mask)
    noisy, clean = load_inputs(args)
    res = run(noisy, _plan(args, args.mask), steps=args.steps, clean=clean, lr=args.lr, n_threads=args.threads)
    if args.out:
        save_png(args.out, res.image)
    if args.noisy_out:
        save_png(args.noisy_out, noisy)
    if args.curves:
        args.curves.write_text(json.dumps({"psnr_vs_noisy": res.psnr_noisy, "psnr_vs_clean": res.psnr_clean}))
    s = res.summary() | {"out": str(args.out) if args.out else None, "added_noise": args.add_noise,
                         "input_noise_sigma": round(255 * estimate_sigma(noisy), 2)}
    _emit(args, s, _line(s) + f"; input noise σ ≈ {s['input_noise_sigma']:.1f} (estimated, 0-255)"
          + (f" -> {args.out}" if args.out else ""))


def cmd_learn_mask(args) -> None:
    from restorelab.oes.learn import LearnConfig, learn_mask
    from restorelab.oes.maskfile import save_mask
    from restorelab.models.dip import get_config
    from restorelab.pruning import layer_report

    _check(args)
    cfg = LearnConfig(preset=args.preset or "lean", density=args.density if args.density is not None else 0.05,
                      steps=args.steps, lr=args.lr, seed=args.seed, threads=args.threads, scope=args.scope,
                      kl_weight=args.kl_weight, temperature=args.temperature)
    if args.every < 1:
        raise RestoreLabError(f"--every must be >= 1, got {args.every}")
    noisy, _ = load_inputs(args)

    def progress(done, mse):  # to stderr: stdout carries the result (JSON under --json)
        if done % args.every == 0 or done == cfg.steps:
            print(f"  step {done}/{cfg.steps}: sampled mask PSNR vs noisy {10 * np.log10(1 / max(mse, 1e-12)):.2f} dB",
                  file=sys.stderr, flush=True)

    res = learn_mask(noisy, cfg, progress, checkpoint=args.checkpoint, every=args.every)
    source = args.source or f"{Path(args.image).name} crop {args.crop or 'full'} sigma {args.add_noise}"
    meta = save_mask(res.masks, args.out, preset=cfg.preset, generator=get_config(cfg.preset).to_dict(),
                     seed=cfg.seed, source=source, extra={"learn": cfg.to_dict()})
    card = {"name": args.out.stem, "kind": "oes-mask", "preset": cfg.preset, "scope": cfg.scope,
            "density": float(meta["density"]),
            "kept": int(meta["kept"]), "total": int(meta["total"]), "seed": cfg.seed, "source": source,
            "image_size": list(noisy.shape[:2]), "learn": cfg.to_dict(), "seconds": round(res.seconds, 1),
            "command": "python -m restorelab oes " + shlex.join(sys.argv[sys.argv.index("learn-mask"):])
            if "learn-mask" in sys.argv else None,
            "date": time.strftime("%Y-%m-%d"), "summary": res.summary(),
            "layer_density": {r.name: round(r.kept / r.total, 4) for r in layer_report(res.masks)}}
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")
    _emit(args, card, f"mask {args.out}: {card['kept']}/{card['total']} kept ({card['density']:.4f}), "
                      f"{cfg.steps} steps in {res.seconds:.1f} s")


def cmd_compare(args) -> None:
    from restorelab.oes.sparse_dip import compare, parse_mask_spec

    _check(args)
    specs = tuple(s.strip() for s in args.methods.split(",") if s.strip())
    if not specs:
        raise RestoreLabError("--methods is empty")
    for s in specs:
        parse_mask_spec(s)
    noisy, clean = load_inputs(args)
    results = compare(noisy, clean, steps=args.steps, specs=specs, plan=_plan(args, specs[0]), n_threads=args.threads)
    if args.curves:
        args.curves.write_text(json.dumps({r.method: {"psnr_vs_noisy": r.psnr_noisy, "psnr_vs_clean": r.psnr_clean}
                                           for r in results}))
    out = {"image": str(args.image), "sigma": args.add_noise, "crop": args.crop,
           "results": [r.summary() for r in results]}
    _emit(args, out, "\n".join(_line(r.summary()) for r in results))


def cmd_record_replays(args) -> None:
    from restorelab.io import load_image
    from restorelab.oes._common import add_noise
    from restorelab.oes.live import LiveConfig
    from restorelab.oes.replay import record, settings_of
    from restorelab.oes.sparse_dip import MaskPlan, parse_mask_spec

    if args.steps < 1 or not 1 <= args.frames <= args.steps:
        raise RestoreLabError(f"need --steps >= 1 and 1 <= --frames <= --steps, got {args.steps}, {args.frames}")
    parse_mask_spec(args.mask)
    config = LiveConfig(steps=args.steps, every=-(-args.steps // args.frames), dense=True, threads=args.threads)
    settings = settings_of(args.add_noise, args.noise_seed, args.mask, None, None, True)
    done = []
    for photo in args.photos:
        clean = centre_crop(load_image(photo), args.size)
        noisy = add_noise(clean, args.add_noise, args.noise_seed)
        # the app's plan for these settings (ui.oes_tab.run_oes): preset and density from the mask
        plan = MaskPlan(spec=args.mask, preset=None, density=None, seed=0)
        path = record(clean, noisy, settings, plan, config, args.out, photo.stem,
                      log=lambda msg: print(msg, file=sys.stderr, flush=True))
        rec = json.loads(path.read_text())
        summary = {k: {"final": round(c["clean"][-1], 3), "peak": round(max(c["clean"]), 3),
                       "peak_step": 1 + int(np.argmax(c["clean"]))} for k, c in rec["curves"].items()}
        done.append({"photo": str(photo), "replay": str(path), "seconds": rec["frame_seconds"][-1], **summary})
    _emit(args, {"replays": done, "settings": settings, "steps": args.steps},
          "\n".join(f"{d['photo']}: Sparse-DIP {d['sparse']['final']:.2f} dB (peak {d['sparse']['peak']:.2f}), "
                    f"dense DIP {d['dense']['final']:.2f} dB (peak {d['dense']['peak']:.2f} at step "
                    f"{d['dense']['peak_step']}), {d['seconds']:.0f} s -> {d['replay']}" for d in done))
