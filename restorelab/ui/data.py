"""Read-only data the tabs plot, from files that already exist (no training, no maths beyond
counting zeros)."""

from __future__ import annotations

from restorelab.errors import RestoreLabError


def layer_sparsity(model) -> dict[str, float]:
    """``{parameter name: fraction of zeros}`` over the prunable tensors of a loaded model.

    Uses MIR-L's own definition (``restorelab.lottery.masks``: every ``*weight`` tensor) when
    that module is present, else counts zeros of the same tensors directly.
    """
    try:
        from restorelab.lottery.masks import layer_report, masks_from_weights
    except ImportError:
        return {n: float((p == 0).float().mean()) for n, p in model.named_parameters() if n.endswith("weight")}
    return {r.name: float(r.sparsity) for r in layer_report(masks_from_weights(model))}


def card_layers(card: dict) -> dict[str, float] | None:
    """The per-layer report an exported ticket's card carries (``layers``: name + sparsity), if any."""
    layers = card.get("layers")
    if not isinstance(layers, list) or not layers:
        return None
    try:
        return {str(r["name"]): float(r["sparsity"]) for r in layers}
    except (KeyError, TypeError, ValueError):
        raise RestoreLabError(f"card of {card.get('name', '?')}: malformed 'layers' report") from None


def short_layer_names(names: list[str]) -> dict[str, str]:
    """Drop the common ``.weight`` suffix for display."""
    return {n: n[: -len(".weight")] if n.endswith(".weight") else n for n in names}
