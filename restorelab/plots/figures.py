"""The figure builders. Each validates its input and raises ``RestoreLabError`` on bad data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from restorelab.errors import RestoreLabError

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=60), height=420)
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")


def _fig(title: str | None, **layout) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**_LAYOUT, "title": title, **layout})
    return fig


def layer_sparsity_bar(sparsity: Mapping[str, float] | Mapping[str, Mapping[str, float]],
                       title: str | None = "Per-layer sparsity") -> go.Figure:
    """Bars of the fraction of zero weights per layer.

    ``sparsity``: ``{layer: fraction in [0, 1]}`` (one series), or
    ``{series: {layer: fraction}}`` (e.g. ``{"global": …, "layer-wise": …}``: grouped bars,
    layers in the order they first appear).
    """
    if not sparsity:
        raise RestoreLabError("no layers to plot")
    first = next(iter(sparsity.values()))
    series = dict(sparsity) if isinstance(first, Mapping) else {"sparsity": sparsity}
    layers: list[str] = []
    for s in series.values():
        layers += [k for k in s if k not in layers]
    fig = _fig(title, barmode="group", xaxis_title="layer", yaxis_title="sparsity (fraction of zeros)",
               yaxis_range=[0, 1], showlegend=len(series) > 1)
    for i, (name, s) in enumerate(series.items()):
        vals = [float(s[k]) if k in s else None for k in layers]
        if any(v is not None and not 0.0 <= v <= 1.0 for v in vals):
            raise RestoreLabError(f"sparsity values must be in [0, 1] (series {name!r})")
        fig.add_trace(go.Bar(x=layers, y=vals, name=name, marker_color=_PALETTE[i % len(_PALETTE)],
                             hovertemplate="%{x}<br>%{y:.1%}<extra>" + name + "</extra>"))
    fig.update_xaxes(tickangle=-60, automargin=True, tickfont=dict(size=9))
    return fig


def sparsity_grid(series: Mapping[str, Mapping[str, Mapping[str, float]]],
                  title: str | None = "Fraction of zero weights by block") -> go.Figure:
    """Heatmaps of the fraction of zero weights: rows = network blocks (in order), columns = layer
    kinds, one panel per series (e.g. global vs layer-wise ticket). ``series``: ``{label: {block:
    {kind: fraction in [0, 1]}}}``; a block without a kind shows an empty cell."""
    from plotly.subplots import make_subplots

    if not series or not all(series.values()):
        raise RestoreLabError("no layers to plot")
    blocks: list[str] = []
    kinds: list[str] = []
    for grid in series.values():
        for b, cells in grid.items():
            blocks += [b] if b not in blocks else []
            kinds += [k for k in cells if k not in kinds]
    fig = make_subplots(rows=1, cols=len(series), subplot_titles=list(series), shared_yaxes=True,
                        horizontal_spacing=0.02)
    for i, (name, grid) in enumerate(series.items(), 1):
        z = [[grid.get(b, {}).get(k) for k in kinds] for b in blocks]
        if any(v is not None and not 0.0 <= v <= 1.0 for row in z for v in row):
            raise RestoreLabError(f"sparsity values must be in [0, 1] (series {name!r})")
        text = [["" if v is None else f"{v:.0%}" for v in row] for row in z]
        fig.add_trace(go.Heatmap(z=z, x=kinds, y=blocks, zmin=0, zmax=1, colorscale="Viridis", text=text,
                                 texttemplate="%{text}", textfont=dict(size=8), showscale=i == len(series),
                                 colorbar=dict(title="zeros"), name=name,
                                 hovertemplate="%{y} · %{x}<br>%{z:.1%} zero<extra>" + name + "</extra>"),
                      row=1, col=i)
    fig.update_layout(**{**_LAYOUT, "title": title, "height": max(420, 22 * len(blocks) + 160)})
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=9))
    fig.update_xaxes(tickangle=-45, tickfont=dict(size=9))
    return fig


def mask_picture(masks: Mapping[str, np.ndarray], title: str | None = "Kept weights of one layer") -> go.Figure:
    """One panel per series: a weight tensor's mask as an image (rows = output channels, columns =
    inputs x kernel positions; bright = kept, dark = pruned). ``masks``: ``{label: 2-D bool array}``."""
    from plotly.subplots import make_subplots

    if not masks:
        raise RestoreLabError("no mask to draw")
    for name, m in masks.items():
        if np.ndim(m) != 2:
            raise RestoreLabError(f"mask of {name!r} must be 2-D, got shape {np.shape(m)}")
    fig = make_subplots(rows=1, cols=len(masks), horizontal_spacing=0.04,
                        subplot_titles=[f"{n}: {np.mean(m):.1%} kept" for n, m in masks.items()])
    for i, (name, m) in enumerate(masks.items(), 1):
        fig.add_trace(go.Heatmap(z=np.asarray(m, dtype=np.uint8), zmin=0, zmax=1, showscale=False, name=name,
                                 colorscale=[[0, "#1b1b1b"], [1, "#f2c14e"]],
                                 hovertemplate="out %{y}, in %{x}: %{z}<extra>" + name + "</extra>"), row=1, col=i)
    fig.update_layout(**{**_LAYOUT, "title": title})
    fig.update_yaxes(autorange="reversed", title_text="output channel", row=1, col=1)
    fig.update_xaxes(title_text="input x kernel position")
    return fig


def psnr_vs_params(rounds: Sequence[Mapping], title: str | None = "PSNR vs non-zero parameters",
                   metric: str = "psnr", color_by: str = "task", reference: float | None = None,
                   reference_label: str = "dense") -> go.Figure:
    """One line per (series, task): PSNR against the number of non-zero parameters.

    Each record: ``{"nonzero_params": int, "psnr": {task: dB, …}}`` plus optional
    ``"series"`` (e.g. ``"winning ticket"``, ``"random re-init"``, ``"one-shot"``; default
    ``"IMP"``) and ``"round"``. ``metric`` picks another per-task dict (e.g. ``"ssim"``).
    The x axis is logarithmic and reversed, so pruning proceeds left to right.
    ``color_by``: ``"task"`` (colour per task, dash per series) or ``"series"`` (the reverse).
    ``reference``: a horizontal dashed line (e.g. the dense model's PSNR; a shape, not a trace).
    """
    if color_by not in ("task", "series"):
        raise RestoreLabError(f"color_by must be 'task' or 'series', got {color_by!r}")
    if not rounds:
        raise RestoreLabError("no pruning rounds to plot")
    lines: dict[tuple[str, str], list[tuple[float, float, object]]] = {}
    for rec in rounds:
        if "nonzero_params" not in rec or metric not in rec:
            raise RestoreLabError(f"each round needs 'nonzero_params' and '{metric}' (got keys {sorted(rec)})")
        per_task = rec[metric]
        if not isinstance(per_task, Mapping):
            per_task = {"all": per_task}
        for task, v in per_task.items():
            if v is None:
                continue
            key = (str(rec.get("series", "IMP")), str(task))
            lines.setdefault(key, []).append((float(rec["nonzero_params"]), float(v), rec.get("round")))
    fig = _fig(title, xaxis_title="non-zero parameters", yaxis_title=f"{metric.upper()}"
               + (" (dB)" if metric == "psnr" else ""), hovermode="closest")
    series_names = sorted({s for s, _ in lines})
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    tasks = sorted({t for _, t in lines})
    for (s, task), pts in sorted(lines.items()):
        pts.sort(key=lambda p: -p[0])
        name = task if len(series_names) == 1 else s if len(tasks) == 1 else f"{task} · {s}"
        ci, di = tasks.index(task), series_names.index(s)
        if color_by == "series":
            ci, di = di, ci
        fig.add_trace(go.Scatter(
            x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=name,
            customdata=[p[2] for p in pts],
            line=dict(color=_PALETTE[ci % len(_PALETTE)], dash=dashes[di % len(dashes)]),
            hovertemplate="%{x:,.0f} params<br>%{y:.2f}<br>round %{customdata}<extra>" + name + "</extra>"))
    fig.update_xaxes(type="log", autorange="reversed")
    if reference is not None:
        fig.add_hline(y=float(reference), line_dash="dot", line_color="#555",
                      annotation_text=reference_label, annotation_position="bottom left")
    return fig


def similarity_heatmap(names: Sequence[str], matrix, title: str | None = "Degradation similarity",
                       colorbar_title: str = "distance", reverse_scale: bool = False) -> go.Figure:
    """Heatmap of a square matrix (e.g. GRIDS' 11×11 degradation similarity), values annotated."""
    m = np.asarray(matrix, dtype=float)
    n = len(names)
    if m.shape != (n, n):
        raise RestoreLabError(f"matrix has shape {m.shape}, expected ({n}, {n}) for {n} names")
    fig = _fig(title, height=max(420, 40 * n + 120), xaxis_title=None, yaxis_title=None)
    fig.add_trace(go.Heatmap(z=m, x=list(names), y=list(names), colorscale="Viridis",
                             reversescale=reverse_scale, colorbar=dict(title=colorbar_title),
                             text=np.round(m, 2), texttemplate="%{text}",
                             hovertemplate="%{y} vs %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-45)
    return fig


def distance_bar(distances: Mapping[str, float], chosen: str | None = None, threshold: float | None = None,
                 title: str | None = "Distance to each group") -> go.Figure:
    """Bars of distances (e.g. KL to each GRIDS group); the chosen one highlighted, an optional
    out-of-distribution threshold drawn as a dashed line (a layout shape, not a trace)."""
    if not distances:
        raise RestoreLabError("no distances to plot")
    if chosen is not None and chosen not in distances:
        raise RestoreLabError(f"chosen {chosen!r} is not among {sorted(distances)}")
    names = list(distances)
    vals = [float(distances[k]) for k in names]
    colors = [_PALETTE[1] if k == chosen else _PALETTE[0] for k in names]
    fig = _fig(title, xaxis_title="group", yaxis_title="distance", showlegend=False)
    fig.add_trace(go.Bar(x=names, y=vals, marker_color=colors,
                         hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    if threshold is not None:
        fig.add_hline(y=float(threshold), line_dash="dash", line_color="#555",
                      annotation_text="out-of-distribution above", annotation_position="top left")
    return fig


def psnr_curves(curves: Mapping[str, Sequence[float] | tuple[Sequence[float], Sequence[float]]],
                title: str | None = "PSNR over steps", xaxis_title: str = "step") -> go.Figure:
    """One line per curve, e.g. ``{"dense DIP": (steps, psnr), "Sparse-DIP": (steps, psnr)}``.

    A curve is ``(xs, ys)`` or just ``ys`` (x = 0, 1, …). ``None`` values leave gaps.
    """
    if not curves:
        raise RestoreLabError("no curves to plot")
    fig = _fig(title, xaxis_title=xaxis_title, yaxis_title="PSNR (dB)", hovermode="x unified")
    for i, (name, c) in enumerate(curves.items()):
        if isinstance(c, tuple) and len(c) == 2 and all(np.ndim(v) == 1 for v in c):
            xs, ys = list(c[0]), list(c[1])
        else:
            ys = list(c)
            xs = list(range(len(ys)))
        if len(xs) != len(ys):
            raise RestoreLabError(f"curve {name!r}: {len(xs)} x values but {len(ys)} y values")
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name,
                                 line=dict(color=_PALETTE[i % len(_PALETTE)])))
    return fig


_SYMBOLS = ("diamond", "square", "triangle-up", "x", "star", "cross", "triangle-down", "pentagon")


def add_param_markers(fig: go.Figure | None, points: Sequence[Mapping], metric: str = "psnr",
                      title: str | None = "PSNR vs non-zero parameters") -> go.Figure:
    """Single points on a :func:`psnr_vs_params` figure, e.g. one-shot and re-init baselines
    (one pruned model each): one marker trace per (series, task), no line.

    ``points``: records as for ``psnr_vs_params`` (``nonzero_params``, ``metric``: ``{task: value}``
    or a number, ``series``) plus an optional ``sparsity`` (fraction, shown on hover). Colours
    continue after the figure's traces, so markers never share a colour with its lines.
    ``fig`` None: a new figure with the same axes (log, reversed). Returns the figure.
    """
    if not points:
        raise RestoreLabError("no points to plot")
    if fig is None:
        fig = _fig(title, xaxis_title="non-zero parameters",
                   yaxis_title=f"{metric.upper()}" + (" (dB)" if metric == "psnr" else ""), hovermode="closest")
        fig.update_xaxes(type="log", autorange="reversed")
    groups: dict[tuple[str, str], list[tuple[float, float, object]]] = {}
    for rec in points:
        if "nonzero_params" not in rec or metric not in rec:
            raise RestoreLabError(f"each point needs 'nonzero_params' and '{metric}' (got keys {sorted(rec)})")
        per_task = rec[metric] if isinstance(rec[metric], Mapping) else {"all": rec[metric]}
        for task, v in per_task.items():
            if v is not None:
                groups.setdefault((str(rec.get("series", "baseline")), str(task)), []).append(
                    (float(rec["nonzero_params"]), float(v), rec.get("sparsity")))
    tasks = {t for _, t in groups}
    start = len(fig.data)
    for i, ((s, task), pts) in enumerate(groups.items()):
        name = s if len(tasks) == 1 else f"{task} · {s}"
        sparse = all(p[2] is not None for p in pts)
        fig.add_trace(go.Scatter(
            x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers", name=name,
            customdata=[p[2] for p in pts] if sparse else None,
            marker=dict(color=_PALETTE[(start + i) % len(_PALETTE)], symbol=_SYMBOLS[i % len(_SYMBOLS)], size=12,
                        line=dict(width=1, color="#333")),
            hovertemplate="%{x:,.0f} params" + (" (%{customdata:.1%} sparse)" if sparse else "")
                          + "<br>%{y:.2f}<extra>" + name + "</extra>"))
    return fig
