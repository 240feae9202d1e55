"""The Lottery tab's pruning-rounds panel: parsing ``NAME.rounds.jsonl`` (restorelab.ui.data), the
round slider's per-layer figure, the PSNR-vs-parameters curves, and the tab's wiring.

The real-data tests use tiny tickets trained and exported here by the library itself
(``lottery_tickets`` in conftest: promptir-test, a few steps per round) in a temp
``RESTORELAB_WEIGHTS_DIR``, next to the two random dev models.
"""

from __future__ import annotations

import json
import shutil

import gradio as gr
import numpy as np
import pytest

from conftest import LOTTERY_TICKETS
from restorelab.errors import RestoreLabError
from restorelab.ui import data
from restorelab.ui.data import MEAN_TASK, TicketRounds


def rec(round_=None, nz=1000, sparsity=0.0, val=None, mean=None, layers=None, **extra):
    r = {"nonzero_params": nz, "sparsity": sparsity, "total_params": 1000, "layers": layers or [], **extra}
    if round_ is not None:
        r["round"] = round_
    if val is not None:
        r["val"] = {t: {"psnr": p, "ssim": 0.5, "n": 2} for t, p in val.items()}
        r["val_mean_psnr"] = mean if mean is not None else float(np.mean(list(val.values())))
    return r


def write_jsonl(path, records, blank=False):
    lines = [json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + ("\n\n" if blank else "\n"))
    return path


# -- parsing (restorelab.ui.data) ---------------------------------------------------------------------
def test_read_rounds_file_sorts_imp_records_and_ignores_blank_lines(tmp_path):
    p = write_jsonl(tmp_path / "t.rounds.jsonl", [rec(2, 250, 0.75), rec(0), rec(1, 500, 0.5)], blank=True)
    recs = data.read_rounds_file(p, "global")
    assert [r["round"] for r in recs] == [0, 1, 2] and recs[2]["nonzero_params"] == 250
    # A baseline's single record has no round number.
    assert data.read_rounds_file(write_jsonl(tmp_path / "b.rounds.jsonl", [rec(None, 700, 0.3)]),
                                 "oneshot-magnitude")[0]["sparsity"] == 0.3


@pytest.mark.parametrize("content,needle", [
    ('{"round": 0, "nonzero_params": 5, "sparsity": 0}\n{not json\n', "line 2: not valid JSON"),
    ('{"round": 0, "sparsity": 0}\n', "'nonzero_params'"),
    ('{"nonzero_params": 5, "sparsity": 0}\n', "'round'"),
    ('{"round": 0, "nonzero_params": 5, "sparsity": 1.5}\n', "not in [0, 1]"),
    ('{"round": 0, "nonzero_params": 5, "sparsity": 0, "val": {"derain": 30}}\n', "'val'"),
    ('{"round": 1, "nonzero_params": 5, "sparsity": 0}\n{"round": 1, "nonzero_params": 5, "sparsity": 0}\n',
     "repeat"),
    ("\n\n", "holds no record"),
    ("[1, 2]\n", "JSON object"),
])
def test_read_rounds_file_refuses_malformed_files(tmp_path, content, needle):
    p = tmp_path / "x.rounds.jsonl"
    p.write_text(content)
    with pytest.raises(RestoreLabError) as info:
        data.read_rounds_file(p, "layerwise")
    assert needle in str(info.value) and "x.rounds.jsonl" in str(info.value)


def test_shipped_tickets_skip_dense_and_report_broken_files(tmp_path):
    from restorelab.ui.models import list_models

    def ship(name, **card):
        (tmp_path / f"{name}.safetensors").write_bytes(b"")
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, "preset": "promptir-test",
                                                            "params": 1000, "nonzero_params": 1000, **card}))

    ship("dense", kind="dense")
    ship("old-ticket", kind="pruned", strategy="global")  # exported before rounds files: not listed
    ship("gone", kind="pruned", strategy="global", rounds_file="gone.rounds.jsonl")
    ship("sneaky", kind="pruned", strategy="global", rounds_file="../elsewhere.jsonl")
    ship("broken", kind="pruned", strategy="global", rounds_file="broken.rounds.jsonl")
    (tmp_path / "broken.rounds.jsonl").write_text("{oops\n")
    ship("good", kind="pruned", strategy="layerwise", rounds_file="good.rounds.jsonl")
    write_jsonl(tmp_path / "good.rounds.jsonl", [rec(0), rec(1, 500, 0.5)])
    ship("lamp", kind="pruned", strategy="global", rounds_file="good.rounds.jsonl",
         how={"kind": "imp", "lottery": {"strategy": "global", "score": "lamp"}})
    tickets, problems = data.shipped_tickets(list_models(tmp_path))
    assert [(t.name, t.strategy, len(t.records)) for t in tickets] == [("good", "layerwise", 2), ("lamp", "global", 2)]
    assert [t.label for t in tickets] == ["good (IMP layer-wise)", "lamp (IMP global, LAMP scores)"]
    assert len(problems) == 3
    text = "\n".join(problems)
    assert "gone: cannot read gone.rounds.jsonl" in text and "broken: broken.rounds.jsonl, line 1" in text
    assert "sneaky" in text and "not a file name" in text


def hand_tickets():
    layers = lambda a, b: [{"name": "enc.weight", "sparsity": a, "total": 10, "kept": 0, "shape": [10]},  # noqa: E731
                           {"name": "out.weight", "sparsity": b, "total": 10, "kept": 0, "shape": [10]}]
    g = TicketRounds("g", "global", [rec(0, 1000, 0.0, {"derain": 30.0, "dehaze": 26.0}, layers=layers(0, 0)),
                                     rec(1, 500, 0.5, {"derain": 29.5, "dehaze": 25.0}, layers=layers(0.3, 0.9))])
    lw = TicketRounds("lw", "layerwise", [rec(0, 1000, 0.0, {"derain": 30.0, "dehaze": 26.0}, layers=layers(0, 0))])
    osm = TicketRounds("osm", "oneshot-magnitude", [rec(None, 700, 0.3, {"derain": 29.0}, mean=None, name="PIR-OSM I")])
    return [g, lw, osm]


def test_layer_series_points_and_task_choices_from_records():
    g, lw, osm = tickets = hand_tickets()
    assert (g.is_imp, lw.is_imp, osm.is_imp) == (True, True, False) and g.last_round == 1
    series, missing = data.round_layer_series(tickets, 1)
    assert series == {"g (IMP global)": {"enc": 0.3, "out": 0.9}} and missing == ["lw"]
    assert set(data.round_layer_series(tickets, 0)[0]) == {"g (IMP global)", "lw (IMP layer-wise)"}
    assert data.task_choices(tickets) == [("mean over tasks", MEAN_TASK), ("derain", "derain"), ("dehaze", "dehaze")]
    imp, other = data.psnr_points(tickets, "dehaze")
    assert [p["psnr"] for p in imp["g (IMP global)"]] == [26.0, 25.0] and other == {}  # osm has no dehaze
    imp, other = data.psnr_points(tickets, MEAN_TASK)
    assert imp["g (IMP global)"][1] == {"round": 1, "nonzero_params": 500, "sparsity": 0.5, "psnr": 27.25}
    assert other == {"osm (one-shot magnitude)": [{"round": None, "nonzero_params": 700, "sparsity": 0.3,
                                                   "psnr": 29.0}]}
    assert data.dense_psnr(tickets, "derain") == 30.0 and data.dense_psnr([osm], "derain") is None
    no_mean = rec(0, val={"a": 20.0, "b": 22.0})
    no_mean["val_mean_psnr"] = None
    assert data.record_psnr(no_mean, MEAN_TASK) == 21.0 and data.record_psnr(no_mean, "c") is None
    with pytest.raises(RestoreLabError, match="per-layer report"):
        data.record_layers(rec(3))


def test_figures_from_hand_records():
    from restorelab.ui.lottery_tab import curves_figure, round_figure

    tickets = hand_tickets()
    fig, md = round_figure(tickets, 1, "layers")
    assert [t.name for t in fig.data] == ["g (IMP global)"] and "`lw`: exported before round 1" in md
    fig, _ = round_figure(tickets, 1)  # the default grid: blocks enc, out; one kind
    assert [t.name for t in fig.data] == ["g (IMP global)"] and list(fig.data[0].y) == ["enc", "out"]
    fig, md = round_figure(tickets, 7)
    assert fig is None and "no IMP ticket has this round" in md
    fig = curves_figure(tickets, "derain")
    assert [(t.name, t.mode, len(t.x)) for t in fig.data] == [
        ("g (IMP global)", "lines+markers", 2), ("lw (IMP layer-wise)", "lines+markers", 1),
        ("osm (one-shot magnitude)", "markers", 1)]
    assert fig.layout.shapes[0].y0 == 30.0 and "derain" in fig.layout.title.text
    only_baseline = curves_figure(tickets[2:], "derain")  # no IMP line: markers on their own axes
    assert [t.mode for t in only_baseline.data] == ["markers"] and only_baseline.layout.xaxis.type == "log"
    with pytest.raises(RestoreLabError, match="no validation PSNR for 'sr'"):
        curves_figure(tickets, "sr")


# -- real exported tickets ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory, lottery_tickets):
    from devmodels import make_test_models

    d = tmp_path_factory.mktemp("weights")
    make_test_models(d)
    for f in lottery_tickets.iterdir():
        shutil.copy(f, d / f.name)
    return d


@pytest.fixture
def env(weights_dir, monkeypatch):
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(weights_dir))
    monkeypatch.delenv("RESTORELAB_HUB_REPO", raising=False)
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    return weights_dir


@pytest.fixture
def tickets(env):
    from restorelab.ui.lottery_tab import load_tickets
    from restorelab.ui.models import ModelStore

    found, problems = load_tickets(ModelStore())
    assert problems == []
    return {t.name: t for t in found}


def test_exported_tickets_are_found_with_their_rounds(env, tickets):
    assert {n: t.strategy for n, t in tickets.items()} == LOTTERY_TICKETS  # dev models have no rounds file
    for name in ("mirl-g", "mirl-lw"):
        recs = tickets[name].records
        assert [r["round"] for r in recs] == [0, 1, 2] and recs[0]["sparsity"] == 0
        assert recs[0]["sparsity"] < recs[1]["sparsity"] < recs[2]["sparsity"]
    for name in ("pir-osm-1", "pir-osr-2", "reinit-g"):
        assert len(tickets[name].records) == 1
    for name, t in tickets.items():  # the last record is the exported model
        card = json.loads((env / f"{name}.json").read_text())
        assert t.records[-1]["nonzero_params"] == card["nonzero_params"]


def test_round_slider_figure_global_vs_layerwise(tickets):
    from restorelab.ui.lottery_tab import round_figure

    ts = list(tickets.values())
    fig, md = round_figure(ts, 2, "layers")
    assert [t.name for t in fig.data] == ["mirl-g (IMP global)", "mirl-lw (IMP layer-wise)"]
    assert "**Round 2**" in md and "mirl-lw (IMP layer-wise)" in md
    g, lw = (np.array(t.y, dtype=float) for t in fig.data)
    expected = {r["name"].removesuffix(".weight"): r["sparsity"] for r in tickets["mirl-g"].records[2]["layers"]}
    assert list(fig.data[0].x) == list(expected) and np.allclose(g, list(expected.values()))
    # Layer-wise pruning removes the same fraction from every layer; global pruning does not.
    assert abs(np.median(lw) - 0.75) < 0.01 and np.ptp(g) > 0.5 > np.ptp(lw)
    fig0, md0 = round_figure(ts, 0, "layers")
    assert "(the dense model)" in md0 and all(max(t.y) == 0 for t in fig0.data)
    # the default grid: blocks x layer kinds, a cell = the size-weighted fraction of zeros
    fig, _ = round_figure(ts, 2)
    g = fig.data[0]
    assert 10 <= len(g.y) <= 40 and "attn.qkv" in g.x and len(g.x) < 15
    zeros = sum(r["sparsity"] * r["total"] for r in tickets["mirl-g"].records[2]["layers"]
                if r["name"].startswith("latent.") and ".attn.qkv.weight" in r["name"])
    size = sum(r["total"] for r in tickets["mirl-g"].records[2]["layers"]
               if r["name"].startswith("latent.") and ".attn.qkv.weight" in r["name"])
    assert abs(g.z[list(g.y).index("latent")][list(g.x).index("attn.qkv")] - zeros / size) < 1e-9


def test_psnr_curves_lines_and_baseline_markers(tickets):
    from restorelab.ui.lottery_tab import curves_figure

    ts = list(tickets.values())
    for task in (MEAN_TASK, "denoise_25"):
        fig = curves_figure(ts, task)
        lines = [t for t in fig.data if t.mode == "lines+markers"]
        marks = [t for t in fig.data if t.mode == "markers"]
        assert [t.name for t in lines] == ["mirl-g (IMP global)", "mirl-lw (IMP layer-wise)"]
        assert {t.name for t in marks} == {"pir-osm-1 (one-shot magnitude)", "pir-osr-2 (one-shot random)",
                                           "reinit-g (random re-init)"}
        recs = tickets["mirl-g"].records
        assert list(lines[0].x) == [r["nonzero_params"] for r in recs]  # dense → sparse
        assert list(lines[0].y) == pytest.approx([r["val"]["denoise_25"]["psnr"] for r in recs])
        assert all(len(t.x) == 1 for t in marks) and len({t.marker.color for t in fig.data}) >= 3
        assert fig.layout.shapes[0].y0 == pytest.approx(recs[0]["val_mean_psnr"])


def test_rounds_view_and_the_tab_handler(env, monkeypatch, tmp_path):
    import app
    from restorelab.ui.lottery_tab import rounds_view
    from restorelab.ui.models import ModelStore

    v = rounds_view(ModelStore())
    assert v["max_round"] == 2 and v["imp"] and v["choices"] == [("mean over tasks", "mean"),
                                                                ("denoise_25", "denoise_25")]
    assert v["layers"] is not None and v["curves"] is not None and v["round_md"].startswith("**Round 2**")
    assert v["summary"].startswith("**5 shipped pruned model(s)") and "PIR-OSM I" in v["summary"]

    # Building the app reads no rounds file (they are read when the tab is opened).
    calls = []
    real = data.read_rounds_file
    monkeypatch.setattr(data, "read_rounds_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    demo = app.build_demo()
    assert calls == []
    handlers = {f.fn.__name__: f for f in demo.fns.values() if f.fn is not None}
    out = handlers["rounds_ui"].fn()  # what opening the tab does
    assert len(calls) == len(LOTTERY_TICKETS)
    state, summary, box, imp_box, slider, round_md, layers, task, curves_md, curves = out
    assert box.visible and imp_box.visible and slider.maximum == 2 and slider.value == 2 and slider.visible
    assert [c[1] for c in task.choices] == ["mean", "denoise_25"] and curves.visible
    assert layers is not None and curves_md == ""
    # a second visit keeps what the user chose (round, task) and reads nothing again
    assert all(o == gr.skip() for o in handlers["rounds_ui"].fn(state)) and len(calls) == len(LOTTERY_TICKETS)
    md, fig = handlers["round_ui"].fn(state, 1)
    assert md.startswith("**Round 1**") and len(fig.data) == 2
    assert handlers["curves_ui"].fn(state, "denoise_25").layout.title.text.endswith("(denoise_25)")
    with pytest.raises(Exception, match="no validation PSNR for 'sr'"):
        handlers["curves_ui"].fn(state, "sr")

    # Only dense models (or pruned ones exported before rounds files): a short note, nothing else.
    shutil.copy(env / "dev-dense.json", tmp_path / "dev-dense.json")
    shutil.copy(env / "dev-dense.safetensors", tmp_path / "dev-dense.safetensors")
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))
    out = handlers["rounds_ui"].fn()
    assert out[0] == [] and out[1].startswith("No pruned model with pruning records") and not out[2].visible

    # A broken rounds file is named in the summary; the other tickets still show.
    for f in env.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "mirl-lw.rounds.jsonl").write_text("{cut short\n")
    v = rounds_view(ModelStore())
    assert len(v["tickets"]) == 4 and "mirl-lw: mirl-lw.rounds.jsonl, line 1: not valid JSON" in v["summary"]
    assert [t.name for t in v["layers"].data] == ["mirl-g (IMP global)"]


def test_tab_opens_on_global_vs_layerwise_and_draws_one_layers_mask(env, tickets):
    from restorelab.ui.lottery_tab import default_picks, mask_figure, mask_layers
    from restorelab.ui.models import ModelStore, list_models

    assert default_picks(list_models()) == ["mirl-g", "mirl-lw"]
    store = ModelStore()
    layer = mask_layers(store, "mirl-g")[0]
    fig = mask_figure(store, ["mirl-g", "mirl-lw"], layer)
    assert [t.name for t in fig.data] == ["mirl-g", "mirl-lw"]
    for t in fig.data:  # the picture is the full-size tensor (not the shrunk one) and matches the record
        rec = next(r for r in tickets[t.name].records[-1]["layers"] if r["name"] == layer)
        z = np.asarray(t.z)
        assert z.shape[0] == rec["shape"][0] and z.size == rec["total"]
        assert abs(z.mean() - rec["kept"] / rec["total"]) < 1e-9
    with pytest.raises(RestoreLabError, match="no weight tensor"):
        mask_figure(store, ["mirl-g"], "nope.weight")
