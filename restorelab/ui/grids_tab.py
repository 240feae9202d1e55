"""The GRIDS tab and the ``/grids_select`` API endpoint.

Everything comes from the artefacts in ``weights/grids/`` (:mod:`restorelab.grids.store`), read at
request time, so files produced while the app runs appear on the next page load:

* the 11x11 degradation-similarity heatmap (``similarity.json``), or a note saying how to compute it;
* a delta slider re-running the grouping search (Algorithm 1) on the cached matrix and the cached
  performance drops (``deltap.json``) only: nothing is trained, unmeasured groups count as failing
  and are reported as unmeasured;
* adaptive selection for a photo (optionally degraded here with one of the 11 GRIDS degradations):
  distance to each group of ``groups.json`` (or the paper's 4 groups), the chosen group, the
  out-of-distribution flag when a threshold is calibrated, and the restoration by the group's model
  when ``groups.json`` names one.

Building the tab imports no heavy library (torch, OpenCV, SciPy, plotly): the page fills itself
on load.
"""

from __future__ import annotations

import gradio as gr

from restorelab.errors import RestoreLabError
from restorelab.ui import pipeline
from restorelab.ui.common import photo_with_examples, user_errors
from restorelab.ui.gpu import gpu_task
from restorelab.ui.models import ModelStore
from restorelab.ui.restore_tab import RESTORE_GPU_SECONDS, RESTORE_QUEUE

NO_DEGRADATION = "none"
NO_DEGRADATION_LABEL = "None: my photo is already degraded"
DELTA_MIN, DELTA_MAX, DEFAULT_DELTA, DELTA_STEP = 0.1, 2.0, 0.7, 0.05
SEARCH_HEADERS = ["group", "degradations", "ΔP (dB)"]
GROUP_HEADERS = ["group", "degradations", "model"]

CMD = "python -m restorelab grids"
HOW = {
    "similarity": f"`{CMD} similarity`",
    "descriptor": f"`{CMD} descriptor`",
    "deltap": f"`{CMD} measure` or `{CMD} search --measure`",
    "groups": f"`{CMD} export`",
    "threshold": f"`{CMD} calibrate --photos DIR`",
}
NO_SIMILARITY = ("the similarity matrix has not been computed; run " + HOW["similarity"]
                 + " (it writes `weights/grids/similarity.json`).")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- artefacts ---------------------------------------------------------------------------------
def _similarity_or_none():
    """The cached similarity, or None when the file does not exist (a broken file raises)."""
    from restorelab.grids import store

    return store.load_similarity() if store.path("similarity").exists() else None


def _labels(tasks) -> str:
    from restorelab.grids.tasks import LABELS

    return ", ".join(LABELS.get(t, t) for t in tasks)


def degradation_choices() -> list[tuple[str, str]]:
    """Dropdown choices: no simulation, then the 11 GRIDS degradations (paper order)."""
    from restorelab.grids.tasks import LABELS, TASKS

    return [(NO_DEGRADATION_LABEL, NO_DEGRADATION)] + [(LABELS[t], t) for t in TASKS]


def artefact_status() -> str:
    """One Markdown line per artefact: present (and what it holds) or how to produce it."""
    from restorelab.grids import store

    def state(name, describe):
        p = store.path(name)
        if not p.exists():
            return f"missing (run {HOW[name]})"
        try:
            return describe()
        except RestoreLabError as err:
            return f"unreadable: {err}"

    def sim():
        s = store.load_similarity()
        return f"{len(s.tasks)}×{len(s.tasks)} matrix" + (" with per-image references" if s.image_ggds else "")

    def deltap():
        from restorelab.grids.search import DeltaCache

        return f"{len(DeltaCache(store.path('deltap')).values)} measured group(s)"

    def groups():
        gf = store.load_groups()
        shipped = sum(m is not None for m in gf.models)
        return (f"{len(gf.groups)} groups ({gf.source}), {shipped} with a model, OOD threshold "
                + (f"{gf.threshold:.3f}" if gf.threshold is not None else f"uncalibrated (run {HOW['threshold']})"))

    def descriptor():
        from restorelab.grids.similarity import file_hash

        if not store.path("similarity").exists():
            return "present"
        want = store.load_similarity().key.get("descriptor")
        if want in (None, file_hash(store.path("descriptor"))):
            return "present, the one `similarity.json` was computed with"
        return ("present, but **not** the one `similarity.json` was computed with: selection is refused "
                f"until the matrix is recomputed ({HOW['similarity']})")

    rows = [("similarity.json", state("similarity", sim)),
            ("descriptor.safetensors", state("descriptor", descriptor)),
            ("deltap.json", state("deltap", deltap)),
            ("groups.json", state("groups", groups) if store.path("groups").exists()
             else f"missing: the paper's 4 groups are used, without models or OOD threshold (run {HOW['groups']})")]
    return (f"**Artefacts** in `{store.grids_dir()}`:\n\n"
            + "\n".join(f"- `{name}`: {text}" for name, text in rows))


def shipped_groups() -> tuple[str, list[list[str]]]:
    """The groups selection uses (``groups.json``, else the paper's): a caption and table rows."""
    from restorelab.grids import store

    gf = store.load_groups()
    if store.path("groups").exists():
        cap = f"**Groups used for selection** (`groups.json`, {gf.source})"
    else:
        cap = ("**Groups used for selection**: the paper's 4 groups (δ = 0.7 dB); no `groups.json` yet, "
               "so no group model and no OOD threshold")
    rows = [[n, _labels(g), m or "— (not shipped yet)"] for n, g, m in zip(gf.names, gf.groups, gf.models)]
    return cap, rows


def heatmap():
    """``(figure or None, note)``: the cached 11x11 matrix, or why there is none."""
    from restorelab.plots import similarity_heatmap

    sim = _similarity_or_none()
    if sim is None:
        return None, _sentence(NO_SIMILARITY)
    fig = similarity_heatmap(sim.labels, sim.matrix, title="Degradation similarity (smaller = more similar)",
                             colorbar_title="distance")
    key = sim.key
    bits = [f"{len(key.get('photos', []))} photos" if key.get("photos") else None,
            f"layer {key['config']['layer']}" if isinstance(key.get("config"), dict) and "layer" in key["config"]
            else None, "symmetric KL" if key.get("symmetric") else "KL(row ‖ column)"]
    return fig, ("Distance between degradations i (row) and j (column): log10(KL + 1e-5) + 5 between the "
                 "generalized-Gaussian fits of the descriptor's features; "
                 + ", ".join(b for b in bits if b) + ".")


def shipped_delta() -> float:
    """The δ the shipped groups were searched with (the paper's 0.7 dB when there are none)."""
    from restorelab.ui.common import shipped_groups_json

    try:
        delta = float((shipped_groups_json().get("search") or {}).get("delta", DEFAULT_DELTA))
    except (TypeError, ValueError, AttributeError):
        return DEFAULT_DELTA
    return min(max(delta, DELTA_MIN), DELTA_MAX)


def regroup(delta) -> tuple[str, list[list[str]]]:
    """Re-run the grouping search at ``delta`` dB on the cached matrix and ΔP values only
    (nothing is trained): a Markdown summary and table rows."""
    from restorelab.grids import store
    from restorelab.grids.search import DeltaCache, search

    if delta is None:
        raise RestoreLabError("give δ in dB")
    delta = float(delta)
    if not DELTA_MIN <= delta <= DELTA_MAX:
        raise RestoreLabError(f"δ must be in [{DELTA_MIN}, {DELTA_MAX}] dB, got {delta}")
    sim = _similarity_or_none()
    if sim is None:
        return "The grouping search needs the similarity matrix: " + NO_SIMILARITY, []
    cache = DeltaCache(store.path("deltap"))  # no measuring function: cache only
    res = search(sim.tasks, sim.matrix, cache, store.search_config(delta))  # the shipped search's settings
    rows = []
    for i, g in enumerate(res.groups):
        dp = cache.known(g)
        rows.append([f"G{i + 1}", _labels(g), "0 (single task)" if len(g) == 1 else
                     f"{dp:.2f}" if dp is not None else "unmeasured"])
    lines = [f"**δ = {delta:g} dB → {len(res.groups)} groups** (largest group size L_max = {res.l_max}; "
             f"ΔP values from `deltap.json`, {len(cache.values)} measured group(s))."]
    if not store.path("deltap").exists():
        lines.append(f"No `deltap.json` yet: only single tasks verify (run {HOW['deltap']}).")
    if res.unverified:
        shown = "; ".join(k.replace("+", ", ") for k in res.unverified[:6])
        more = f" and {len(res.unverified) - 6} more" if len(res.unverified) > 6 else ""
        lines.append(f"**{len(res.unverified)} candidate group(s) are unmeasured** and were counted as failing "
                     f"({shown}{more}); measure them with `{CMD} search --delta {delta:g} --measure`.")
    return "\n\n".join(lines), rows


def overview():
    """Everything the tab shows on page load; a broken artefact shows its error in its own panel."""
    def err(e):
        return f"**Error:** {e}"

    try:
        status = artefact_status()
    except RestoreLabError as e:
        status = err(e)
    try:
        fig, note = heatmap()
    except RestoreLabError as e:
        fig, note = None, err(e)
    try:
        search_md, search_rows = regroup(shipped_delta())
    except RestoreLabError as e:
        search_md, search_rows = err(e), []
    try:
        groups_cap, group_rows = shipped_groups()
    except RestoreLabError as e:
        groups_cap, group_rows = err(e), []
    return (status, gr.Plot(value=fig, visible=fig is not None), note, search_md,
            _frame(search_rows, SEARCH_HEADERS), groups_cap, _frame(group_rows, GROUP_HEADERS),
            gr.Dropdown(choices=degradation_choices(), value=NO_DEGRADATION))


def _frame(rows, headers):
    import pandas as pd

    return pd.DataFrame(rows, columns=headers)


# -- selection ---------------------------------------------------------------------------------
def _task(degradation: str | None) -> str:
    from restorelab.grids.tasks import check_tasks

    name = (degradation or NO_DEGRADATION).strip()
    if name.lower() in ("", "none", "no", "off"):
        return NO_DEGRADATION
    return check_tasks([name])[0]


def _seed(seed) -> int:
    if seed is None or seed == "":
        return 0
    try:
        s = float(seed)
    except (TypeError, ValueError):
        raise RestoreLabError(f"seed must be a non-negative integer, got {seed!r}") from None
    if s < 0 or s != int(s):
        raise RestoreLabError(f"seed must be a non-negative integer, got {seed!r}")
    return int(s)


def run_selection(store: ModelStore, photo, degradation, seed, progress=None) -> dict:
    """Shared by the UI and the API: load → (simulate) → select → restore with the group's model.

    Returns ``{"selection": dict, "input": array, "simulated": dict | None, "restored": Restored | None,
    "note": str | None, "groups_source": str}``.
    """
    from restorelab.grids import store as artefacts
    from restorelab.ui.models import model_info

    progress = progress or (lambda *a, **k: None)
    task, seed = _task(degradation), _seed(seed)
    progress(0.0, desc="Loading the GRIDS artefacts")
    if not artefacts.path("similarity").exists():
        raise RestoreLabError("selection needs the similarity matrix's reference GGDs: " + NO_SIMILARITY)
    selector = artefacts.load_selector()
    progress(0.1, desc="Loading the photo")
    img = pipeline.load_photo(photo)
    simulated = None
    if task != NO_DEGRADATION:
        from restorelab.grids.tasks import degrade

        progress(0.15, desc="Simulating the degradation")
        img, simulated = degrade(task, img, seed=seed), {"name": task, "seed": seed}
    progress(0.25, desc="Measuring the photo's degradation")
    sel = selector.select(img, seed=seed)
    restored, note = None, None
    if sel.model:
        try:
            model_info(sel.model, store.weights_dir)
        except RestoreLabError:
            note = (f"groups.json names `{sel.model}` for {sel.group}, but it is not in `{store.weights_label}`; "
                    "only the selection is shown")
        else:
            def cb(done, total):
                progress((done, total), desc=f"{sel.model}: restoring", unit="tiles")

            restored = pipeline.restore_with(store, sel.model, img, progress=cb)
    else:
        note = (f"no group model is shipped yet for {sel.group} (run {HOW['groups']} after training the "
                "group models); only the selection is shown")
    return {"selection": sel.to_dict(), "input": img, "simulated": simulated, "restored": restored,
            "note": note, "groups_source": selector.groups_file.source}


def verdict(result: dict) -> str:
    """The chosen group, the OOD verdict and what restored the photo, in Markdown."""
    s = result["selection"]
    if s.get("rule") == "feature":  # chosen by the nearest task Gaussian, not by the GGD distance
        near = s.get("nearest_task")
        lines = [f"**Chosen group: {s['group']}** ({_labels(s['tasks'])}): the photo's features are closest to "
                 f"{_labels([near]) if near else 'a member'} (GGD distance {s['distance']:.4f})."]
    else:
        how = ("to its closest member's GGD" if s.get("rule") == "nearest" else "to the mean of its members' GGDs")
        lines = [f"**Chosen group: {s['group']}** ({_labels(s['tasks'])}), distance {s['distance']:.4f} ({how})."]
    if s["threshold"] is None:
        lines.append(f"OOD threshold: **uncalibrated** (run {HOW['threshold']}), so no out-of-distribution "
                     "check is made.")
    elif s["ood"]:
        lines.append(f"⚠️ **Out of distribution:** {_ood_what(s)} {_ood_score(s):.4f} is above the "
                     f"calibrated threshold {s['threshold']:.4f}. This photo's degradation resembles none of "
                     "the groups; the group's model may restore it poorly.")
    else:
        lines.append(f"In distribution: {_ood_what(s)} {_ood_score(s):.4f} ≤ calibrated threshold "
                     f"{s['threshold']:.4f}.")
    r = result["restored"]
    if r is not None:
        lines.append(f"Restored by `{r.name}` in {r.seconds:.2f} s"
                     + (f" ({pipeline.tiling_note()})" if r.tiled else "") + f"; weights from {r.source}.")
    if result["note"]:
        lines.append(_sentence(result["note"]) + ".")
    sim = result["simulated"]
    src = result["groups_source"]
    lines.append(("Groups: the paper's 4 groups (no `groups.json`)" if src == "paper"
                  else f"Groups: `groups.json` ({src})")
                 + (f"; simulated **{_labels([sim['name']])}** (seed {sim['seed']})." if sim else "."))
    return "\n\n".join(lines)


def _ood_score(s: dict) -> float:
    """The number the OOD threshold is compared with (older selections: the group distance)."""
    return s["ood_score"] if s.get("ood_score") is not None else s["distance"]


def _ood_what(s: dict) -> str:
    if s.get("ood_method") == "feature":
        return (f"the OOD score (feature distance to the nearest in-distribution task, "
                f"{_labels([s['nearest_task']])})" if s.get("nearest_task") else "the OOD score")
    return "the smallest group distance"


def selection_figure(result: dict):
    from restorelab.plots import distance_bar

    s = result["selection"]
    # the threshold is drawn on the distance bars only when it is a threshold on that distance
    on_bars = s["threshold"] if s.get("ood_method", "distance") == "distance" else None
    return distance_bar(s["distances"], s["group"], on_bars,
                        title="Distance to each group (smallest = chosen" +
                              (", dashed: OOD threshold)" if on_bars is not None else ")"))


def api_record(result: dict) -> dict:
    """The JSON the ``/grids_select`` endpoint returns."""
    r = result["restored"]
    s = dict(result["selection"])
    h, w = result["input"].shape[:2]
    s.update(labels=[_labels([t]) for t in s["tasks"]], calibrated=s["threshold"] is not None,
             simulated=result["simulated"], restored_with=r.name if r is not None else None,
             seconds=round(r.seconds, 4) if r is not None else None, note=result["note"],
             groups_source=result["groups_source"], width=w, height=h)
    return s


# -- layout and events -------------------------------------------------------------------------
def build(store: ModelStore | None = None, out_dir: pipeline.OutputDir | None = None) -> None:
    """Build the GRIDS tab inside the current Blocks/Tab context (``store``/``out_dir``: the app's,
    else the tab's own)."""
    gr.Markdown(
        "**GRIDS.** Measure how similar degradations are (KL divergence between generalized-Gaussian "
        "fits of a network's features), group the similar ones, train one model per group, and pick "
        "the right group's model for a new photo automatically.")
    store = store or ModelStore()
    out_dir = out_dir or pipeline.OutputDir()
    status = gr.Markdown("Loading the GRIDS artefacts…", elem_id="rl-grids-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            gr.Markdown("### Degradation similarity")
            heat = gr.Plot(label="11×11 degradation similarity", visible=False, elem_id="rl-grids-heatmap")
            heat_note = gr.Markdown(elem_id="rl-grids-heatmap-note")
        with gr.Column(scale=2, min_width=320):
            gr.Markdown("### Grouping search")
            delta = gr.Slider(DELTA_MIN, DELTA_MAX, value=shipped_delta(), step=DELTA_STEP,
                              label="δ: largest performance drop allowed within a group (dB)",
                              info="Re-runs Algorithm 1 on the cached matrix and measured ΔP values; trains nothing.",
                              elem_id="rl-grids-delta")
            search_md = gr.Markdown(elem_id="rl-grids-search")
            search_df = gr.Dataframe(headers=SEARCH_HEADERS, interactive=False, wrap=True,
                                     label="Groups found at this δ", elem_id="rl-grids-search-table",
                                     column_widths=["14%", "60%", "26%"])
    gr.Markdown("### Adaptive model selection")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            photo = photo_with_examples(label="Photo (clean or already degraded)", height=280, elem_id="rl-grids-photo")
            with gr.Row():
                degradation = gr.Dropdown([(NO_DEGRADATION_LABEL, NO_DEGRADATION)], value=NO_DEGRADATION,
                                          label="Simulate a GRIDS degradation on a clean photo", scale=3,
                                          elem_id="rl-grids-degradation")
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", scale=1)
            select_btn = gr.Button("Select", variant="primary", elem_id="rl-grids-select")
            groups_md = gr.Markdown(elem_id="rl-grids-groups")
            groups_df = gr.Dataframe(headers=GROUP_HEADERS, interactive=False, wrap=True,
                                     elem_id="rl-grids-groups-table", column_widths=["16%", "54%", "30%"])
        with gr.Column(scale=3, min_width=360):
            bars = gr.Plot(label="Distance to each group", elem_id="rl-grids-bars")
            verdict_md = gr.Markdown(elem_id="rl-grids-verdict")
            with gr.Row():
                model_input = gr.Image(label="Selection input (after simulation)", format="png", type="numpy",
                                       interactive=False, height=260, elem_id="rl-grids-input")
                restored = gr.Image(label="Restored by the group's model", format="png", type="numpy",
                                    interactive=False, height=260, elem_id="rl-grids-restored",
                                    buttons=["download", "fullscreen"])

    # Page load: artefacts are read now, not when the app was built (they may appear while it runs).
    gr.on(None, overview, None, [status, heat, heat_note, search_md, search_df, groups_md, groups_df, degradation],
          api_visibility="private")

    @user_errors
    def regroup_ui(d):
        md, rows = regroup(d)
        return md, _frame(rows, SEARCH_HEADERS)

    delta.release(regroup_ui, delta, [search_md, search_df], api_visibility="private")

    @gpu_task(duration=RESTORE_GPU_SECONDS)  # the group model's restoration (selection itself stays on the CPU)
    @user_errors
    def select_ui(photo_path, degr, sd, progress=gr.Progress()):
        res = run_selection(store, photo_path, degr, sd, progress)
        s = res["selection"]
        if s["ood"]:
            gr.Warning(f"Out of distribution: {_ood_what(s)} {_ood_score(s):.3f} > threshold {s['threshold']:.3f}")
        return (selection_figure(res), verdict(res), res["input"] if res["simulated"] else None,
                res["restored"].image if res["restored"] is not None else None)

    select_btn.click(select_ui, [photo, degradation, seed], [bars, verdict_md, model_input, restored],
                     api_visibility="private", show_progress_on=[bars], **RESTORE_QUEUE)

    # -- /grids_select: the scripted endpoint (hidden components, stable signature) -------------
    with gr.Column(visible=False):
        api_image = gr.File(label="image", type="filepath")
        api_degr = gr.Textbox(label="degradation", value=NO_DEGRADATION)
        api_seed = gr.Number(label="seed", value=0, precision=0)
        api_out = gr.File(label="restored_png")
        api_in = gr.File(label="model_input_png")
        api_sel = gr.JSON(label="selection")
        api_btn = gr.Button("grids_select (API)")

    @gpu_task(duration=RESTORE_GPU_SECONDS)
    @user_errors
    def grids_select(image, degradation, seed, progress=gr.Progress()):
        """Pick the GRIDS group (and its model) for one image, and restore it when the group has a model.

        image: the photo file. degradation: "none" (default) or one of the 11 GRIDS degradations
        (gaussian_blur, motion_blur, richardson_lucy, sr, ringing, defocus_blur, jpeg, poisson_noise,
        inpainting, gaussian_noise, salt_pepper), simulated on the photo with the seed. seed: int ≥ 0
        (simulation and patch sampling).
        Returns the restored PNG (None when the group has no shipped model), the model's input PNG
        (the simulated degradation, or None) and the selection: group, tasks, labels, distance,
        distances (group -> distance), ood, threshold (None = uncalibrated), calibrated, model,
        restored_with, note, groups_source, simulated, width, height.
        """
        res = run_selection(store, image, degradation, seed, progress)
        stem = pipeline.original_name(image)
        r = res["restored"]
        out_path = out_dir.save_png(r.image, f"{stem}_{r.name}") if r is not None else None
        in_path = (out_dir.save_png(res["input"], f"{stem}_{res['simulated']['name']}_input")
                   if res["simulated"] else None)
        return (str(out_path) if out_path else None, str(in_path) if in_path else None, api_record(res))

    api_btn.click(grids_select, [api_image, api_degr, api_seed], [api_out, api_in, api_sel],
                  api_name="grids_select", **RESTORE_QUEUE)
