"""RestoreLab web app: ``python app.py`` (also the Hugging Face Space entry point).

Only wiring lives here; each tab is built by a function in ``restorelab.ui``. Heavy libraries
(torch, OpenCV, SciPy, plotly) are imported on first use, and a background thread warms them
up after launch so the first restore is not slow.

Environment: ``RESTORELAB_WEIGHTS_DIR`` (default ``weights/``), ``RESTORELAB_HUB_REPO`` +
``RESTORELAB_HUB_REVISION`` (weights from the Hub, local fallback), ``RESTORELAB_MAX_PIXELS``
(default 16 MP), ``RESTORELAB_MAX_FILE_SIZE`` (default ``50mb``), ``RESTORELAB_PREWARM``
(default on), and Gradio's own ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``.
"""

from __future__ import annotations

import threading
import time

import gradio as gr

from restorelab.ui import about_tab, grids_tab, lottery_tab, oes_tab, pipeline, restore_tab, settings
from restorelab.ui.models import ModelStore

TITLE = "RestoreLab"


def build_demo(store: ModelStore | None = None, out_dir: pipeline.OutputDir | None = None) -> gr.Blocks:
    """The whole app, queued, not launched. Settings are read from the environment now."""
    store = store or ModelStore()
    out_dir = out_dir or pipeline.OutputDir()
    # Gradio's own cached copies of outputs: swept hourly, kept for an hour.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# RestoreLab\nSee, train and shrink image-restoration networks, on a CPU.")
        with gr.Tabs():
            with gr.Tab("Restore", id="restore"):
                restore_tab.build(store, out_dir)
            with gr.Tab("Lottery tickets", id="lottery") as lottery:
                lottery_tab.build(store, lottery)
            with gr.Tab("GRIDS", id="grids"):
                grids_tab.build(store, out_dir)
            with gr.Tab("OES", id="oes"):
                oes_tab.build()
            with gr.Tab("About", id="about"):
                about_tab.build()
    # Light events (plots, UI updates) may run two at a time; restores and long jobs set their own
    # concurrency_id/limit (restore_tab.RESTORE_QUEUE, lottery_tab.LONG_JOBS). A bounded queue
    # refuses new work instead of growing without limit.
    demo.queue(default_concurrency_limit=2, max_size=32)
    demo.rl_store = store  # for warm-up and tests
    return demo


def prewarm(store: ModelStore) -> None:
    """Import the heavy modules and load the default comparison's two models in the background."""
    def work():
        try:
            import restorelab.degradations  # noqa: F401  (OpenCV)
            import restorelab.inference  # noqa: F401  (torch)
            import restorelab.metrics  # noqa: F401  (SciPy)
            import restorelab.plots  # noqa: F401  (plotly)
            from restorelab.paths import DEFAULT_MODEL, DEFAULT_TICKET
            from restorelab.ui.models import list_models

            names = {m.name for m in list_models()}
            for name in (DEFAULT_MODEL, DEFAULT_TICKET):  # the Restore tab's default comparison
                if name in names:
                    store.runner(name)  # loads it and starts picking its CPU backend
                    while store.measuring():  # one pick at a time: each times backends against the others
                        time.sleep(0.5)
        except Exception:  # noqa: BLE001 - warm-up is best effort; requests report errors themselves
            pass

    threading.Thread(target=work, name="restorelab-prewarm", daemon=True).start()


def launch_kwargs() -> dict:
    return dict(max_file_size=settings.max_file_size(), allowed_paths=[str(settings.EXAMPLES_DIR)],
                theme=gr.themes.Soft())


def main() -> None:
    demo = build_demo()
    # Serve first, then warm up: the page is up as soon as Gradio is, and the warm-up's imports
    # do not compete with start-up. Same as a blocking launch() otherwise.
    demo.launch(prevent_thread_lock=True, **launch_kwargs())
    if pipeline.env_flag("RESTORELAB_PREWARM", True):
        prewarm(demo.rl_store)
    demo.block_thread()


if __name__ == "__main__":
    main()
