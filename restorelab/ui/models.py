"""The app's view of the shipped models: names and cards without torch, cached loading.

Listing reads only the JSON cards (no torch import, so the app starts fast). A model is
listed when ``NAME.json`` sits in the weights folder next to ``NAME.safetensors``, or, when a
Hub repo is configured (``RESTORELAB_HUB_REPO``), when only the card is local and the
weights come from the Hub. Loading goes through :mod:`restorelab.inference` and remembers
where the weights came from, so the UI can say so (e.g. "Hub unreachable, local copy used").
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restorelab.cards import ModelCard, is_restorer_card
from restorelab.errors import RestoreLabError
from restorelab.paths import CLASSICAL_METHODS
from restorelab.ui import settings

_CACHE_SIZE = 4
log = logging.getLogger("restorelab.app")


@dataclass
class ModelInfo:
    name: str
    card: dict
    path: Path  # local weights path (may not exist when the Hub provides it)

    @property
    def kind(self) -> str:
        return str(self.card.get("kind", "dense"))

    @property
    def structured(self) -> bool:
        """A structured ticket: channels removed, a smaller dense network (not zeros in a full one)."""
        return bool(self.card.get("structured", False))

    @property
    def kind_label(self) -> str:
        return "structured ticket" if self.structured else self.kind

    @property
    def params(self) -> int | None:
        return self.card.get("params")

    @property
    def nonzero_params(self) -> int | None:
        return self.card.get("nonzero_params")

    @property
    def file_bytes(self) -> int | None:
        if self.path.exists():
            return self.path.stat().st_size
        return self.card.get("file_bytes")

    def label(self) -> str:
        """Dropdown label: name, kind and non-zero parameters, e.g. ``aio-cpu · dense · 1.23M``."""
        if self.kind == "classical":
            return f"{self.name} · classical · {self.card['about']}"
        bits = [self.name, self.kind_label]
        if self.nonzero_params is not None:
            bits.append(f"{self.nonzero_params / 1e6:.2f}M")
        return " · ".join(bits)


def _read_card(path: Path) -> dict | None:
    """A restorer card, validated (as a dict); None for other cards and, logged, for broken ones."""
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # an unreadable card is skipped, not fatal for the whole app
    if not is_restorer_card(card):
        return None
    try:
        return ModelCard.from_dict(card, name=path.stem, where=path.name).to_dict()
    except RestoreLabError as err:
        log.warning("%s; model skipped", err)
        return None


def list_models(weights_dir: Path | None = None) -> list[ModelInfo]:
    """Models the app can run, sorted by name (dense first, then pruned/other kinds)."""
    d = Path(weights_dir or settings.weights_dir())
    hub = settings.hub_config() is not None
    out = []
    for card_path in sorted(d.glob("*.json")):
        weights = card_path.with_suffix(".safetensors")
        if not (weights.exists() or hub):
            continue
        card = _read_card(card_path)
        if card is None:
            continue
        out.append(ModelInfo(card_path.stem, card, weights))
    out.sort(key=lambda m: (m.kind != "dense", m.name))
    return out


def classical_models() -> list[ModelInfo]:
    """The classical baselines (``nlm``, ``bm3d``) as models of kind 'classical' (no weights)."""
    return [ModelInfo(name, {"kind": "classical", "params": None, "nonzero_params": None, "about": about},
                      Path(f"<{name}: no weights>")) for name, about in CLASSICAL_METHODS.items()]


def model_info(name: str, weights_dir: Path | None = None) -> ModelInfo:
    for m in list_models(weights_dir) + classical_models():
        if m.name == name:
            return m
    names = ", ".join(m.name for m in list_models(weights_dir) + classical_models()) or "none"
    raise RestoreLabError(f"no shipped model {name!r}; available: {names}")


def folder_label(path: Path) -> str:
    """How the UI names a server folder: its name only, never the server's path."""
    return Path(path).name or str(path)


def describe_source(weights_dir: Path | None = None) -> str:
    """One line (Markdown) saying where weights come from; no network access."""
    d = folder_label(Path(weights_dir or settings.weights_dir()))
    hub = settings.hub_config()
    if hub:
        repo, rev = hub
        return (f"Weights: Hugging Face Hub `{repo}` at revision `{rev or 'NOT PINNED'}`, "
                f"falling back to the local folder `{d}` when the Hub cannot be reached.")
    return f"Weights: local folder `{d}`."


#: Pixels of recent results kept for reuse (``ModelStore.recall``): ~48 MP, about 600 MB of float32.
RECENT_PIXELS = 48_000_000


class ModelStore:
    """Loads models on first use and keeps the last few in memory, and the last results, so that
    comparing a photo with one more model does not run the first again (thread-safe)."""

    def __init__(self, weights_dir: Path | None = None, size: int = _CACHE_SIZE):
        self._dir = weights_dir
        self._size = size
        self._recent: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()  # key -> (result, pixels)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[Any, str]] = OrderedDict()
        self._picks: dict[tuple[str, str, str], Any] = {}  # (name, path, wanted) -> "pending" | (restorer, backend)

    @property
    def weights_dir(self) -> Path:
        return Path(self._dir or settings.weights_dir())

    @property
    def weights_label(self) -> str:
        """The weights folder as the UI shows it (no server path)."""
        return folder_label(self.weights_dir)

    def get(self, name: str) -> tuple[Any, str]:
        """``(model, source)``: a ready (eval, channels_last) model and where it came from."""
        info = model_info(name, self.weights_dir)
        key = (name, str(info.path))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            from restorelab.inference import load_for_inference, load_model

            if info.kind == "classical":
                model, source = load_model(name), "a classical method (no weights)"
            else:
                path, source = self._resolve(info)
                model = load_for_inference(path)
            self._cache[key] = (model, source)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
            return model, source

    def runner(self, name: str, on_cpu: bool = True) -> tuple[Any, str]:
        """``(restorer, backend)`` for ``name``: the cached torch model until the inference backend
        picked for it is ready (``settings.backend()``; ``auto`` measures the installed runtimes once
        per machine in a background thread, so no request waits for an export), then that backend.
        Classical methods, ``RESTORELAB_BACKEND=torch`` and GPU runs (``on_cpu=False``) use torch."""
        model, _ = self.get(name)
        wanted = settings.backend()
        info = model_info(name, self.weights_dir)
        if info.kind == "classical" or wanted == "torch" or not on_cpu:
            return model, "torch"
        key = (name, str(info.path), wanted)
        with self._lock:
            pick = self._picks.get(key)
            if pick is None:
                self._picks[key] = "pending"
                threading.Thread(target=self._pick, args=(key, model, wanted), daemon=True,
                                 name=f"backend-{name}").start()
        if isinstance(pick, tuple):
            return pick
        return model, "torch"

    def _pick(self, key, model, wanted: str) -> None:
        from restorelab.inference.backends import pick_backend, verified_reduced

        name = key[0]
        try:  # on a copy: the export traces the module while requests may be running the original
            pick = pick_backend(copy.deepcopy(model), wanted, reduced=verified_reduced(name, self.weights_dir),
                                log=lambda msg: log.info("%s: %s", name, msg))
            result = (pick.restorer, pick.backend)
            log.info("%s runs on %s", name, pick.summary())
        except Exception as err:  # a failed export or a bad RESTORELAB_BACKEND: torch keeps serving
            log.warning("%s: backend %s unavailable (%s); using torch", name, wanted, err)
            result = (model, "torch")
        with self._lock:
            self._picks[key] = result

    def recall(self, key: tuple) -> Any | None:
        """A result stored under ``key`` by :meth:`remember`, or None."""
        with self._lock:
            if key not in self._recent:
                return None
            self._recent.move_to_end(key)
            return self._recent[key][0]

    def remember(self, key: tuple, result: Any, pixels: int) -> None:
        """Keep ``result`` (of ``pixels`` pixels), dropping the oldest beyond ``RECENT_PIXELS`` in all."""
        with self._lock:
            self._recent[key] = (result, pixels)
            self._recent.move_to_end(key)
            while len(self._recent) > 1 and sum(p for _, p in self._recent.values()) > RECENT_PIXELS:
                self._recent.popitem(last=False)

    def measuring(self) -> bool:
        """Whether a backend pick is running in the background: it shares the CPU with requests,
        so a restoration timed meanwhile reads slower than it is."""
        with self._lock:
            return any(pick == "pending" for pick in self._picks.values())

    def wait_for_backend(self, name: str, timeout: float = 600.0) -> str:
        """Start ``name``'s backend pick if needed, wait for it (tests, benchmarks); returns its name."""
        import time

        self.runner(name)
        key = (name, str(model_info(name, self.weights_dir).path), settings.backend())
        deadline = time.monotonic() + timeout
        while self._picks.get(key) == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.runner(name)[1]

    def full_model(self, name: str):
        """The model as trained, every tensor at full size (``get`` removes a ticket's dead channels:
        right for speed, wrong for drawing its masks). Not cached: only the Lottery tab needs it."""
        from restorelab.inference.weights import load_weights

        info = model_info(name, self.weights_dir)
        if info.kind == "classical":
            raise RestoreLabError(f"{name} is a classical method: it has no weights")
        return load_weights(self._resolve(info)[0])

    def _resolve(self, info: ModelInfo) -> tuple[Path, str]:
        from restorelab.inference.weights import locate

        return locate(info.name, info.path.parent)
