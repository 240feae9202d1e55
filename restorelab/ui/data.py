"""Read-only data the tabs plot, from files that already exist (no training, no maths beyond
counting zeros and averaging): per-layer sparsity, and the pruning records of shipped tickets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from restorelab.errors import RestoreLabError


def layer_sparsity(model) -> dict[str, float]:
    """``{parameter name: fraction of zeros}`` over the prunable tensors of a loaded model (MIR-L's
    definition, ``restorelab.pruning.prunable_names``: every ``*weight`` tensor)."""
    from restorelab.pruning import layer_report, masks_from_weights

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


#: How per-layer sparsity is drawn: a blocks x layer-kinds grid (readable), or one bar per tensor.
SPARSITY_VIEWS = ("blocks", "layers")


def check_view(view: str) -> str:
    if view not in SPARSITY_VIEWS:
        raise RestoreLabError(f"unknown sparsity view {view!r}; choose from {', '.join(SPARSITY_VIEWS)}")
    return view


def layer_totals(report) -> dict[str, int]:
    """``{tensor name: number of weights}`` from a per-tensor report (cards' and records' ``layers``)."""
    return {str(r["name"]): int(r["total"]) for r in report or [] if isinstance(r, dict) and "total" in r}


def layer_block(name: str) -> tuple[str, str]:
    """``(block, kind)`` of a weight tensor: ``decoder_level2.1.attn.qkv.weight`` -> ``("decoder_level2",
    "attn.qkv")``; both LayerNorms of a block are ``"norms"``, a block's own conv(s) ``"conv"``."""
    parts = name.removesuffix(".weight").split(".")
    kind = ".".join(p for p in parts[1:] if not p.isdigit())
    return parts[0], "norms" if kind in ("norm1", "norm2") else (kind or "conv")


def block_sparsity(layers: dict[str, float], totals: dict[str, int] | None = None) -> dict[str, dict[str, float]]:
    """Per-tensor sparsity grouped as ``{block: {kind: fraction of zeros}}`` (171 bars become a grid a
    reader can take in): each cell weighted by tensor size when ``totals`` has it; blocks in the order
    of ``layers``."""
    zeros: dict[str, dict[str, float]] = {}
    sizes: dict[str, dict[str, float]] = {}
    for name, s in layers.items():
        block, kind = layer_block(name)
        w = (totals or {}).get(name, 1)
        zeros.setdefault(block, {})[kind] = zeros.get(block, {}).get(kind, 0.0) + float(s) * w
        sizes.setdefault(block, {})[kind] = sizes.get(block, {}).get(kind, 0.0) + w
    return {b: {k: zeros[b][k] / sizes[b][k] for k in zeros[b]} for b in zeros}


def in_network_order(layers: dict[str, float], order: list[str]) -> dict[str, float]:
    """``layers`` re-ordered like ``order`` (a model's parameter names); unknown names last."""
    pos = {n: i for i, n in enumerate(order)}
    return dict(sorted(layers.items(), key=lambda kv: pos.get(kv[0], len(pos))))


# -- pruning records of the shipped tickets (``NAME.rounds.jsonl``, see restorelab.lottery.export) ------
MEAN_TASK = "mean"
IMP_STRATEGIES = ("global", "layerwise")
STRATEGY_LABELS = {"global": "IMP global", "layerwise": "IMP layer-wise", "oneshot-magnitude": "one-shot magnitude",
                   "oneshot-random": "one-shot random", "reinit": "random re-init", "random": "one-shot random"}


@dataclass
class TicketRounds:
    """One shipped pruned model and its pruning records (IMP: round 0 = dense … exported round;
    baselines: one record)."""

    name: str
    strategy: str
    records: list[dict]
    score: str = "magnitude"  # how global IMP ranked survivors (``LotteryConfig.score``)

    @property
    def is_imp(self) -> bool:
        return self.strategy in IMP_STRATEGIES

    @property
    def label(self) -> str:
        kind = STRATEGY_LABELS.get(self.strategy, self.strategy)
        return f"{self.name} ({kind}{', LAMP scores' if self.score == 'lamp' else ''})"

    @property
    def last_round(self) -> int:
        return max((r["round"] for r in self.records if r.get("round") is not None), default=0)

    def at_round(self, round_: int) -> dict | None:
        return next((r for r in self.records if r.get("round") == round_), None)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_record(rec, where: str, imp: bool) -> dict:
    if not isinstance(rec, dict):
        raise RestoreLabError(f"{where}: a record must be a JSON object")
    for key in ("nonzero_params", "sparsity"):
        if not _number(rec.get(key)):
            raise RestoreLabError(f"{where}: missing or non-numeric {key!r}")
    if not 0.0 <= float(rec["sparsity"]) <= 1.0:
        raise RestoreLabError(f"{where}: sparsity {rec['sparsity']} is not in [0, 1]")
    rnd = rec.get("round")
    if (imp or rnd is not None) and (not isinstance(rnd, int) or isinstance(rnd, bool) or rnd < 0):
        raise RestoreLabError(f"{where}: missing or invalid 'round'")
    val = rec.get("val")
    if val is not None and not (isinstance(val, dict)
                                and all(isinstance(v, dict) and _number(v.get("psnr")) for v in val.values())):
        raise RestoreLabError(f"{where}: 'val' must map each task to {{psnr, ssim, n}}")
    if rec.get("val_mean_psnr") is not None and not _number(rec["val_mean_psnr"]):
        raise RestoreLabError(f"{where}: 'val_mean_psnr' is not a number")
    if not isinstance(rec.get("layers", []), list):
        raise RestoreLabError(f"{where}: 'layers' must be a list")
    return rec


def read_rounds_file(path, strategy: str | None = None) -> list[dict]:
    """The records of a ``NAME.rounds.jsonl`` (one JSON object per line; blank lines ignored),
    checked and sorted by round. ``strategy`` global/layerwise: every record must have a round."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise RestoreLabError(f"cannot read {path.name}: {err.strerror or err}") from None
    imp = strategy in IMP_STRATEGIES
    records = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise RestoreLabError(f"{path.name}, line {i}: not valid JSON") from None
        records.append(_check_record(rec, f"{path.name}, line {i}", imp))
    if not records:
        raise RestoreLabError(f"{path.name} holds no record")
    if imp:
        rounds = [r["round"] for r in records]
        if len(set(rounds)) != len(rounds):
            raise RestoreLabError(f"{path.name}: round numbers repeat ({rounds})")
        records.sort(key=lambda r: r["round"])
    return records


def shipped_tickets(models) -> tuple[list[TicketRounds], list[str]]:
    """The shipped pruned models whose card names a rounds file (``rounds_file``), with their
    records; and one line per model whose file is missing or broken (those are left out).

    ``models``: :class:`restorelab.ui.models.ModelInfo` items (``list_models()``). Reads only
    the small JSONL files: no torch."""
    tickets, problems = [], []
    for m in models:
        fname = m.card.get("rounds_file")
        if m.kind == "dense" or not fname:
            continue
        if not isinstance(fname, str) or fname != Path(fname).name or fname.startswith("."):
            problems.append(f"{m.name}: the card's rounds_file {fname!r} is not a file name in the weights folder")
            continue
        strategy = str(m.card.get("strategy") or "unknown")
        try:
            records = read_rounds_file(m.path.parent / fname, strategy)
        except RestoreLabError as err:
            problems.append(f"{m.name}: {err}")
            continue
        how = m.card.get("how")
        lottery = how.get("lottery") if isinstance(how, dict) else None
        score = str(lottery.get("score") or "magnitude") if isinstance(lottery, dict) else "magnitude"
        tickets.append(TicketRounds(m.name, strategy, records, score))
    return tickets, problems


def record_layers(rec: dict) -> dict[str, float]:
    """``{tensor name: sparsity}`` from a record's per-tensor report (``sparsity_report``'s ``layers``)."""
    layers = rec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise RestoreLabError(f"round {rec.get('round', '?')}: no per-layer report in the record")
    try:
        return {str(r["name"]): float(r["sparsity"]) for r in layers}
    except (KeyError, TypeError, ValueError):
        raise RestoreLabError(f"round {rec.get('round', '?')}: malformed per-layer report") from None


def round_layer_series(tickets: list[TicketRounds], round_: int, view: str = "layers") -> tuple[dict, list[str]]:
    """Per-layer sparsity of every IMP ticket at ``round_``: ``{ticket label: {short layer name:
    sparsity}}`` (``view="layers"``, for ``layer_sparsity_bar``) or ``{ticket label: {block: {kind:
    sparsity}}}`` (``view="blocks"``, for ``sparsity_grid``), and the names of IMP tickets with no such round."""
    check_view(view)
    series, missing = {}, []
    for t in tickets:
        if not t.is_imp:
            continue
        rec = t.at_round(int(round_))
        if rec is None:
            missing.append(t.name)
            continue
        layers = record_layers(rec)
        if view == "blocks":
            series[t.label] = block_sparsity(layers, layer_totals(rec["layers"]))
            continue
        short = short_layer_names(list(layers))
        series[t.label] = {short[k]: v for k, v in layers.items()}
    return series, missing


def record_psnr(rec: dict, task: str) -> float | None:
    """Validation PSNR of a record for ``task``, or the mean over tasks for ``MEAN_TASK``."""
    val = rec.get("val") or {}
    if task == MEAN_TASK:
        if rec.get("val_mean_psnr") is not None:
            return float(rec["val_mean_psnr"])
        vals = [float(v["psnr"]) for v in val.values()]
        return sum(vals) / len(vals) if vals else None
    entry = val.get(task)
    return float(entry["psnr"]) if entry else None


def task_choices(tickets: list[TicketRounds]) -> list[tuple[str, str]]:
    """Dropdown choices: the mean over tasks first, then every task validated in some record."""
    tasks: list[str] = []
    for t in tickets:
        for rec in t.records:
            tasks += [k for k in (rec.get("val") or {}) if k not in tasks]
    return [("mean over tasks", MEAN_TASK)] + [(k, k) for k in tasks]


def psnr_points(tickets: list[TicketRounds], task: str) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """``(imp, baselines)``: ``{ticket label: [{round, nonzero_params, sparsity, psnr}, …]}`` for the
    IMP tickets (one point per round, dense first) and the other pruned models; records without
    a PSNR for ``task`` are skipped."""
    imp: dict[str, list[dict]] = {}
    other: dict[str, list[dict]] = {}
    for t in tickets:
        pts = [{"round": r.get("round"), "nonzero_params": int(r["nonzero_params"]), "sparsity": float(r["sparsity"]),
                "psnr": p} for r in t.records if (p := record_psnr(r, task)) is not None]
        if pts:
            (imp if t.is_imp else other)[t.label] = pts
    return imp, other


def dense_psnr(tickets: list[TicketRounds], task: str) -> float | None:
    """PSNR of the dense model (round 0 of the first IMP ticket that has one), for a reference line."""
    for t in tickets:
        rec = t.at_round(0) if t.is_imp else None
        if rec is not None and float(rec["sparsity"]) == 0.0:
            p = record_psnr(rec, task)
            if p is not None:
                return p
    return None

