"""The OES tab (Sparse-DIP, live) and the ``/oes_denoise`` API endpoint.

The photo is treated as clean: Gaussian noise is added (``restorelab.oes._common.add_noise``, as
the OES code and ``benchmarks/bench_oes.py``), then ``restorelab.oes.live.stream`` fits the
masked generator (and optionally dense DIP) and its snapshots are streamed to the page. PSNRs are
the library's own per-step measurements against the clean photo, on the server's float arrays.

For the example photos at the default settings, a precomputed 3,000-step run
(``restorelab.oes.replay``, ``examples/oes-replay``) is replayed in about two seconds instead, so a
visitor sees dense DIP peak and overfit while Sparse-DIP holds; uploads run live.

Mask sources: a shipped mask of ``weights/`` transferred to this photo (the default and the path
``benchmarks/bench_oes_default.py`` times: lean preset, 128², 600 steps, 57 s on 2 AVX2 cores), a mask learned here
with OES first (``restorelab.oes.learn.MaskLearner``, step by step so it streams and stops), or
the random / magnitude-at-init baselines at the same density.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import gradio as gr

from restorelab.errors import RestoreLabError
from restorelab.ui import pipeline, settings
from restorelab.ui.common import photo_with_examples, user_errors
from restorelab.ui.lottery_tab import LONG_JOBS

# Steps and mask = what benchmarks/bench_oes.py `app` measures (LiveConfig's steps, the shipped lean mask; it
# measures at 256², the app's default size is 128², below).
DEFAULT_STEPS, MIN_STEPS, MAX_STEPS = 600, 10, 3000
# the default shows the paper's point within a minute: at 128² dense DIP peaks near step 250 and has
# lost ~3-4 dB by 600 while Sparse-DIP holds (57 s for both on 2 AVX2-only cores, the slowest CPU measured)
DEFAULT_SIZE, MIN_SIZE, MAX_SIZE = 128, 32, 512
DEFAULT_DENSITY, MIN_DENSITY, MAX_DENSITY = 0.05, 0.01, 0.5
DEFAULT_LEARN_STEPS, MIN_LEARN_STEPS, MAX_LEARN_STEPS = 200, 10, 1000
SIGMA = pipeline.DEGRADATIONS["gaussian_noise"]  # the Restore tab's noise knob: σ in [1, 100], default 25
REPLAY_FRAME_SECONDS = 0.1  # pause between replayed frames
SNAPSHOTS = 20  # about this many updates per run…
MAX_EVERY = 25  # …but at least every 25 steps (~4 s at 256² on 2 cores), so Stop is prompt
AUTO_PRESET = "auto"
PRESET_CHOICES = [("auto: the shipped mask's, else lean", AUTO_PRESET),
                  ("lean (the app's default, 0.25M weights)", "lean"),
                  ("paper (the OES network, 3.0M weights, ~2× slower)", "paper"),
                  ("tiny (tests; fast, poor)", "tiny")]
DEFAULT_MASK = "oes-lean-d05"
BASELINES = {"learn": "Learn a mask here with OES first (slower)",
             "random": "Random mask (baseline)",
             "magnitude": "Largest weights at init (baseline)"}


# -- mask sources (listed without importing torch: the app must build without it) -------------------
def _mask_card(name: str) -> dict:
    try:
        card = json.loads((settings.weights_dir() / f"{name}.json").read_text())
        return card if isinstance(card, dict) else {}
    except (OSError, ValueError):
        return {}


def _shipped_names() -> list[str]:
    """``maskfile.shipped_masks()``'s rule (``weights/oes-*.safetensors``), without its torch import."""
    d = settings.weights_dir()
    return sorted(p.stem for p in d.glob("oes-*.safetensors")) if d.is_dir() else []


def mask_choices() -> list[tuple[str, str]]:
    """(label, spec) for the dropdown: shipped masks first (``transfer:NAME``), then the others."""
    out = []
    for name in _shipped_names():
        card = _mask_card(name)
        bits = [str(card["preset"])] if card.get("preset") else []
        if isinstance(card.get("density"), (int, float)):
            what = "of the conv weights" if card.get("scope") == "weights" else "of all parameters"
            bits.append(f"{card['density']:.0%} {what} kept")
        if card.get("source"):
            bits.append(f"learned on {card['source']}")
        out.append((f"Shipped mask {name}, transferred" + (f" ({', '.join(bits)})" if bits else ""),
                    f"transfer:{name}"))
    return out + [(label, kind) for kind, label in BASELINES.items()]


def default_mask() -> str:
    """The shipped lean mask (the benchmarked default), else any shipped mask, else learn here."""
    shipped = _shipped_names()
    if DEFAULT_MASK in shipped:
        return f"transfer:{DEFAULT_MASK}"
    return f"transfer:{shipped[0]}" if shipped else "learn"


# -- one request, validated --------------------------------------------------------------------------
@dataclass(frozen=True)
class OESRequest:
    sigma: float
    mask: str  # 'transfer:NAME' | 'learn' | 'random' | 'magnitude'
    density: float | None  # None for a transferred mask: the mask's own
    steps: int
    dense: bool
    size: int
    learn_steps: int
    preset: str | None  # None: the mask's preset (transfer), else lean
    seed: int
    replay: bool = True  # replay a precomputed run when one matches (the example photos)

    @property
    def every(self) -> int:
        return max(1, min(MAX_EVERY, self.steps // SNAPSHOTS))


def _number(value, name: str, default, lo, hi, integer: bool = False):
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RestoreLabError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise RestoreLabError(f"{name} must be in [{lo}, {hi}], got {value}")
    if integer:
        if v != int(v):
            raise RestoreLabError(f"{name} must be a whole number, got {value}")
        return int(v)
    return v


def parse_request(sigma=None, mask=None, density=None, steps=None, dense=True, size=None, learn_steps=None,
                  preset=None, seed=None, replay=True) -> OESRequest:
    """Check every setting; ``None`` takes the default. Raises ``RestoreLabError`` (one line)."""
    sigma = _number(sigma, "noise σ (0–255 scale)", float(SIGMA.default), SIGMA.minimum, SIGMA.maximum)
    steps = _number(steps, "steps", DEFAULT_STEPS, MIN_STEPS, MAX_STEPS, integer=True)
    size = _number(size, "working size", DEFAULT_SIZE, MIN_SIZE, MAX_SIZE, integer=True)
    learn_steps = _number(learn_steps, "OES learning steps", DEFAULT_LEARN_STEPS, MIN_LEARN_STEPS, MAX_LEARN_STEPS,
                          integer=True)
    seed = _number(seed, "seed", 0, 0, 2**31 - 1, integer=True)
    density = _number(density, "mask density", DEFAULT_DENSITY, MIN_DENSITY, MAX_DENSITY)
    spec = (mask or default_mask()).strip()
    kind, _, name = spec.partition(":")
    if kind == "transfer":
        shipped = _shipped_names()
        name = name or (shipped[0] if len(shipped) == 1 else "")
        if name not in shipped:
            raise RestoreLabError(f"no shipped mask {name!r}; available: {', '.join(shipped) or '(none)'}")
        spec, density = f"transfer:{name}", None
    elif kind not in BASELINES or name:
        valid = [s for _, s in mask_choices()]
        raise RestoreLabError(f"unknown mask source {spec!r}; valid: {', '.join(valid)}")
    preset = (preset or AUTO_PRESET).strip()
    if preset == AUTO_PRESET:
        preset = None
    elif preset not in {p for _, p in PRESET_CHOICES}:
        raise RestoreLabError(f"unknown generator preset {preset!r}; valid: auto, lean, paper, tiny")
    return OESRequest(sigma=sigma, mask=spec, density=density, steps=steps, dense=bool(dense), size=size,
                      learn_steps=learn_steps, preset=preset, seed=seed, replay=bool(replay))


# -- the run: load, crop, add noise, (learn a mask), stream the fits ------------------------------------
def run_oes(photo, req: OESRequest) -> Iterator[dict]:
    """Yield states: ``phase`` 'start' | 'learn' (+ ``learn_step``) | 'fit' (+ ``snap``, a
    ``live.stream`` snapshot). Every state carries ``noisy``, ``clean``, ``shape`` (h, w),
    ``original`` (h, w before the crop), ``input_psnr`` and ``mask`` (how the mask was made).
    Closing the generator stops the run between snapshots."""
    from restorelab.metrics import psnr
    from restorelab.oes._common import add_noise
    from restorelab.oes.cli import centre_crop
    from restorelab.oes.live import LiveConfig, stream
    from restorelab.oes.sparse_dip import MaskPlan

    photo_img = pipeline.load_photo(photo)
    clean = centre_crop(photo_img, req.size)
    noisy = add_noise(clean, req.sigma, req.seed)
    base = {"noisy": noisy, "clean": clean, "shape": clean.shape[:2], "original": photo_img.shape[:2],
            "input_psnr": float(psnr(noisy, clean)), "mask": {"source": req.mask}, "req": req}
    yield base | {"phase": "start"}
    replay = _replay_for(clean, req)
    if replay is not None:
        base["req"] = replace(req, steps=replay.steps)  # the recorded length, whatever the slider says
        base["replay"] = {"steps": replay.steps, "recorded_seconds": replay.record["frame_seconds"][-1],
                          "recorded_at": replay.record.get("recorded_at"), "file": replay.path.name}
        for snap in replay.snapshots():
            base["mask"] = base["mask"] | snap["info"]
            time.sleep(REPLAY_FRAME_SECONDS)  # an animation, not a wait: ~2 s in all
            yield base | {"phase": "fit", "snap": snap}
        return
    config = LiveConfig(steps=req.steps, every=req.every, dense=req.dense)
    with tempfile.TemporaryDirectory(prefix="restorelab-oes-") as tmp:
        if req.mask == "learn":
            learned = Path(tmp) / "learned.safetensors"
            for i, secs in _learn_mask_file(noisy, req, learned):
                yield base | {"phase": "learn", "learn_step": i, "learn_seconds": secs}
            base["mask"] = {"source": "learn", "learn_steps": req.learn_steps, "learn_seconds": round(secs, 2)}
            plan = MaskPlan(spec=f"transfer:{learned}")
        else:
            plan = MaskPlan(spec=req.mask, preset=req.preset, density=req.density, seed=0)
        for snap in stream(noisy, clean=clean, plan=plan, config=config):
            if not base["mask"].get("preset"):
                info = {k: v for k, v in snap["info"].items() if k not in ("mask_file", "mask")}
                base["mask"] = base["mask"] | info
            yield base | {"phase": "fit", "snap": snap}


def _replay_for(clean, req: OESRequest):
    """The precomputed run for this crop and these settings (``restorelab.oes.replay``), or None."""
    if not req.replay or req.mask == "learn":
        return None
    from restorelab.oes.replay import find, settings_of

    return find(clean, settings_of(req.sigma, req.seed, req.mask, req.preset, req.density, req.dense),
                settings.oes_replay_dir())


def _learn_mask_file(noisy, req: OESRequest, path: Path) -> Iterator[tuple[int, float]]:
    """OES on ``noisy`` a step at a time (yields (step, seconds) every few steps, so the run
    streams and can be stopped), then the mask saved to ``path`` for ``live.stream`` to transfer
    (same seed: the same generator the mask was learned on, as ``sparse_dip.prepare`` 'learn')."""
    import time

    from restorelab.models.dip import get_config
    from restorelab.oes.learn import LearnConfig, MaskLearner
    from restorelab.oes.maskfile import save_mask

    t0 = time.perf_counter()
    cfg = LearnConfig(preset=req.preset or "lean", density=req.density, steps=req.learn_steps, seed=0)
    learner = MaskLearner(noisy, cfg)
    every = max(1, min(MAX_EVERY, cfg.steps // SNAPSHOTS))
    for i in range(1, cfg.steps + 1):
        learner.step()
        if i % every == 0 or i == cfg.steps:
            yield i, time.perf_counter() - t0
    save_mask(learner.final_masks(), path, preset=cfg.preset, generator=get_config(cfg.preset).to_dict(),
              seed=cfg.seed, source="learned in the app", extra={"learn": cfg.to_dict()})


# -- presentation -----------------------------------------------------------------------------------------
def _fit_summary(curve: list[float]) -> dict | None:
    if not curve:
        return None
    peak = max(range(len(curve)), key=curve.__getitem__)
    return {"psnr": round(curve[-1], 3), "peak_psnr": round(curve[peak], 3), "peak_step": peak + 1}


def details(state: dict) -> dict:
    """The JSON summary of a state (also the API's last output)."""
    req, snap = state["req"], state.get("snap")
    (h, w), (oh, ow) = state["shape"], state["original"]
    out = {"phase": state["phase"], "done": bool(snap and snap["done"]), "step": snap["step"] if snap else 0,
           "steps": req.steps, "seconds": round(snap["seconds"], 2) if snap else None,
           "width": w, "height": h, "original_width": ow, "original_height": oh, "cropped": (h, w) != (oh, ow),
           "sigma": req.sigma, "noise_seed": req.seed, "input_psnr": round(state["input_psnr"], 3),
           "mask": state["mask"], "replay": state.get("replay"), "sparse": None, "dense": None}
    if state["phase"] == "learn":
        out["learn_step"], out["learn_steps"] = state["learn_step"], req.learn_steps
    if snap:
        out["sparse"] = _fit_summary(snap["curves"]["sparse"]["clean"])
        out["dense"] = _fit_summary(snap["curves"]["dense"]["clean"]) if req.dense else None
    return out


def curves_figure(state: dict):
    from restorelab.plots import psnr_curves

    snap, req = state.get("snap"), state["req"]
    curves = {}
    if snap:
        for key, label in (("sparse", "Sparse-DIP"), ("dense", "dense DIP")):
            ys = snap["curves"][key]["clean"]
            if ys:
                curves[label] = (list(range(1, len(ys) + 1)), ys)
    curves["noisy input"] = ([1, req.steps], [state["input_psnr"]] * 2)
    fig = psnr_curves(curves, title="PSNR against the clean photo")
    fig.update_xaxes(range=[0, req.steps])
    return fig


def status_text(d: dict) -> str:
    size = f"{d['width']}×{d['height']}" + (f" (centre crop of {d['original_width']}×{d['original_height']})"
                                            if d["cropped"] else "")
    head = f"{size}, noise σ {d['sigma']:g} (seed {d['noise_seed']}): noisy input **{d['input_psnr']:.2f} dB**"
    m = d["mask"]
    if m.get("preset"):
        src = ("learned here with OES" if m["source"] == "learn"
               else f"`{m['source'].partition(':')[2]}`, transferred" if m["source"].startswith("transfer")
               else m["source"])
        what = "conv weights" if m.get("scope") == "weights" else "parameters (BN and biases included)"
        head += f"  \nMask: {src}; {m['preset']} generator, {m['density']:.1%} of its {what} kept"
    if d["phase"] == "start":
        return head + "  \n*Starting…*"
    if d["phase"] == "learn":
        return head + f"  \n*Learning the mask with OES: step {d['learn_step']} / {d['learn_steps']}…*"
    learn = f" (+ {m['learn_seconds']:.1f} s learning the mask)" if m.get("learn_seconds") is not None else ""
    if d["replay"]:
        r = d["replay"]
        lines = [head, f"**Step {d['step']} / {d['steps']}** · replay of a precomputed run ({r['recorded_seconds']:.0f} s "
                       "to compute when recorded; untick *Replay precomputed runs* to compute it here)"
                 + (" · done" if d["done"] else " · playing…")]
    else:
        lines = [head, f"**Step {d['step']} / {d['steps']}** · {d['seconds']:.1f} s{learn}"
                 + (" · done" if d["done"] else " · running…")]
    for key, label in (("sparse", "Sparse-DIP"), ("dense", "dense DIP")):
        s = d[key]
        if s:
            lines.append(f"- {label}: **{s['psnr']:.2f} dB** (peak {s['peak_psnr']:.2f} dB at step {s['peak_step']})")
    return "  \n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:])


def outputs(state: dict) -> tuple:
    """(noisy, dense, sparse, figure, status, details) for one state; images as 8-bit arrays
    (sent as lossless PNG)."""
    from restorelab.io import to_uint8

    snap = state.get("snap")
    d = details(state)
    dense = to_uint8(snap["dense"]) if snap and snap["dense"] is not None else None
    sparse = to_uint8(snap["sparse"]) if snap else None
    return to_uint8(state["noisy"]), dense, sparse, curves_figure(state), status_text(d), d


@user_errors
def oes_denoise(photo, sigma, mask, density, steps, dense, size, learn_steps, preset, seed, replay=True):
    """Denoise one photo with Sparse-DIP (OES), streaming snapshots as it trains.

    photo: the image file, treated as clean (centre-cropped to size × size first).
    sigma: Gaussian noise std added, 0–255 scale, in [1, 100]. mask: "transfer:NAME" (a shipped
    mask, e.g. "transfer:oes-lean-d05"), "learn" (OES on this photo first, learn_steps steps),
    "random" or "magnitude". density: fraction of the generator's parameters kept, BN and biases
    included as in the paper (learn/random/magnitude; a shipped mask keeps its own). steps: Sparse-DIP steps (≤ 3000). dense: also run dense DIP.
    size: working size in [32, 512] (default 128). preset: "auto" | "lean" | "paper" | "tiny".
    seed: noise seed. replay: for a photo and settings recorded in ``examples/oes-replay`` (the
    example photos at the defaults), replay that precomputed full-length run instead of computing
    (then ``steps`` is the recorded length). Yields (noisy PNG, dense-DIP PNG or None, Sparse-DIP PNG, PSNR-curves plot,
    status text, details dict); the last one holds the final images and PSNRs.
    """
    req = parse_request(sigma, mask, density, steps, dense, size, learn_steps, preset, seed, replay)
    for state in run_oes(photo, req):
        yield outputs(state)


def _mask_changed(spec: str):
    """A shipped mask fixes its density and its generator; the other kinds take both from the form."""
    transfer = (spec or "").startswith("transfer")
    return (gr.Slider(interactive=not transfer,
                      info="fixed by the shipped mask" if transfer else "used by learn / random / magnitude"),
            gr.Dropdown(PRESET_CHOICES, value=AUTO_PRESET, interactive=not transfer,
                        info="the shipped mask's own" if transfer else "auto: lean"))


# -- the tab --------------------------------------------------------------------------------------------
def build() -> None:
    gr.Markdown(
        "**OES / Sparse-DIP.** A deep image prior (DIP) fits a randomly initialised network to one noisy "
        "photo; the dense network eventually reproduces the noise too. Optimal Eye Surgeon (OES) learns a "
        "sparse mask over the network at initialisation, and the sparse network (Sparse-DIP) denoises "
        "without overfitting. Here your photo is treated as clean: noise is added, both fits run live, and "
        "their PSNR against the clean photo is drawn step by step.")
    choices = mask_choices()
    default = default_mask()
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            photo = photo_with_examples(label="Photo (treated as clean)", height=260, elem_id="rl-oes-photo")
            sigma = gr.Slider(SIGMA.minimum, SIGMA.maximum, value=SIGMA.default, step=SIGMA.step,
                              label="Noise σ added (0–255 scale)", elem_id="rl-oes-sigma")
            mask = gr.Dropdown(choices, value=default, label="Mask source", elem_id="rl-oes-mask")
            density = gr.Slider(MIN_DENSITY, MAX_DENSITY, value=DEFAULT_DENSITY, step=0.01,
                                label="Mask density (fraction of the network's parameters kept)",
                                interactive=not default.startswith("transfer"),
                                info="fixed by the shipped mask" if default.startswith("transfer")
                                else "used by learn / random / magnitude", elem_id="rl-oes-density")
            steps = gr.Slider(MIN_STEPS, MAX_STEPS, value=DEFAULT_STEPS, step=10, label="Steps",
                              info="600 steps at 128² with dense DIP take about 35-60 s on 2 cores", elem_id="rl-oes-steps")
            dense = gr.Checkbox(True, label="Also run dense DIP (doubles the time; shows how it overfits)",
                                elem_id="rl-oes-dense")
            replay = gr.Checkbox(True, label="Replay precomputed runs (the example photos at these settings: "
                                             "3,000 steps, instantly)", elem_id="rl-oes-replay")
            with gr.Accordion("More settings", open=False):
                size = gr.Slider(MIN_SIZE, MAX_SIZE, value=DEFAULT_SIZE, step=32,
                                 label="Working size (pixels per side)",
                                 info="larger photos are centre-cropped to this; time grows with the area")
                learn_steps = gr.Slider(MIN_LEARN_STEPS, MAX_LEARN_STEPS, value=DEFAULT_LEARN_STEPS, step=10,
                                        label="OES steps when learning the mask here",
                                        info="about as long as Sparse-DIP steps")
                preset = gr.Dropdown(PRESET_CHOICES, value=AUTO_PRESET, label="Generator",
                                     interactive=not (default or "").startswith("transfer"))
                seed = gr.Number(value=0, precision=0, minimum=0, label="Noise seed")
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id="rl-oes-run")
                stop = gr.Button("Stop", variant="stop", elem_id="rl-oes-stop")
        with gr.Column(scale=3, min_width=360):
            status = gr.Markdown(f"Photos are centre-cropped to {DEFAULT_SIZE}×{DEFAULT_SIZE} by default "
                                 "(*More settings*), so a default run takes about a minute.",
                                 elem_id="rl-oes-status")
            with gr.Row():
                noisy_img = gr.Image(label="Noisy input", format="png", type="numpy", interactive=False,
                                     height=240, elem_id="rl-oes-noisy", buttons=["download", "fullscreen"])
                dense_img = gr.Image(label="Dense DIP", format="png", type="numpy",
                                     interactive=False, height=240, elem_id="rl-oes-dense-img",
                                     buttons=["download", "fullscreen"])
                sparse_img = gr.Image(label="Sparse-DIP", format="png", type="numpy", interactive=False,
                                      height=240, elem_id="rl-oes-sparse", buttons=["download", "fullscreen"])
            plot = gr.Plot(label="PSNR curves", show_label=False, elem_id="rl-oes-curves")
            with gr.Accordion("Run details (JSON)", open=False):
                info = gr.JSON(label="details", elem_id="rl-oes-details")

    mask.change(_mask_changed, mask, [density, preset], api_visibility="private", queue=False)
    ev = run.click(oes_denoise, [photo, sigma, mask, density, steps, dense, size, learn_steps, preset, seed, replay],
                   [noisy_img, dense_img, sparse_img, plot, status, info], api_name="oes_denoise",
                   show_progress="minimal", **LONG_JOBS)
    stop.click(None, None, None, cancels=[ev], api_visibility="private", queue=False)
