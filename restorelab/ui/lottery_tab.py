"""The Lottery tickets tab (MIR-L).

* the per-layer sparsity of the shipped models (read from their weight files or cards);
* the pruning rounds of the shipped tickets, from their ``NAME.rounds.jsonl`` records (written by
  ``restorelab export`` next to the model): a round slider over the per-layer sparsity of the IMP
  tickets, global vs layer-wise side by side, and PSNR-vs-non-zero-parameters curves per task, with
  the one-shot and re-init baselines as single markers. The records are read when the tab is opened
  (files exported while the app runs appear on the next visit), never at import or build time;
* when ``restorelab.lottery.demo`` is present, the live classroom experiment (``/lottery_demo``).
"""

from __future__ import annotations

import gradio as gr

from restorelab.errors import RestoreLabError
from restorelab.ui.common import module_present, placeholder, user_errors
from restorelab.ui.models import ModelStore, list_models, model_info

# Long CPU jobs (the live lottery experiment, OES runs) share one slot of their own, so they
# never take the restore slot: register them with **LONG_JOBS.
LONG_JOBS = dict(concurrency_id="long_jobs", concurrency_limit=1)


def lottery_available() -> bool:
    return module_present("restorelab.lottery")


def live_demo_available() -> bool:
    """The classroom experiment's module exists (checked without importing torch)."""
    return module_present("restorelab.lottery", "demo.py")


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
    return DemoConfig(rounds=rounds, rate=float(rate if rate is not None else 0.4), steps=steps,
                      seed=int(seed or 0), oneshot_steps=max(1, round(steps * 0.05)))


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


def model_layers(store: ModelStore, name: str) -> dict[str, float]:
    """Per-layer sparsity of a shipped model: from its card when exported with a report,
    else counted on the loaded weights (dense or compact files alike)."""
    from restorelab.ui.data import card_layers, layer_sparsity

    info = model_info(name)
    layers = card_layers(info.card)
    if layers is None:
        model, _ = store.get(name)
        layers = layer_sparsity(model)
    return layers


def sparsity_figure(store: ModelStore, names) -> tuple:
    """Grouped bars, one series per chosen model (e.g. the global and the layer-wise ticket)."""
    from restorelab.plots import layer_sparsity_bar
    from restorelab.ui.data import short_layer_names

    names = [names] if isinstance(names, str) else list(names or [])
    if not names:
        return None, "Pick one or more shipped models."
    series, lines = {}, []
    for name in names:
        info = model_info(name)
        layers = model_layers(store, name)
        short = short_layer_names(list(layers))
        label = f"{name} ({info.kind}{', ' + str(info.card['strategy']) if info.card.get('strategy') else ''})"
        series[label] = {short[k]: v for k, v in layers.items()}
        total, nz = info.params, info.nonzero_params
        lines.append(f"- `{name}` ({info.kind}): {len(layers)} weight tensors"
                     + (f"; {nz:,} of {total:,} parameters non-zero ({1 - nz / total:.1%} sparse overall)"
                        if nz is not None and total else ""))
    fig = layer_sparsity_bar(series if len(series) > 1 else next(iter(series.values())),
                             title="Fraction of zero weights per layer"
                                   + ("" if len(series) > 1 else f": {next(iter(series))}"))
    return fig, "\n".join(lines)


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


def round_figure(tickets, round_) -> tuple:
    """``(figure or None, Markdown)``: per-layer sparsity of every IMP ticket after ``round_``."""
    from restorelab.plots import layer_sparsity_bar
    from restorelab.ui.data import MEAN_TASK, record_psnr, round_layer_series

    if round_ is None:
        raise RestoreLabError("pick a pruning round")
    r = int(round_)
    series, missing = round_layer_series(tickets, r)
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
    fig = layer_sparsity_bar(series, title=f"Fraction of zero weights per layer after round {r}")
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


def _build_rounds(store: ModelStore, tab: gr.Tab | None) -> None:
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
    def rounds_ui():
        v = rounds_view(store)
        found = bool(v["tickets"])
        return (v["tickets"], v["summary"], gr.Column(visible=found), gr.Column(visible=v["imp"]),
                gr.Slider(minimum=0, maximum=max(v["max_round"], 1), value=v["max_round"], step=1,
                          visible=v["max_round"] > 0),
                v["round_md"], v["layers"], gr.Dropdown(choices=v["choices"], value=v["task"]), v["curves_md"],
                gr.Plot(value=v["curves"], visible=v["curves"] is not None))

    outputs = [tickets_state, summary, box, imp_box, round_slider, round_md, layers_plot, task, curves_md, curves_plot]
    if tab is not None:
        tab.select(rounds_ui, None, outputs, api_visibility="private")
    else:  # built outside the app's tabs: fill on page load
        gr.on(None, rounds_ui, None, outputs, api_visibility="private")

    @user_errors
    def round_ui(tickets, r):
        fig, md = round_figure(tickets if tickets is not None else load_tickets(store)[0], r)
        return md, fig

    @user_errors
    def curves_ui(tickets, t):
        return curves_figure(tickets if tickets is not None else load_tickets(store)[0], t)

    round_slider.release(round_ui, [tickets_state, round_slider], [round_md, layers_plot], api_visibility="private")
    task.input(curves_ui, [tickets_state, task], curves_plot, api_visibility="private")


def build(store: ModelStore, tab: gr.Tab | None = None) -> None:
    """Build inside the current context; ``tab``: draw the plot when the tab is opened."""
    models = list_models()
    names = [m.name for m in models]
    gr.Markdown(
        "**Lottery tickets (MIR-L).** Iterative magnitude pruning finds sparse sub-networks (\"tickets\") "
        "of the all-in-one restorer that match the dense model when rewound to their initial weights.")
    pruned = [m.name for m in models if m.kind != "dense"]
    with gr.Row():
        pick = gr.Dropdown([(m.label(), m.name) for m in models], value=(pruned or names)[:2],
                           multiselect=True, label="Shipped models (pick several to compare, e.g. the "
                           "global and the layer-wise ticket)", scale=3, elem_id="rl-lottery-model")
        show = gr.Button("Show per-layer sparsity", scale=1, elem_id="rl-lottery-show")
    info = gr.Markdown("Pick models and press the button." if names else
                       "No shipped model yet: the per-layer sparsity appears once `weights/` holds one.")
    plot = gr.Plot(label="Per-layer sparsity", elem_id="rl-lottery-sparsity")

    @user_errors
    def show_sparsity(chosen):
        return sparsity_figure(store, chosen)

    show.click(show_sparsity, pick, [plot, info], api_visibility="private")
    if tab is not None and names:
        tab.select(show_sparsity, pick, [plot, info], api_visibility="private")

    _build_rounds(store, tab)
    if live_demo_available():
        _build_live_demo()
    else:
        placeholder("Live classroom experiment", "the MIR-L classroom demo (`restorelab.lottery.demo`, issue 3) lands",
                    ["a tiny lottery experiment streamed round by round: winning ticket vs random "
                     "re-initialisation vs one-shot pruning, with a Stop button",
                     "the `/lottery_demo` API endpoint"])
