"""Gradio glue shared by the tabs: user-facing errors and the photo input."""

from __future__ import annotations

import functools
import html
import inspect
import logging
import threading
import uuid
from pathlib import Path

import gradio as gr
from PIL import Image

from restorelab.errors import RestoreLabError

log = logging.getLogger("restorelab.app")


def shipped_groups_json(weights_dir: Path | None = None) -> dict:
    """``weights/grids/groups.json`` as a dict ({} when absent or unreadable). JSON only: building
    the UI must not import the GRIDS stack (cv2, scipy)."""
    import json

    from restorelab.paths import default_weights_dir

    try:
        d = json.loads((Path(weights_dir or default_weights_dir()) / "grids" / "groups.json").read_text())
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def _as_gr_error(err: BaseException) -> gr.Error:
    if isinstance(err, gr.Error):
        return err
    if isinstance(err, RestoreLabError):
        msg = str(err)
    elif isinstance(err, MemoryError):
        msg = "out of memory for this image; try a smaller photo"
    else:  # a bug, not bad input: log the traceback on the server, show one line to the user
        log.exception("unexpected error in a request")
        msg = f"internal error ({type(err).__name__}: {err})"
    # gr.Error renders HTML; names like <image bytes> must stay visible.
    return gr.Error(html.escape(msg.splitlines()[0] if msg else "error", quote=False),
                    print_exception=False)


def user_errors(fn):
    """Turn project errors into one-line ``gr.Error`` s (works for plain and generator handlers).

    ``functools.wraps`` keeps the signature visible, so Gradio still injects ``gr.Progress``.
    """
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:  # noqa: BLE001
                raise _as_gr_error(err) from None

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001
            raise _as_gr_error(err) from None

    return wrapper


class Stopped(RestoreLabError):
    """The user pressed Stop."""


class StopButtons:
    """Stop that also stops the work. Gradio's ``cancels`` ends a running generator handler only at its
    next ``yield``, which for one big photo is after the whole restore: the CPU stays busy meanwhile.
    So each session gets a flag that Stop sets and the handler's progress callback checks (once per
    tile or transform)."""

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def session(self) -> gr.State:
        """The page's token (a ``gr.State`` set on each page load) for :meth:`start` and :meth:`stop`."""
        token = gr.State()
        gr.on(None, lambda: uuid.uuid4().hex, None, token, api_visibility="private", queue=False)
        return token

    def start(self, token, progress):
        """A fresh flag for this page's new run; returns ``progress`` that raises once Stop is pressed."""
        flag = threading.Event()
        with self._lock:
            self._flags[str(token)] = flag

        def checked(*args, **kwargs):
            if flag.is_set():
                raise Stopped("stopped")
            return progress(*args, **kwargs)

        return checked

    def stop(self, token) -> None:
        with self._lock:
            flag = self._flags.pop(str(token), None)
        if flag is not None:
            flag.set()


def photo_input(**kwargs) -> gr.Image:
    """A ``gr.Image`` that hands the handler the uploaded file itself (``type="filepath"``,
    ``image_mode=None``: no re-encoding; ``restorelab.io`` converts it) and turns files PIL
    cannot even open into a one-line ``gr.Error`` instead of a generic failure.

    The error handling wraps this instance's ``preprocess`` (Gradio calls
    ``block.preprocess``); a subclass would do the same but makes Gradio's component
    metaclass write a ``.pyi`` stub into the source tree.
    """
    kwargs.setdefault("type", "filepath")
    kwargs.setdefault("image_mode", None)
    kwargs.setdefault("format", "png")
    kwargs.setdefault("sources", ["upload", "clipboard"])
    comp = gr.Image(**kwargs)
    stock = comp.preprocess

    def preprocess(payload):
        try:
            return stock(payload)
        except gr.Error:
            raise
        except Exception as err:  # noqa: BLE001 - PIL's UnidentifiedImageError, decompression bombs…
            name = getattr(payload, "orig_name", None) or "upload"
            why = ("too many pixels to open safely" if isinstance(err, Image.DecompressionBombError)
                   else f"not a readable image ({type(err).__name__})")
            raise gr.Error(html.escape(f"{name}: {why}"), print_exception=False) from None

    comp.preprocess = preprocess
    return comp


def photo_with_examples(**kwargs) -> gr.Image:
    """:func:`photo_input` followed by the shipped example photos (when there are any)."""
    from restorelab.ui import settings

    photo = photo_input(**kwargs)
    examples = settings.example_photos()
    if examples:
        gr.Examples(examples=[[str(p)] for p in examples], inputs=[photo], cache_examples=False,
                    label="Example photos (scikit-image data; public domain / CC0, see examples/)",
                    examples_per_page=8)
    return photo
