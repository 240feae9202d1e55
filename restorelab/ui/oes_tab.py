"""The OES tab: a placeholder until ``restorelab.oes`` (issue 5) lands."""

from __future__ import annotations

import gradio as gr

from restorelab.ui.common import module_present, placeholder


def oes_available() -> bool:
    return module_present("restorelab.oes")


def build() -> None:
    gr.Markdown(
        "**OES / Sparse-DIP.** A deep image prior fits a randomly initialised network to one noisy "
        "photo; the dense network eventually reproduces the noise too. Optimal Eye Surgeon learns a "
        "sparse mask at initialisation, and the sparse network denoises without overfitting.")
    if oes_available():
        # TODO(lead, issues 5+6): restorelab.oes exists — inputs (upload/example, σ, density, steps,
        # mask source: shipped/transferred or learned here), then stream its live generator:
        #   ev = run.click(oes_denoise, [...], [dense_img, sparse_img, curves_plot],
        #                  api_name="oes_denoise", **LONG_JOBS)   # LONG_JOBS from lottery_tab
        #   stop.click(None, cancels=[ev])
        # curves drawn with restorelab.plots.psnr_curves({"dense DIP": …, "Sparse-DIP": …}).
        pass
    placeholder("Dense DIP vs Sparse-DIP, live",
                "the OES module (`restorelab.oes`, issue 5) lands with its shipped masks",
                ["inputs: upload or example, noise σ, mask density, steps, mask source "
                 "(shipped/transferred, or learned here)",
                 "dense DIP and Sparse-DIP images streamed as they train, with their PSNR curves, "
                 "and a Stop button",
                 "the `/oes_denoise` API endpoint"])
