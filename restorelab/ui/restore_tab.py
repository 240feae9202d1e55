"""The Restore tab and the ``/restore`` API endpoint."""

from __future__ import annotations

import gradio as gr

from restorelab.errors import RestoreLabError
from restorelab.paths import DEFAULT_MODEL, DEFAULT_TICKET
from restorelab.ui import pipeline
from restorelab.ui.common import StopButtons, photo_with_examples, shipped_groups_json, user_errors
from restorelab.ui.gpu import gpu_task
from restorelab.ui.models import ModelStore, classical_models, describe_source, list_models, model_info
from restorelab.ui.pipeline import DEGRADATIONS, INPUT, NO_DEGRADATION

GRIDS_AUTO = "grids-auto"  # pseudo-model: GRIDS picks the group model for the (degraded) input
GRIDS_LABEL = "GRIDS: the selected group's model (automatic)"

# Restores are CPU-bound: one at a time (UI and API share the queue slot), so a long job
# elsewhere (its own concurrency_id) never blocks them and they never oversubscribe the cores.
RESTORE_QUEUE = dict(concurrency_id="restore", concurrency_limit=1)
#: Seconds one restore may hold a ZeroGPU GPU (``ui.gpu``), which ends a call that runs longer. Chosen
#: without a GPU to measure on: generous for two small networks, a ×4 self-ensemble or a tiled photo.
RESTORE_GPU_SECONDS = 120

DEGRADATION_CHOICES = [("None: my photo is already degraded", NO_DEGRADATION),
                       ("Gaussian noise", "gaussian_noise"), ("Camera noise", "camera_noise"),
                       ("JPEG compression", "jpeg"), ("Rain streaks", "rain"), ("Heavy rain", "heavy_rain"),
                       ("Downpour", "downpour"), ("Haze", "haze")]
DEFAULT_DEGRADATION = "gaussian_noise"


def _knob_update(degradation: str):
    name = pipeline.normalise_degradation(degradation)
    if name == NO_DEGRADATION:
        return gr.Slider(visible=False), gr.Number(visible=False)
    k = DEGRADATIONS[name]
    return (gr.Slider(visible=True, label=k.label, minimum=k.minimum, maximum=k.maximum, value=k.default,
                      step=k.step), gr.Number(visible=True))


def _grids_ready(weights_dir) -> bool:
    """True when the shipped GRIDS groups name a model for every group and all of them exist."""
    models = shipped_groups_json(weights_dir).get("models") or []
    try:
        return bool((weights_dir / "grids" / "similarity.json").exists() and isinstance(models, list)
                    and models and all(models) and all(model_info(str(m), weights_dir) for m in models))
    except RestoreLabError:
        return False


def _grids_choice(img):
    """(shipped model name, Selection) for ``img``: GRIDS adaptive selection of the group model."""
    from restorelab.grids import store as artefacts

    sel = artefacts.load_selector().select(img, seed=0)
    if not sel.model:
        raise RestoreLabError(f"GRIDS chose {sel.group}, which has no model in groups.json")
    return sel.model, sel


def _model_choices() -> tuple[list[tuple[str, str]], str | None, str | None]:
    models = list_models()
    choices = [(m.label(), m.name) for m in models]
    if models and _grids_ready(models[0].path.parent):
        choices.append((GRIDS_LABEL, GRIDS_AUTO))
    choices += [(m.label(), m.name) for m in classical_models()]  # what a user would pick instead
    names = [m.name for m in models]
    a = DEFAULT_MODEL if DEFAULT_MODEL in names else (names[0] if names else None)
    # the comparison the app is for: the dense model against a pruned ticket
    pruned = [m.name for m in models if m.kind == "pruned"]
    b = DEFAULT_TICKET if DEFAULT_TICKET in pruned else pruned[0] if pruned else next((n for n in names if n != a), INPUT)
    return choices, a, b


def _run(store: ModelStore, photo, degradation, param, seed, names, progress, display_name=None,
         self_ensemble: int = 1, preview: bool = False, guard: bool = True):
    """Shared by the UI and the API: yields (stage, state) as models finish. With ``preview``, a photo
    big enough for tiles first yields ``("preview", state)``: model A on a downscaled copy (~1 s).
    ``guard``: do no harm (a network's output only where the photo showed a degradation)."""
    if not names:
        raise RestoreLabError(f"no trained model to run: put NAME.safetensors + NAME.json in "
                              f"{store.weights_label} (see README)")
    progress(0.0, desc="Loading the photo")
    clean = pipeline.load_photo(photo, display_name)
    degradation = pipeline.normalise_degradation(degradation)
    progress(0.05, desc="Simulating the degradation" if degradation != NO_DEGRADATION else "Restoring")
    model_in, sim = pipeline.simulate(clean, degradation, param, seed)
    pipeline.check_size_for(names, model_in)
    ref = clean if sim is not None else None
    state = {"input": model_in, "simulated": sim, "ref": ref, "results": {}, "records": {},
             "input_sigma": pipeline.noise_level(model_in), "preview": None,
             "input_score": None if ref is None else pipeline.score(model_in, ref)}  # once, not per update
    if preview and names[0] != GRIDS_AUTO:
        progress(0.08, desc=f"{names[0]}: a quick preview on a downscaled copy")
        state["preview"] = pipeline.preview_with(store, names[0], model_in)
        if state["preview"] is not None:
            yield "preview", state
    for name in names:
        run_name, sel = name, None
        if name == GRIDS_AUTO:
            progress(0.1, desc="GRIDS: measuring the degradation")
            run_name, sel = _grids_choice(model_in)
        info = model_info(run_name, store.weights_dir)

        def cb(done, total, _name=run_name, _eta=pipeline.Eta()):
            if self_ensemble > 1:
                progress((done, total), desc=f"{_name}: restoring, ×{self_ensemble} self-ensemble"
                         + _eta.left(done, total), unit="transforms")
            else:
                progress((done, total), desc=f"{_name}: restoring" + (" tile by tile" if total > 1 else "")
                         + _eta.left(done, total), unit="tiles")

        res = pipeline.restore_with(store, run_name, model_in, progress=cb, self_ensemble=self_ensemble, guard=guard)
        state["results"][name] = res
        rec = pipeline.result_record(res, info, ref, model_in)
        if sel is not None:
            rec["model"] = f"GRIDS → {run_name}"
            rec["grids"] = {"group": sel.group, "tasks": sel.tasks, "distance": round(sel.distance, 4),
                            "ood": sel.ood}
        state["records"][name] = rec
        yield name, state


def _input_record(state) -> dict | None:
    if state["ref"] is None:
        return None
    return {"model": "input (" + state["simulated"]["name"] + ")", "kind": "—",
            **state["input_score"], "params": None, "nonzero_params": None,
            "file_bytes": None, "seconds": None}


def _table(state):
    import pandas as pd

    rows = [pipeline.table_row(r) for r in ([_input_record(state)] if state["ref"] is not None else [])]
    rows += [pipeline.table_row(r) for r in state["records"].values()]
    return pd.DataFrame(rows, columns=pipeline.TABLE_HEADERS)


_RUNTIME = {"torch": "PyTorch", "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO (float32)",
            "openvino-bf16": "OpenVINO (bfloat16, verified on the evaluation sets)"}


def _notes(state, pending: list[str]) -> str:
    h, w = state["input"].shape[:2]
    lines = [f"**{w}×{h}** pixels"
             + (f"; simulated **{state['simulated']['name']}** "
                f"({', '.join(f'{k}={v}' for k, v in state['simulated'].items() if k != 'name')})"
                if state["simulated"] else "; no simulation, so no reference: PSNR/SSIM are not shown")
             + f"; estimated noise level of the model input **σ ≈ {state['input_sigma']:.1f}**/255 "
               "(wavelet estimate: texture and fine detail read as ~1-3, JPEG hides noise)"]
    for rec in state["records"].values():
        g = rec.get("grids")
        warn = pipeline.tone_warning(rec)
        verdict = rec.get("guard")
        lines.append(f"- `{rec['model']}`: "
                     + ("" if verdict is None else f"do no harm: {verdict['sentence']}; " if verdict["kept"] else
                        f"do no harm: **{verdict['sentence']}** (untick *Do no harm* for the network's output); ")
                     + f"{rec['seconds']:.2f} s"
                     + (" (its result from an earlier run on this same input, reused)" if rec.get("reused") else "")
                     + (" (slower than usual: the inference backends were being measured in the background, "
                        "once per model)" if rec.get("backend_measuring") else "")
                     + (f"; output σ ≈ {rec['noise_sigma']:.1f}" if "noise_sigma" in rec else "")
                     + (f"; **{warn}**" if warn else "")
                     + (f", tiled ({pipeline.tiling_note()})" if rec["tiled"] else ", one pass")
                     + (f" per transform, ×{rec['self_ensemble']} self-ensemble" if rec["self_ensemble"] > 1 else "")
                     + (f" with {_RUNTIME.get(rec.get('backend'), rec.get('backend'))} on {rec['device']}"
                        if rec["kind"] != "classical" else "")
                     + f"; weights from {rec['weights_source']}"
                     + (f"; GRIDS chose {g['group']} ({', '.join(g['tasks'])}), distance {g['distance']:.3f}"
                        + (", **out of distribution**: no group fits this photo well" if g["ood"] else "")
                        if g else ""))
    for name in pending:
        lines.append(f"- `{name}`: running…")
    if state["preview"] is not None and not state["records"] and pending:
        from restorelab.inference import PREVIEW_SIDE  # torch is loaded by now; building the app needs neither

        lines.append(f"- Showing a **preview**: `{pending[0]}` on a copy downscaled to "
                     f"{PREVIEW_SIDE} px (left) beside the input; the full-resolution result replaces it.")
    return "\n".join(lines)


def build(store: ModelStore, out_dir: pipeline.OutputDir) -> None:
    """Build the Restore tab's components and events inside the current Blocks/Tab context."""
    choices, default_a, default_b = _model_choices()
    source = describe_source()
    gr.Markdown(
        "Restore a photo with the shipped all-in-one models and compare two of them with the slider: by "
        "default the blind real-photo model (noise, camera noise, JPEG, rain, haze; it leaves a clean photo "
        "alone) against its lottery ticket with 90% of the weights zero. The buttons put what you would "
        "otherwise use, non-local means or CBM3D (noise level estimated from the photo), on the right. "
        "On a clean photo, simulate a degradation first: PSNR/SSIM are then measured against the clean "
        "original (RGB, float, on the server's arrays). The notes give the estimated noise level of the "
        "input and of each output, and say when an output came out darker, brighter or tinted. With *Do no "
        "harm* on (the default), a photo that shows none of the degradations the networks know comes back "
        f"unchanged, and the notes say what was found. {source}"
        + ("" if choices else "\n\n**No trained model found.** Put `NAME.safetensors` + `NAME.json` in "
           f"`{store.weights_label}` (or set `RESTORELAB_WEIGHTS_DIR`)."))
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            photo = photo_with_examples(label="Photo (clean or already degraded)", height=300, elem_id="rl-photo")
            degradation = gr.Radio(DEGRADATION_CHOICES, value=DEFAULT_DEGRADATION,
                                   label="Simulate a degradation on a clean photo", elem_id="rl-degradation")
            k = DEGRADATIONS[DEFAULT_DEGRADATION]
            with gr.Row():
                param = gr.Slider(k.minimum, k.maximum, value=k.default, step=k.step, label=k.label, scale=3)
                seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, scale=1)
            with gr.Row():
                model_a = gr.Dropdown(choices, value=default_a, label="Model A (left)", elem_id="rl-model-a")
                model_b = gr.Dropdown(choices + [("The model's input (no restoration)", INPUT)],
                                      value=default_b, label="Model B (right)", elem_id="rl-model-b")
            with gr.Row():  # what a user would pick instead, one click away
                b_ticket = gr.Button("B: its lottery ticket", size="sm", elem_id="rl-b-ticket",
                                     interactive=default_b is not None and default_b != INPUT)
                b_nlm = gr.Button("B: non-local means", size="sm", elem_id="rl-b-nlm")
                b_bm3d = gr.Button("B: CBM3D (slow)", size="sm", elem_id="rl-b-bm3d")
            ensemble = gr.Checkbox(False, label="×4 self-ensemble: average the restorations of the flipped and "
                                   "half-turned photo: 4× slower, +0.13 to +0.56 dB on every test set for aio-cpu-21k "
                                   "(docs/mirl.md)",
                                   elem_id="rl-ensemble")
            guard = gr.Checkbox(True, label="Do no harm: hand a photo back unchanged unless it shows a degradation "
                                "the networks know (JPEG, noise, rain, haze), and on a JPEG average in the photo re-compressed "
                                "on shifted grids (a light JPEG: only its brightness detail, within what the file allows); "
                                "untick to see every raw output",
                                elem_id="rl-guard")
            with gr.Row():
                run = gr.Button("Restore", variant="primary", elem_id="rl-restore")
                stop = gr.Button("Stop", variant="stop", elem_id="rl-stop")
        with gr.Column(scale=3, min_width=360):
            slider = gr.ImageSlider(label="Model A ◀ ▶ Model B", format="png", type="numpy",
                                    interactive=False, max_height=560, elem_id="rl-slider",
                                    buttons=["download", "fullscreen"])
            table = gr.Dataframe(headers=pipeline.TABLE_HEADERS, interactive=False, label="Comparison",
                                 wrap=True, elem_id="rl-table",
                                 column_widths=["20%", "11%", "9%", "11%", "13%", "13%", "10%", "13%"])
            notes = gr.Markdown(elem_id="rl-notes")
            with gr.Row():
                model_input = gr.Image(label="Model input (after simulation)", format="png", type="numpy",
                                       interactive=False, height=220, elem_id="rl-model-input")
                files = gr.File(label="Download results (lossless PNG)", file_count="multiple",
                                interactive=False, elem_id="rl-files")

    degradation.change(_knob_update, degradation, [param, seed], api_visibility="private", queue=False)
    # a user's own photo is restored as it is; simulating stays one click away (the examples keep it)
    photo.upload(lambda: NO_DEGRADATION, None, degradation, api_visibility="private", queue=False)
    for button, value in ((b_ticket, default_b), (b_nlm, "nlm"), (b_bm3d, "bm3d")):
        button.click(lambda v=value: v, None, model_b, api_visibility="private", queue=False)

    stops = StopButtons()
    page = stops.session()

    @gpu_task(duration=RESTORE_GPU_SECONDS)
    @user_errors
    def restore_ui(photo_path, degr, prm, sd, a, b, ens, grd=True, token=None, progress=gr.Progress()):
        if not a:
            raise RestoreLabError("pick a model for A (no trained model is available yet)"
                                  if not choices else "pick a model for A")
        names = [a] + ([b] if b and b not in (INPUT, a) else [])
        stem = pipeline.original_name(photo_path)
        progress = stops.start(token, progress)
        sent_input = False
        for done, state in _run(store, photo_path, degr, prm, sd, names, progress, self_ensemble=4 if ens else 1,
                                preview=True, guard=bool(grd)):
            # the model input never changes during a run: encoded and sent once, not with every update
            shown_input = gr.skip() if sent_input else state["input"] if state["simulated"] else None
            sent_input = True
            if done == "preview":
                yield (state["preview"], state["input"]), _table(state), _notes(state, names), shown_input, None
                continue
            pending = names[names.index(done) + 1:]
            res_a = state["results"][a].image
            if b == a:
                right = res_a
            elif b in state["results"]:
                right = state["results"][b].image
            else:
                right = state["input"]  # B pending (shown until it finishes) or B = the input
            if pending:
                yield (res_a, right), _table(state), _notes(state, pending), shown_input, None
                continue
            paths = [str(out_dir.save_png(r.image, f"{stem}_{n}")) for n, r in state["results"].items()]
            if state["simulated"]:
                paths.append(str(out_dir.save_png(state["input"], f"{stem}_{state['simulated']['name']}_input")))
            for rec in state["records"].values():
                if "offline fallback" in rec["weights_source"]:
                    gr.Warning(f"Hub unreachable: {rec['model']} uses the local weights copy")
                warn = pipeline.tone_warning(rec)
                if warn:
                    gr.Warning(warn)
            yield (res_a, right), _table(state), _notes(state, []), shown_input, paths

    ev = run.click(restore_ui, [photo, degradation, param, seed, model_a, model_b, ensemble, guard, page],
                   [slider, table, notes, model_input, files], api_visibility="private",
                   show_progress_on=[slider], **RESTORE_QUEUE)
    stop.click(stops.stop, page, None, cancels=[ev], api_visibility="private", queue=False)

    # -- /restore: the scripted endpoint (hidden components, stable signature) ------------------------
    with gr.Column(visible=False):
        api_image = gr.File(label="image", type="filepath")
        api_model = gr.Textbox(label="model", value=default_a or "")
        api_degr = gr.Textbox(label="degradation", value=NO_DEGRADATION)
        api_param = gr.Number(label="param", value=None)
        api_seed = gr.Number(label="seed", value=0, precision=0)
        api_guard = gr.Checkbox(label="guard", value=True)
        api_out = gr.File(label="restored_png")
        api_in = gr.File(label="model_input_png")
        api_metrics = gr.JSON(label="metrics")
        api_btn = gr.Button("restore (API)")

    @gpu_task(duration=RESTORE_GPU_SECONDS)
    @user_errors
    def restore_api(image, model, degradation, param, seed, guard=True, progress=gr.Progress()):
        """Restore one image with one shipped model.

        image: the photo file. model: a shipped model name (see the Restore tab), default the first,
        or "grids-auto" (GRIDS selects the group model; metrics then hold "grids": the chosen group).
        model may also be "nlm" or "bm3d" (classical, noise level estimated from the photo).
        degradation: "none" (default) or gaussian_noise | camera_noise | jpeg | rain | heavy_rain | downpour | haze,
        simulated on the photo (seeded) so PSNR/SSIM against it are returned. param: sigma | shot |
        quality | intensity | density | beta (None: the registry's default/seeded value). seed: int.
        guard (default true): do no harm, a network's output only where the photo showed a degradation,
        else the photo itself; metrics "guard" says which and why (null for nlm/bm3d).
        Returns the restored PNG, the model's input PNG (the simulated degradation, or None) and a
        metrics dict (psnr/ssim are null without a simulated degradation).
        """
        name = (model or default_a or "").strip()
        if not name:
            raise RestoreLabError("no model given and no shipped model available")
        *_, (_, state) = _run(store, image, degradation, param, seed, [name], progress,
                              guard=True if guard is None else bool(guard))
        res = state["results"][name]
        stem = pipeline.original_name(image)
        out_path = out_dir.save_png(res.image, f"{stem}_{name}")
        in_path = (out_dir.save_png(state["input"], f"{stem}_{state['simulated']['name']}_input")
                   if state["simulated"] else None)
        h, w = state["input"].shape[:2]
        rec = dict(state["records"][name])
        rec.update(width=w, height=h, degradation=state["simulated"], input_noise_sigma=state["input_sigma"],
                   warning=pipeline.tone_warning(rec))
        if state["ref"] is not None:
            rec.update({f"input_{k}": v for k, v in pipeline.score(state["input"], state["ref"]).items()})
        return str(out_path), (str(in_path) if in_path else None), rec

    api_btn.click(restore_api, [api_image, api_model, api_degr, api_param, api_seed, api_guard],
                  [api_out, api_in, api_metrics], api_name="restore", **RESTORE_QUEUE)
