"""The Lottery tickets tab (MIR-L).

Now: the per-layer sparsity of the shipped models (read from their weight files) and, when
``restorelab.lottery.demo`` is present, the live classroom experiment (``/lottery_demo``).
Waiting for the shipped tickets and their pruning records (issue 3): the round slider,
global vs layer-wise, and the PSNR-vs-parameters curves of the real model."""

from __future__ import annotations

import gradio as gr

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

    # TODO(lead, issues 3+6): when the shipped tickets and their per-round records exist, replace
    # this placeholder with a round slider over the records' per-layer sparsity reports (global vs
    # layer-wise side by side, restorelab.plots.layer_sparsity_bar({"global": …, "layer-wise": …}))
    # and restorelab.plots.psnr_vs_params(records) per task.
    placeholder("Pruning rounds of the shipped tickets, PSNR vs parameters",
                "the MIR-L module ships its tickets and their pruning records (`restorelab.lottery`, issue 3)",
                ["per-layer sparsity of the shipped tickets with a round slider, global vs layer-wise "
                 "pruning side by side",
                 "PSNR-vs-non-zero-parameters curves per task from the pruning records "
                 "(dense, MIR-L-G, MIR-L-LW, one-shot baselines)"])
    if live_demo_available():
        _build_live_demo()
    else:
        placeholder("Live classroom experiment", "the MIR-L classroom demo (`restorelab.lottery.demo`, issue 3) lands",
                    ["a tiny lottery experiment streamed round by round: winning ticket vs random "
                     "re-initialisation vs one-shot pruning, with a Stop button",
                     "the `/lottery_demo` API endpoint"])
