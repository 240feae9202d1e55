"""The GRIDS tab: a placeholder until ``restorelab.grids`` (issue 4) and its cached
similarity matrix land."""

from __future__ import annotations

import gradio as gr

from restorelab.ui.common import module_present, placeholder


def grids_available() -> bool:
    return module_present("restorelab.grids")


def build() -> None:
    gr.Markdown(
        "**GRIDS.** Measure how similar degradations are (KL divergence between generalized-Gaussian "
        "fits of a network's features), group the similar ones, train one model per group, and pick "
        "the right group's model for a new photo automatically.")
    if grids_available():
        # TODO(lead, issues 4+6): restorelab.grids exists — draw the cached 11x11 matrix with
        # restorelab.plots.similarity_heatmap, a δ slider re-running the grouping search on the
        # cached ΔP measurements, and an upload →
        #   select.click(grids_select, [photo], [bars, group, warning, restored],
        #                api_name="grids_select", concurrency_id="restore", concurrency_limit=1)
        # drawing restorelab.plots.distance_bar(distances, chosen, threshold).
        pass
    placeholder("Similarity, grouping and adaptive model selection",
                "the GRIDS module (`restorelab.grids`, issue 4) lands with its cached similarity matrix "
                "and group models in `weights/`",
                ["the 11×11 degradation-similarity heatmap",
                 "a δ slider that re-runs the grouping search on the cached measurements and lists the groups",
                 "for an uploaded photo: its distance to each group (bar chart), the chosen group, an "
                 "out-of-distribution warning when it applies, and the restoration by that group's model",
                 "the `/grids_select` API endpoint"])
