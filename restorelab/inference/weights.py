"""Weight files: safetensors that carry their own model config, plus a JSON card beside them.

A shipped model ``NAME`` is ``weights/NAME.safetensors`` (tensors + metadata: family, config)
and ``weights/NAME.json`` (the card: how it was trained, what it scores). Files come from the
local ``weights/`` folder by default; when ``RESTORELAB_HUB_REPO`` is set (a Space publishing
its weights on the Hub) they are fetched with a revision-pinned ``hf_hub_download`` and the
local copy is the fallback when the Hub cannot be reached.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from restorelab.cards import ModelCard, is_restorer_card, load_card
from restorelab.errors import RestoreLabError
from restorelab.inference import compact
from restorelab.io import atomic_write
from restorelab.paths import WEIGHTS_DIR, default_weights_dir, hub_config  # noqa: F401


def save_weights(model, path: str | Path, extra_meta: dict | None = None) -> None:
    """Write ``model``'s state (on the CPU, contiguous, dense) + its config into a safetensors file, atomically
    (a model trained on a GPU writes the same file as one trained on the CPU)."""
    from safetensors.torch import save_file

    cfg = model.config
    meta = {"family": getattr(model, "family", "promptir"), "config": json.dumps(cfg.to_dict())}
    meta.update({k: str(v) for k, v in (extra_meta or {}).items()})
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta))


def read_metadata(path: str | Path) -> dict:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except FileNotFoundError:
        raise RestoreLabError(f"weights file not found: {path}") from None
    except Exception as err:  # safetensors raises its own error types for bad headers
        raise RestoreLabError(f"{path}: not a readable safetensors file ({err})") from None


def load_state(path: str | Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as err:
        raise RestoreLabError(f"{path}: cannot read tensors ({err})") from None


def _load_dense(path: str | Path):
    """A plain file: every tensor of the state dict, and the model config in the metadata."""
    from restorelab.models import build_from_config

    meta = read_metadata(path)
    if "config" not in meta:
        raise RestoreLabError(f"{path}: no model config in the safetensors metadata")
    model = build_from_config(meta.get("family", "promptir"), json.loads(meta["config"]))
    state = load_state(path)
    fit = getattr(model, "fit_to_state", None)  # a structured ticket: the parent's config, narrower tensors
    if fit is not None:
        fit(state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RestoreLabError(f"{path}: tensors do not match the config (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")
    return model


#: The metadata ``format`` of a weights file -> its loader (``path -> model``). A file whose format
#: is not listed (usually: none at all) is a dense state dict (``save_weights``).
LOADERS = {
    compact.FORMAT: compact.load_compact,  # pruned: packed masks + surviving values
}


def load_weights(path: str | Path):
    """Build the model described in the file's metadata and load its tensors (eval mode)."""
    loader = LOADERS.get(read_metadata(path).get("format"), _load_dense)
    return loader(path).eval()


def shipped_names(weights_dir: str | Path | None = None) -> list[str]:
    """Names of the restorers that have both a .safetensors file and a restorer card."""
    d = Path(weights_dir or default_weights_dir())
    names = []
    for p in sorted(d.glob("*.safetensors")):
        card = p.with_suffix(".json")
        try:
            if card.exists() and is_restorer_card(json.loads(card.read_text())):
                names.append(p.stem)
        except ValueError:  # an unreadable card is skipped, not fatal
            continue
    return names


def read_card(name: str, weights_dir: str | Path | None = None) -> ModelCard:
    """The validated card of shipped model ``name`` (RestoreLabError when missing or broken)."""
    p = Path(weights_dir or default_weights_dir()) / f"{name}.json"
    if not p.exists():
        raise RestoreLabError(f"no shipped model {name!r}; available: {', '.join(shipped_names(weights_dir)) or 'none'}")
    return load_card(p)


def update_card(name: str, change: Callable[[dict], None], weights_dir: str | Path | None = None) -> Path:
    """Apply ``change`` to the JSON card of shipped model ``name`` in place and write it back atomically."""
    p = Path(weights_dir or default_weights_dir()) / f"{name}.json"
    if not p.exists():
        raise RestoreLabError(f"no card for {name!r} in {p.parent}")
    card = json.loads(p.read_text())
    change(card)
    atomic_write(p, lambda tmp: tmp.write_text(json.dumps(card, indent=2) + "\n"))
    return p


def locate(name_or_path: str, weights_dir: str | Path | None = None) -> tuple[Path, str]:
    """A shipped model name or a path → (local safetensors path, where it came from).

    With a Hub repo configured the file is fetched at the pinned revision; when that fails
    the local copy is used and the source line says so.
    """
    p = Path(name_or_path)
    if p.suffix == ".safetensors":
        if not p.exists():
            raise RestoreLabError(f"weights file not found: {p}")
        return p, f"file {p}"
    local = Path(weights_dir or default_weights_dir()) / f"{name_or_path}.safetensors"
    hub = hub_config()
    if hub:
        repo, rev = hub
        try:
            return hub_download(repo, f"{name_or_path}.safetensors", rev), f"Hub {repo}@{rev}"
        except RestoreLabError as err:
            if not local.exists():
                raise RestoreLabError(f"{err}; no local copy of {name_or_path} either") from None
            return local, f"local {local.parent.name}/ (offline fallback: {err})"
    if not local.exists():
        raise RestoreLabError(f"no shipped model {name_or_path!r}; available: "
                              f"{', '.join(shipped_names(weights_dir)) or 'none'}")
    return local, f"local {local.parent.name}/"


def resolve(name_or_path: str, weights_dir: str | Path | None = None) -> Path:
    return locate(name_or_path, weights_dir)[0]


def hub_download(repo: str, filename: str, revision: str | None) -> Path:
    """Fetch one file from a Hub model repo at a pinned revision (a commit hash is best)."""
    from huggingface_hub import hf_hub_download

    if not revision:
        raise RestoreLabError("RESTORELAB_HUB_REVISION must pin a revision (commit hash or tag) "
                              "when RESTORELAB_HUB_REPO is set")
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, revision=revision))
    except Exception as err:  # offline, missing file, bad repo: all become one clear line
        raise RestoreLabError(f"could not fetch {filename} from the Hub repo {repo}@{revision} "
                              f"({type(err).__name__}); using local weights if present") from None
