"""The Lottery tickets tab (MIR-L).

* the per-layer sparsity of the shipped models (read from their weight files or cards);
* the pruning rounds of the shipped tickets, from their ``NAME.rounds.jsonl`` records (written by
  ``restorelab export`` next to the model): a round slider over the per-layer sparsity of the IMP
  tickets, global vs layer-wise side by side, and PSNR-vs-non-zero-parameters curves per task, with
  the one-shot and re-init baselines as single markers. The records are read when the tab is opened
  (files exported while the app runs appear on the next visit), never at import or build time;
* the live classroom experiment (``restorelab.lottery.demo``, endpoint ``/lottery_demo``).
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from restorelab.errors import RestoreLabError
from restorelab.ui.common import user_errors
from restorelab.ui.models import ModelStore, list_models, model_info

# Long CPU jobs (the live lottery experiment, OES runs) share one slot of their own, so they
# never take the restore slot: register them with **LONG_JOBS.
LONG_JOBS = dict(concurrency_id="long_jobs", concurrency_limit=1)


# Bounds on the live experiment so one request cannot hold the CPU for long.
MAX_ROUNDS, MAX_STEPS = 8, 600
ARMS = (("ticket_psnr", "winning ticket (rewound to θ0)"), ("reinit_psnr", "same mask, random re-init"),
        ("oneshot_psnr", "one-shot magnitude pruning"))
LIVE_HEADERS = ["round", "sparsity", "weights kept", "ticket PSNR", "re-init PSNR", "one-shot PSNR", "elapsed s"]


def _demo_config(rounds, rate, steps, seed):
    from restorelab.errors import RestoreLabError
    from restorelab.lottery.demo import DemoConfig

    rounds, steps = int(rounds if rounds is not None else 5), int(steps if steps is not None else DemoConfig.steps)
    if not 1 <= rounds <= MAX_ROUNDS:
        raise RestoreLabError(f"rounds must be in [1, {MAX_ROUNDS}], got {rounds}")
    if not 5 <= steps <= MAX_STEPS:
        raise RestoreLabError(f"steps must be in [5, {MAX_STEPS}], got {steps}")
    seed = int(seed or 0)
    return DemoConfig(rounds=rounds, rate=float(rate if rate is not None else 0.4), steps=steps,
                      seed=seed, reinit_seed=seed + DemoConfig.reinit_seed,  # never the ticket's own seed
                      oneshot_steps=max(1, round(steps * 0.05)))


def live_figure(records: list[dict]):
    from restorelab.plots import psnr_vs_params

    pts = [{"series": label, "nonzero_params": r["kept_weights"], "psnr": {"toy denoising": r[key]},
            "round": r["round"]}
           for r in records for key, label in ARMS if r.get(key) is not None]
    ref = records[0].get("dense_psnr") if records else None
    return psnr_vs_params(pts, title="Classroom experiment: validation PSNR as weights are pruned",
                          color_by="series", reference=ref, reference_label="dense network")


def _live_table(records: list[dict]):
    import pandas as pd

    f = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    rows = [[r["round"], f"{r['sparsity']:.1%}", f"{r['kept_weights']:,}", f(r["ticket_psnr"]),
             f(r["reinit_psnr"]), f(r["oneshot_psnr"]), f"{r['seconds']:.1f}"] for r in records]
    return pd.DataFrame(rows, columns=LIVE_HEADERS)


def run_live(rounds, rate, steps, seed, progress=None):
    """Yield the growing list of round records (JSON-friendly)."""
    from restorelab.lottery.demo import run_demo

    cfg = _demo_config(rounds, rate, steps, seed)
    records: list[dict] = []
    for rec in run_demo(cfg):
        records.append({k: (float(v) if isinstance(v, float) else v) for k, v in rec.items()})
        if progress is not None:
            progress((len(records), cfg.rounds + 1), desc=f"round {rec['round']} of {cfg.rounds} done",
                     unit="rounds")
        yield list(records)


def _build_live_demo() -> None:
    gr.Markdown(
        "### Live classroom experiment\n"
        "A tiny denoiser (a 5-layer CNN on synthetic patches) is trained, then pruned round by round "
        "(global magnitude, a fraction of the surviving weights each round). Each round trains three "
        "networks with the same number of weights: the **winning ticket** (survivors rewound to their "
        "initial values θ0), the **same mask with a fresh random initialisation**, and **one-shot "
        "pruning** of the trained dense network plus a short fine-tune. A winning ticket should stay "
        "near the dense network while the random re-initialisation falls behind. Each point appears as "
        "its round finishes (one to two minutes with the default settings on two CPU cores).")
    with gr.Row():
        rounds = gr.Slider(1, MAX_ROUNDS, value=5, step=1, label="Pruning rounds", elem_id="rl-lottery-nrounds")
        rate = gr.Slider(0.1, 0.8, value=0.4, step=0.05, label="Fraction pruned per round")
        steps = gr.Slider(20, MAX_STEPS, value=200, step=20, label="Training steps per network",
                          elem_id="rl-lottery-steps")
        seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)
    with gr.Row():
        run = gr.Button("Run the experiment", variant="primary", elem_id="rl-lottery-run")
        stop = gr.Button("Stop", variant="stop", elem_id="rl-lottery-stop")
    live_plot = gr.Plot(label="PSNR vs weights kept", elem_id="rl-lottery-live")
    live_table = gr.Dataframe(headers=LIVE_HEADERS, interactive=False, label="Rounds",
                              elem_id="rl-lottery-rounds")

    @user_errors
    def lottery_live_ui(r, p, s, sd, progress=gr.Progress()):
        for records in run_live(r, p, s, sd, progress):
            yield live_figure(records), _live_table(records)

    ev = run.click(lottery_live_ui, [rounds, rate, steps, seed], [live_plot, live_table],
                   api_visibility="private", **LONG_JOBS)
    stop.click(None, None, None, cancels=[ev], api_visibility="private", queue=False)

    with gr.Column(visible=False):
        a_rounds = gr.Number(label="rounds", value=5, precision=0)
        a_rate = gr.Number(label="rate", value=0.4)
        a_steps = gr.Number(label="steps", value=200, precision=0)
        a_seed = gr.Number(label="seed", value=0, precision=0)
        a_out = gr.JSON(label="records")
        a_btn = gr.Button("lottery_demo (API)")

    @user_errors
    def lottery_demo(rounds, rate, steps, seed, progress=gr.Progress()):
        """Run the classroom lottery experiment; streams the list of round records so far.

        Each record: round, sparsity, kept_weights, ticket_psnr, reinit_psnr, oneshot_psnr
        (dB on the toy validation set; None in round 0), dense_psnr, noisy_psnr, seconds.
        rounds ≤ 8, 5 ≤ steps ≤ 600, 0 < rate < 1.
        """
        yield from run_live(rounds, rate, steps, seed, progress)

    a_btn.click(lottery_demo, [a_rounds, a_rate, a_steps, a_seed], a_out, api_name="lottery_demo", **LONG_JOBS)


def model_layers(store: ModelStore, name: str) -> tuple[dict[str, float], dict[str, int]]:
    """Per-layer sparsity of a shipped model and each tensor's size, in network order: from its card
    when exported with a report (the preset's parameter order), else counted on the loaded weights."""
    from restorelab.models import create_model
    from restorelab.ui.data import card_layers, in_network_order, layer_sparsity, layer_totals

    info = model_info(name)
    layers = card_layers(info.card)
    if layers is None:
        model = store.full_model(name)
        return layer_sparsity(model), {n: p.numel() for n, p in model.named_parameters()}
    preset = info.card.get("preset")
    try:
        order = [n for n, _ in create_model(preset).named_parameters()] if preset else []
    except RestoreLabError:  # a preset this version does not build: keep the card's order
        order = []
    return in_network_order(layers, order), layer_totals(info.card.get("layers"))


def _model_label(name: str) -> str:
    info = model_info(name)
    return f"{name} ({info.kind}{', ' + str(info.card['strategy']) if info.card.get('strategy') else ''})"


def sparsity_figure(store: ModelStore, names, view: str = "blocks") -> tuple:
    """Per-layer sparsity of the chosen models: a blocks x layer-kinds grid per model (``view="blocks"``)
    or grouped bars, one per weight tensor (``view="layers"``)."""
    from restorelab.plots import layer_sparsity_bar, sparsity_grid
    from restorelab.ui.data import block_sparsity, check_view, short_layer_names

    check_view(view or "blocks")
    names = [names] if isinstance(names, str) else list(names or [])
    if not names:
        return None, "Pick one or more shipped models."
    series, lines = {}, []
    for name in names:
        info = model_info(name)
        layers, totals = model_layers(store, name)
        if view == "layers":
            short = short_layer_names(list(layers))
            series[_model_label(name)] = {short[k]: v for k, v in layers.items()}
        else:
            series[_model_label(name)] = block_sparsity(layers, totals)
        total, nz = info.params, info.nonzero_params
        lines.append(f"- `{name}` ({info.kind}): {len(layers)} weight tensors"
                     + (f"; {nz:,} of {total:,} parameters non-zero ({1 - nz / total:.1%} sparse overall)"
                        if nz is not None and total else ""))
    if view == "layers":
        fig = layer_sparsity_bar(series if len(series) > 1 else next(iter(series.values())),
                                 title="Fraction of zero weights per layer"
                                       + ("" if len(series) > 1 else f": {next(iter(series))}"))
    else:
        fig = sparsity_grid(series, title="Fraction of zero weights by block and layer kind")
    return fig, "\n".join(lines)


def mask_layers(store: ModelStore, name: str) -> list[str]:
    """The weight tensors of a model whose mask can be drawn (2-D or more), largest first."""
    layers, totals = model_layers(store, name)
    return sorted((n for n in layers if totals.get(n, 0) >= 64), key=lambda n: -totals.get(n, 0))


def mask_figure(store: ModelStore, names, layer: str | None = None):
    """The kept/pruned pattern of one weight tensor in each chosen model (default: the largest one)."""
    from restorelab.plots import mask_picture

    names = [names] if isinstance(names, str) else list(names or [])
    if not names:
        raise RestoreLabError("pick one or more shipped models")
    layer = layer or (mask_layers(store, names[0]) or [None])[0]
    masks = {}
    for name in names:
        params = dict(store.full_model(name).named_parameters())
        if layer not in params:
            raise RestoreLabError(f"{name} has no weight tensor {layer!r}")
        w = params[layer].detach()
        masks[name] = (w.reshape(w.shape[0], -1) != 0).numpy()
    return mask_picture(masks, title=f"Kept (bright) and pruned (dark) weights of {layer.removesuffix('.weight')}")


# -- pruning rounds of the shipped tickets ------------------------------------------------------------
NO_TICKETS = ("No pruned model with pruning records is shipped yet: the round slider and the "
              "PSNR-vs-parameters curves appear once `weights/` holds an exported ticket "
              "(`python -m restorelab export --run-dir runs/NAME --name NAME` writes `NAME.rounds.jsonl` "
              "next to the model).")


def load_tickets(store: ModelStore):
    """``(tickets, problems)``: the shipped pruned models with a rounds file, read now."""
    from restorelab.ui.data import shipped_tickets

    return shipped_tickets(list_models(store.weights_dir))


def _pct(x) -> str:
    return f"{float(x):.1%}"


def tickets_summary(tickets, problems=()) -> str:
    """One Markdown line per ticket (its last record) and per unreadable rounds file."""
    from restorelab.ui.data import MEAN_TASK, STRATEGY_LABELS, record_psnr

    lines = []
    for t in tickets:
        rec = t.records[-1]
        psnr = record_psnr(rec, MEAN_TASK)
        kind = STRATEGY_LABELS.get(t.strategy, t.strategy)
        paper_name = str(rec.get("name") or "")
        made = (f"rounds 0–{t.last_round}" if t.is_imp else
                paper_name if paper_name not in ("", t.strategy, kind) else "")
        lines.append(f"- `{t.name}` ({kind}{', ' + made if made else ''}): {_pct(rec['sparsity'])} of all "
                     f"weights zero, {int(rec['nonzero_params']):,} non-zero"
                     + (f"; validation PSNR {psnr:.2f} dB (mean over tasks)" if psnr is not None else ""))
    lines += [f"- ⚠️ {p} (left out)" for p in problems]
    head = f"**{len(tickets)} shipped pruned model(s) with pruning records:**" if tickets else NO_TICKETS
    return head + ("\n\n" + "\n".join(lines) if lines else "")


def round_figure(tickets, round_, view: str = "blocks") -> tuple:
    """``(figure or None, Markdown)``: per-layer sparsity of every IMP ticket after ``round_``
    (``view`` as in :func:`sparsity_figure`)."""
    from restorelab.plots import layer_sparsity_bar, sparsity_grid
    from restorelab.ui.data import MEAN_TASK, record_psnr, round_layer_series

    if round_ is None:
        raise RestoreLabError("pick a pruning round")
    r = int(round_)
    series, missing = round_layer_series(tickets, r, view or "blocks")
    lines = []
    for t in tickets:
        rec = t.at_round(r) if t.is_imp else None
        if rec is None:
            continue
        psnr = record_psnr(rec, MEAN_TASK)
        prunable = rec.get("prunable_sparsity")
        lines.append(f"- `{t.label}`: {_pct(rec['sparsity'])} of all weights zero"
                     + (f" ({_pct(prunable)} of the prunable ones)" if prunable is not None else "")
                     + f", {int(rec['nonzero_params']):,} non-zero"
                     + (f"; validation PSNR {psnr:.2f} dB" if psnr is not None else ""))
    lines += [f"- `{name}`: exported before round {r}" for name in missing]
    head = f"**Round {r}**" + (" (the dense model)" if r == 0 else "")
    if not series:
        return None, head + ": no IMP ticket has this round.\n\n" + "\n".join(lines)
    fig = (layer_sparsity_bar(series, title=f"Fraction of zero weights per layer after round {r}") if view == "layers"
           else sparsity_grid(series, title=f"Fraction of zero weights by block and layer kind after round {r}"))
    return fig, head + "\n\n" + "\n".join(lines)


def curves_figure(tickets, task):
    """PSNR against non-zero parameters for ``task`` (or the mean): one line per IMP ticket (round 0
    = dense on the left), one marker per baseline, the dense PSNR as a dotted reference."""
    from restorelab.plots import psnr_vs_params
    from restorelab.plots.figures import add_param_markers
    from restorelab.ui.data import MEAN_TASK, dense_psnr, psnr_points

    task = task or MEAN_TASK
    imp, other = psnr_points(tickets, task)
    if not imp and not other:
        raise RestoreLabError(f"no validation PSNR for {task!r} in the pruning records")
    what = "mean over tasks" if task == MEAN_TASK else task
    title = f"Validation PSNR vs non-zero parameters ({what})"
    # One pseudo-series: psnr_vs_params then names (and colours) each line by its ticket.
    lines = [{"series": "IMP", "nonzero_params": p["nonzero_params"], "psnr": {label: p["psnr"]}, "round": p["round"]}
             for label, pts in imp.items() for p in pts]
    fig = psnr_vs_params(lines, title=title, reference=dense_psnr(tickets, task),
                         reference_label="dense (round 0)") if lines else None
    if other:
        fig = add_param_markers(fig, [{"series": label, "nonzero_params": p["nonzero_params"],
                                       "psnr": p["psnr"], "sparsity": p["sparsity"]}
                                      for label, pts in other.items() for p in pts], title=title)
    return fig


def rounds_view(store: ModelStore) -> dict:
    """Everything the rounds panel shows when the tab is opened; a broken panel shows its error."""
    from restorelab.ui.data import MEAN_TASK, task_choices

    tickets, problems = load_tickets(store)
    view = {"tickets": tickets, "summary": tickets_summary(tickets, problems), "imp": any(t.is_imp for t in tickets),
            "max_round": max((t.last_round for t in tickets if t.is_imp), default=0),
            "choices": task_choices(tickets), "task": MEAN_TASK, "layers": None, "round_md": "", "curves": None,
            "curves_md": ""}
    if not tickets:
        return view
    if view["imp"]:
        try:
            view["layers"], view["round_md"] = round_figure(tickets, view["max_round"])
        except RestoreLabError as err:
            view["round_md"] = f"**Error:** {err}"
    try:
        view["curves"] = curves_figure(tickets, MEAN_TASK)
    except RestoreLabError as err:
        view["curves_md"] = f"**Error:** {err}"
    return view


def _build_rounds(store: ModelStore, tab: gr.Tab | None, view: gr.Radio | None = None) -> None:
    from restorelab.ui.data import MEAN_TASK

    gr.Markdown("### Pruning rounds of the shipped tickets")
    summary = gr.Markdown("The pruning records are read when this tab is opened.", elem_id="rl-lottery-tickets")
    tickets_state = gr.State(None)
    with gr.Column(visible=False) as box:
        with gr.Column(visible=False) as imp_box:
            gr.Markdown("Iterative magnitude pruning (IMP) removes a fraction of the remaining weights each "
                        "round, then rewinds the survivors and retrains. **Global** pruning ranks all weights "
                        "together, so some layers empty much faster than others; **layer-wise** pruning removes "
                        "the same fraction from every layer.")
            round_slider = gr.Slider(0, 1, value=0, step=1, label="Pruning round (0 = the dense model)",
                                     elem_id="rl-lottery-round-slider")
            round_md = gr.Markdown(elem_id="rl-lottery-round-info")
            layers_plot = gr.Plot(label="Per-layer sparsity at this round", elem_id="rl-lottery-layers")
        task = gr.Dropdown([("mean over tasks", MEAN_TASK)], value=MEAN_TASK, label="Task (validation PSNR)",
                           elem_id="rl-lottery-task")
        curves_md = gr.Markdown()
        curves_plot = gr.Plot(label="PSNR vs non-zero parameters", elem_id="rl-lottery-curves")

    @user_errors
    def rounds_ui(filled=None):
        if filled is not None:  # filled on an earlier visit: keep the round and task the user chose
            return tuple(gr.skip() for _ in outputs)
        v = rounds_view(store)
        found = bool(v["tickets"])
        return (v["tickets"], v["summary"], gr.Column(visible=found), gr.Column(visible=v["imp"]),
                gr.Slider(minimum=0, maximum=max(v["max_round"], 1), value=v["max_round"], step=1,
                          visible=v["max_round"] > 0),
                v["round_md"], v["layers"], gr.Dropdown(choices=v["choices"], value=v["task"]), v["curves_md"],
                gr.Plot(value=v["curves"], visible=v["curves"] is not None))

    outputs = [tickets_state, summary, box, imp_box, round_slider, round_md, layers_plot, task, curves_md, curves_plot]
    if tab is not None:
        tab.select(rounds_ui, tickets_state, outputs, api_visibility="private")
    else:  # built outside the app's tabs: fill on page load
        gr.on(None, rounds_ui, None, outputs, api_visibility="private")

    @user_errors
    def round_ui(tickets, r, v="blocks"):
        fig, md = round_figure(tickets if tickets is not None else load_tickets(store)[0], r, v)
        return md, fig

    @user_errors
    def curves_ui(tickets, t):
        return curves_figure(tickets if tickets is not None else load_tickets(store)[0], t)

    inputs = [tickets_state, round_slider] + ([view] if view is not None else [])
    round_slider.release(round_ui, inputs, [round_md, layers_plot], api_visibility="private")
    if view is not None:
        view.input(round_ui, inputs, [round_md, layers_plot], api_visibility="private")
    task.input(curves_ui, [tickets_state, task], curves_plot, api_visibility="private")


def default_picks(models) -> list[str]:
    """The models the tab opens on: the paper's global vs layer-wise tickets when shipped, else the
    first two pruned models, else the first two models."""
    from restorelab.paths import LOTTERY_DEFAULTS

    names = [m.name for m in models]
    chosen = [n for n in LOTTERY_DEFAULTS if n in names]
    return chosen or ([m.name for m in models if m.kind == "pruned"] or names)[:2]


def build(store: ModelStore, tab: gr.Tab | None = None) -> None:
    """Build inside the current context; ``tab``: draw the plots when the tab is opened."""
    from restorelab.ui.data import SPARSITY_VIEWS

    # the PromptIR family with masks (a structured ticket has none: it is a smaller dense network)
    models = [m for m in list_models() if m.kind in ("dense", "pruned") and not m.structured]
    names = [m.name for m in models]
    gr.Markdown(
        "**Lottery tickets (MIR-L).** Iterative magnitude pruning finds sparse sub-networks (\"tickets\") "
        "of the all-in-one restorer that match the dense model when rewound to their initial weights. "
        "It opens on MIR-L's two strategies, 90% of the weights zero each: **global** pruning ranks all "
        "weights together and empties some blocks (the 1x1 convolutions of the deep levels) while keeping the "
        "depthwise ones; **layer-wise** pruning removes the same fraction everywhere.")
    with gr.Row():
        pick = gr.Dropdown([(m.label(), m.name) for m in models], value=default_picks(models),
                           multiselect=True, label="Shipped models (pick several to compare, e.g. the "
                           "global and the layer-wise ticket)", scale=3, elem_id="rl-lottery-model")
        view = gr.Radio([("by block (grid)", "blocks"), ("every weight tensor (bars)", "layers")],
                        value=SPARSITY_VIEWS[0], label="Per-layer view", scale=1, elem_id="rl-lottery-view")
        show = gr.Button("Show per-layer sparsity", scale=1, elem_id="rl-lottery-show")
    info = gr.Markdown("Pick models and press the button." if names else
                       "No shipped model yet: the per-layer sparsity appears once `weights/` holds one.")
    plot = gr.Plot(label="Per-layer sparsity", elem_id="rl-lottery-sparsity")
    with gr.Row():
        layer = gr.Dropdown([], value=None, label="Layer whose mask to draw (largest first)", scale=3,
                            elem_id="rl-lottery-mask-layer")
        draw = gr.Button("Draw the mask", scale=1, elem_id="rl-lottery-mask-draw")
    mask_plot = gr.Plot(label="One layer's mask", elem_id="rl-lottery-mask")

    @user_errors
    def show_sparsity(chosen, v):
        return sparsity_figure(store, chosen, v)

    @user_errors
    def show_mask(chosen, name):
        return mask_figure(store, chosen, name or None)

    opened = gr.State(False)

    @user_errors
    def open_tab(chosen, v, seen):
        if seen:  # drawn on an earlier visit: keep the layer the user picked
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), True
        fig, md = sparsity_figure(store, chosen, v)
        first = ([chosen] if isinstance(chosen, str) else list(chosen or []))[:1]
        layers = mask_layers(store, first[0]) if first else []
        return (fig, md, gr.Dropdown(choices=layers, value=layers[0] if layers else None),
                mask_figure(store, chosen, layers[0]) if layers else None, True)

    show.click(show_sparsity, [pick, view], [plot, info], api_visibility="private")
    view.input(show_sparsity, [pick, view], [plot, info], api_visibility="private")
    draw.click(show_mask, [pick, layer], mask_plot, api_visibility="private")
    if tab is not None and names:
        tab.select(open_tab, [pick, view, opened], [plot, info, layer, mask_plot, opened], api_visibility="private")

    _build_zeros_vs_speed()
    _build_rounds(store, tab, view)
    _build_live_demo()


def zeros_vs_speed_markdown(path=None) -> str | None:
    """The Lottery tab's zeros-vs-speed table (``paths.TICKETS_BENCH``); None when not benchmarked."""
    from restorelab.paths import TICKETS_BENCH
    from restorelab.reports import tickets_table

    path = Path(path or TICKETS_BENCH)
    if not path.exists():
        return None
    try:
        table = tickets_table(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, RestoreLabError):
        return None  # a broken benchmark file hides the section, it does not break the tab
    return ("**Zeros vs speed.** A ticket of zeros (90% of the weights zero) is as slow as its parent on a CPU; "
            "a *structured* ticket (`prune --strategy channels`: whole channels removed, rewound and retrained "
            "round by round) is a smaller dense network, and faster. Pick it as Model B in the Restore tab to "
            "see it on your photo.\n\n" + table)


def _build_zeros_vs_speed() -> None:
    md = zeros_vs_speed_markdown()
    if md:
        gr.Markdown(md, elem_id="rl-lottery-speed")
