"""The card beside a shipped model (``weights/NAME.json``), read into a validated ``ModelCard``.

No heavy imports: the app lists models from their cards before torch is loaded.

A *restorer* card (one the app and CLI can run) names the ``preset`` its weights were built from and
the parameter counts; OES masks and the GRIDS descriptor have cards too, without those keys.

>>> card = ModelCard.from_dict({"kind": "pruned", "preset": "promptir-cpu", "params": 10, "nonzero_params": 1,
...                             "strategy": "global"}, name="t")
>>> card.sparsity, card.extra["strategy"]
(0.9, 'global')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from restorelab.errors import RestoreLabError

_FIELDS = ("name", "kind", "preset", "params", "nonzero_params", "tasks")


def is_restorer_card(card) -> bool:
    """Whether a card dict is a runnable restorer's (it carries a preset and a parameter count)."""
    return isinstance(card, dict) and "preset" in card and "params" in card


@dataclass(frozen=True)
class ModelCard:
    name: str
    kind: str  # dense, pruned, grids-group, ...
    preset: str  # the models registry preset the weights were built from
    params: int
    nonzero_params: int
    tasks: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)  # every other key: training, results, rounds, ...

    @property
    def sparsity(self) -> float:
        """The fraction of the weights that are gone: zeros, or for a structured ticket (``dense_params``:
        its parent's count) the channels it lost too."""
        return 1 - self.nonzero_params / self.extra.get("dense_params", self.params)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "preset": self.preset, "params": self.params,
                "nonzero_params": self.nonzero_params, "tasks": list(self.tasks), **self.extra}

    @classmethod
    def from_dict(cls, d, name: str, where: str = "card") -> "ModelCard":
        """Validate a card dict; a broken one raises RestoreLabError saying what is wrong and where."""
        def bad(msg: str) -> RestoreLabError:
            return RestoreLabError(f"{where}: broken model card: {msg}")

        if not isinstance(d, dict):
            raise bad(f"a JSON object is needed, not {type(d).__name__}")
        missing = [k for k in ("preset", "params", "nonzero_params") if k not in d]
        if missing:
            raise bad(f"missing {', '.join(missing)}")
        card_name, kind, preset = d.get("name", name), d.get("kind", "dense"), d["preset"]
        for key, v in (("name", card_name), ("kind", kind), ("preset", preset)):
            if not isinstance(v, str) or not v:
                raise bad(f"{key} must be a non-empty string, not {v!r}")
        params, nonzero = d["params"], d["nonzero_params"]
        for key, v in (("params", params), ("nonzero_params", nonzero)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise bad(f"{key} must be a non-negative integer, not {v!r}")
        if params == 0 or nonzero > params:
            raise bad(f"need 0 <= nonzero_params <= params and params > 0 (got {nonzero}, {params})")
        tasks = d.get("tasks", [])
        if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
            raise bad(f"tasks must be a list of names, not {tasks!r}")
        extra = {k: v for k, v in d.items() if k not in _FIELDS}
        return cls(card_name, kind, preset, params, nonzero, tuple(tasks), extra)


def load_card(path: str | Path) -> ModelCard:
    """``NAME.json`` -> ModelCard; RestoreLabError when it is missing, not JSON or broken."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise RestoreLabError(f"model card not found: {path}") from None
    except (OSError, ValueError) as err:
        raise RestoreLabError(f"{path}: unreadable model card ({err})") from None
    return ModelCard.from_dict(d, name=path.stem, where=str(path))
