"""Launching the app in-process for the gradio_client and browser tests."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_environment(weights_dir: Path):
    """The app's settings for a test: these weights, a 5 MB upload cap, no Hub, no analytics."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESTORELAB_WEIGHTS_DIR", str(weights_dir))
        mp.setenv("RESTORELAB_MAX_FILE_SIZE", "5mb")
        mp.delenv("RESTORELAB_HUB_REPO", raising=False)
        mp.delenv("RESTORELAB_MAX_PIXELS", raising=False)
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        yield mp


@contextlib.contextmanager
def launched_app():
    """``(demo, url)``: the whole app on a free localhost port, closed afterwards."""
    import app

    demo = app.build_demo()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.launch_kwargs())
    try:
        yield demo, f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
