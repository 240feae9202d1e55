"""restorelab.plots: each builder returns a plotly Figure with the right traces, and refuses bad data."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from restorelab.errors import RestoreLabError
from restorelab.plots import (
    distance_bar,
    layer_sparsity_bar,
    psnr_curves,
    psnr_vs_params,
    similarity_heatmap,
)


def test_layer_sparsity_single_series():
    fig = layer_sparsity_bar({"enc.0": 0.2, "enc.1": 0.5, "out": 0.1})
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 1 and fig.data[0].type == "bar"
    assert list(fig.data[0].x) == ["enc.0", "enc.1", "out"]
    assert list(fig.data[0].y) == [0.2, 0.5, 0.1]
    assert tuple(fig.layout.yaxis.range) == (0, 1)


def test_layer_sparsity_grouped_series_align_layers():
    fig = layer_sparsity_bar({"global": {"a": 0.9, "b": 0.5}, "layer-wise": {"b": 0.8, "c": 0.7}})
    assert [t.name for t in fig.data] == ["global", "layer-wise"]
    assert all(list(t.x) == ["a", "b", "c"] for t in fig.data)
    assert list(fig.data[0].y) == [0.9, 0.5, None] and list(fig.data[1].y) == [None, 0.8, 0.7]
    assert fig.layout.barmode == "group"


@pytest.mark.parametrize("bad", [{}, {"a": 1.5}, {"a": -0.1}])
def test_layer_sparsity_refuses_bad_data(bad):
    with pytest.raises(RestoreLabError):
        layer_sparsity_bar(bad)


def test_psnr_vs_params_one_line_per_task_and_series():
    rounds = [
        {"round": r, "nonzero_params": 1000 * 0.8 ** r, "psnr": {"denoise_25": 30 - r * 0.1, "derain": 33 - r * 0.2},
         "series": s}
        for s in ("winning ticket", "random re-init") for r in range(4)
    ]
    fig = psnr_vs_params(rounds)
    assert len(fig.data) == 4 and all(t.type == "scatter" for t in fig.data)
    names = {t.name for t in fig.data}
    assert names == {"denoise_25 · winning ticket", "denoise_25 · random re-init",
                     "derain · winning ticket", "derain · random re-init"}
    t = next(t for t in fig.data if t.name == "derain · winning ticket")
    assert list(t.x) == sorted(t.x, reverse=True)  # dense → sparse
    assert fig.layout.xaxis.type == "log"


def test_psnr_vs_params_single_series_uses_task_names_and_skips_none():
    fig = psnr_vs_params([{"nonzero_params": 100, "psnr": {"dehaze": 25.0, "derain": None}},
                          {"nonzero_params": 50, "psnr": {"dehaze": 24.0}}])
    assert [t.name for t in fig.data] == ["dehaze"] and list(fig.data[0].y) == [25.0, 24.0]
    with pytest.raises(RestoreLabError):
        psnr_vs_params([{"psnr": {"x": 1}}])
    with pytest.raises(RestoreLabError):
        psnr_vs_params([])


def test_psnr_vs_params_colour_by_series_and_reference_line():
    recs = [{"nonzero_params": n, "psnr": {"toy": p}, "series": s}
            for s, ps in (("ticket", (30, 29)), ("re-init", (30, 27))) for n, p in zip((100, 60), ps)]
    fig = psnr_vs_params(recs, color_by="series", reference=30.5)
    assert len(fig.data) == 2 and fig.data[0].line.color != fig.data[1].line.color
    assert {t.name for t in fig.data} == {"ticket", "re-init"}  # one task: series names suffice
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].y0 == 30.5
    with pytest.raises(RestoreLabError):
        psnr_vs_params(recs, color_by="nope")


def test_similarity_heatmap():
    names = [f"d{i}" for i in range(11)]
    m = np.random.default_rng(0).random((11, 11))
    fig = similarity_heatmap(names, m)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    assert np.allclose(np.asarray(fig.data[0].z), m) and list(fig.data[0].x) == names
    with pytest.raises(RestoreLabError):
        similarity_heatmap(names[:3], m)


def test_distance_bar_highlights_chosen_and_draws_threshold():
    fig = distance_bar({"g1": 0.3, "g2": 0.1, "g3": 0.7}, chosen="g2", threshold=0.5)
    assert len(fig.data) == 1 and fig.data[0].type == "bar"
    colors = list(fig.data[0].marker.color)
    assert colors[1] != colors[0] == colors[2]
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].y0 == 0.5
    with pytest.raises(RestoreLabError):
        distance_bar({"g1": 1.0}, chosen="nope")


def test_psnr_curves_pairs_and_plain_lists():
    fig = psnr_curves({"dense DIP": ([0, 10, 20], [20.0, 25.0, 23.0]), "Sparse-DIP": [19.0, 24.0, 26.0]})
    assert [t.name for t in fig.data] == ["dense DIP", "Sparse-DIP"]
    assert all(t.type == "scatter" for t in fig.data)
    assert list(fig.data[0].x) == [0, 10, 20] and list(fig.data[1].x) == [0, 1, 2]
    # A 2-tuple of numbers is one curve of two points, not (xs, ys).
    fig = psnr_curves({"short": (20.0, 21.0)})
    assert list(fig.data[0].y) == [20.0, 21.0]
    with pytest.raises(RestoreLabError):
        psnr_curves({"bad": ([0, 1], [1.0])})
    with pytest.raises(RestoreLabError):
        psnr_curves({})


def test_figures_serialise_to_json():
    fig = layer_sparsity_bar({"a": 0.1})
    assert '"type":"bar"' in fig.to_json().replace(" ", "")


def test_add_param_markers_single_points_after_the_lines():
    from restorelab.plots.figures import add_param_markers

    lines = [{"nonzero_params": n, "psnr": {"toy": p}, "series": "IMP"} for n, p in ((100, 30), (50, 29))]
    fig = psnr_vs_params(lines, reference=30.0)
    fig = add_param_markers(fig, [{"series": "one-shot", "nonzero_params": 70, "psnr": {"toy": 28.0}, "sparsity": 0.3},
                                  {"series": "re-init", "nonzero_params": 50, "psnr": {"toy": 27.0, "other": None}}])
    assert [(t.name, t.mode, len(t.x)) for t in fig.data] == [("toy", "lines+markers", 2),
                                                                ("one-shot", "markers", 1), ("re-init", "markers", 1)]
    colours = [fig.data[0].line.color, fig.data[1].marker.color, fig.data[2].marker.color]
    assert len(set(colours)) == 3 and fig.data[1].marker.symbol != fig.data[2].marker.symbol
    assert list(fig.data[1].customdata) == [0.3] and fig.data[2].customdata is None
    alone = add_param_markers(None, [{"series": "a", "nonzero_params": 5, "psnr": {"t1": 1.0, "t2": 2.0}}])
    assert {t.name for t in alone.data} == {"t1 · a", "t2 · a"} and alone.layout.xaxis.type == "log"
    with pytest.raises(RestoreLabError):
        add_param_markers(None, [])
    with pytest.raises(RestoreLabError):
        add_param_markers(fig, [{"psnr": {"x": 1.0}}])


def test_sparsity_grid_and_mask_picture():
    from restorelab.plots import mask_picture, sparsity_grid

    fig = sparsity_grid({"g": {"enc": {"qkv": 0.5, "ffn": 0.9}, "out": {"conv": 0.1}},
                         "lw": {"enc": {"qkv": 0.8}}})
    assert [t.name for t in fig.data] == ["g", "lw"] and list(fig.data[0].y) == ["enc", "out"]
    assert list(fig.data[0].x) == ["qkv", "ffn", "conv"] and list(fig.data[1].z[1]) == [None, None, None]
    with pytest.raises(RestoreLabError):
        sparsity_grid({"g": {"enc": {"qkv": 1.5}}})
    with pytest.raises(RestoreLabError):
        sparsity_grid({})
    fig = mask_picture({"a": np.eye(3, dtype=bool)})
    assert np.asarray(fig.data[0].z).sum() == 3 and "33.3% kept" in fig.layout.annotations[0].text
    with pytest.raises(RestoreLabError):
        mask_picture({"a": np.ones(3)})
