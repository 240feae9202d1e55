"""The Lottery tickets tab (MIR-L): what exists now is the per-layer sparsity of the shipped
models (read from their weight files); rounds, curves and the live experiment wait for
``restorelab.lottery`` (issue 3)."""

from __future__ import annotations

import importlib.util

import gradio as gr

from restorelab.ui.common import placeholder, user_errors
from restorelab.ui.models import list_models, model_info

# Long CPU jobs (the live lottery experiment, OES runs) share one slot of their own, so they
# never take the restore slot: register them with **LONG_JOBS.
LONG_JOBS = dict(concurrency_id="long_jobs", concurrency_limit=1)


def lottery_available() -> bool:
    return importlib.util.find_spec("restorelab.lottery") is not None


@user_errors
def sparsity_figure(name: str | None):
    from restorelab.plots import layer_sparsity_bar
    from restorelab.ui.data import layer_sparsity, short_layer_names

    if not name:
        return None, "No shipped model to inspect yet."
    info = model_info(name)
    if not info.path.exists():
        return None, f"`{name}`: weights are not in the local folder (Hub-only); nothing to count."
    sp = layer_sparsity(info.path)
    short = short_layer_names(list(sp))
    fig = layer_sparsity_bar({short[k]: v for k, v in sp.items()},
                             title=f"{name}: fraction of zero weights per layer ({info.kind})")
    total = info.params or 0
    nz = info.nonzero_params
    msg = (f"`{name}` ({info.kind}): {len(sp)} weight tensors; "
           + (f"{nz:,} of {total:,} parameters non-zero ({1 - nz / total:.1%} sparse overall, from the card)."
              if nz is not None and total else "no parameter counts in its card."))
    return fig, msg


def build(tab: gr.Tab | None = None) -> None:
    """Build inside the current context; ``tab``: draw the plot when the tab is opened."""
    models = list_models()
    names = [m.name for m in models]
    gr.Markdown(
        "**Lottery tickets (MIR-L).** Iterative magnitude pruning finds sparse sub-networks (\"tickets\") "
        "of the all-in-one restorer that match the dense model when rewound to their initial weights.")
    with gr.Row():
        pick = gr.Dropdown([(m.label(), m.name) for m in models], value=names[0] if names else None,
                           label="Shipped model", scale=2, elem_id="rl-lottery-model")
        show = gr.Button("Show per-layer sparsity", scale=1, elem_id="rl-lottery-show")
    info = gr.Markdown("Pick a model and press the button." if names else
                       "No shipped model yet: the per-layer sparsity appears once `weights/` holds one.")
    plot = gr.Plot(label="Per-layer sparsity", elem_id="rl-lottery-sparsity")
    show.click(sparsity_figure, pick, [plot, info], api_visibility="private")
    pick.change(sparsity_figure, pick, [plot, info], api_visibility="private")
    if tab is not None and names:
        tab.select(sparsity_figure, pick, [plot, info], api_visibility="private")

    if lottery_available():
        # TODO(lead, issues 3+6): restorelab.lottery exists — build the round slider (global vs
        # layer-wise) from the run records, the PSNR-vs-parameters plot
        # (restorelab.plots.psnr_vs_params) and the live classroom experiment here, e.g.
        #   run.click(lottery_demo, [...], [plot, table], api_name="lottery_demo", **LONG_JOBS)
        #   stop.click(None, cancels=[that_event])
        # with lottery_demo a generator yielding one round at a time.
        pass
    placeholder("Pruning rounds, PSNR vs parameters, live experiment",
                "the MIR-L module (`restorelab.lottery`, issue 3) with its shipped tickets",
                ["per-layer sparsity of the shipped tickets with a round slider, global vs layer-wise "
                 "pruning side by side",
                 "PSNR-vs-non-zero-parameters curves per task from the pruning records "
                 "(dense, MIR-L-G, MIR-L-LW, one-shot baselines)",
                 "the live classroom experiment streamed round by round: winning ticket vs random "
                 "re-initialisation vs one-shot pruning, with a Stop button",
                 "the `/lottery_demo` API endpoint"])
