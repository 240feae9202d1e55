"""The GRIDS tab: its page-load panels (heatmap, δ search, groups) and ``/grids_select`` through
``gradio_client``, on tiny artefacts made here by the library.

The artefacts (an untrained tiny descriptor, a similarity cache over two small crops, a few
fake-but-valid ΔP measurements, a groups file) are written to a temp ``RESTORELAB_WEIGHTS_DIR``
next to two random ``promptir-test`` models; nothing is trained.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from apphelpers import app_environment
from devmodels import make_test_models

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "chelsea.jpg"


def make_grids_artefacts(weights: Path, tmp: Path) -> dict:
    """descriptor + similarity (library-computed, tiny) + deltap (top-ranked pair measured) in
    ``weights/grids``; returns what the tests need to know about them."""
    import torch

    from restorelab.grids import similarity
    from restorelab.grids.descriptor import DescriptorConfig
    from restorelab.grids.search import DeltaCache, group_key, rank_groups
    from restorelab.grids.srresnet import SRResNet, SRResNetConfig, save_descriptor

    grids = weights / "grids"
    grids.mkdir(parents=True, exist_ok=True)
    photos = tmp / "photos"
    photos.mkdir()
    src = Image.open(EXAMPLE).convert("RGB")
    for i, box in enumerate([(100, 60, 148, 108), (200, 150, 248, 198)]):
        src.crop(box).save(photos / f"{i}.png")
    torch.manual_seed(0)
    save_descriptor(SRResNet(SRResNetConfig(nf=4, n_blocks=1)), grids / "descriptor.safetensors")
    cfg = DescriptorConfig(patch_size=8, n_patches=24, n_components=16, batch_size=24)
    sim = similarity.compute(grids / "descriptor.safetensors", photos, grids / "similarity.json", cfg)
    top_pair = rank_groups(sim.tasks, sim.matrix, 2)[0]
    cache = DeltaCache(grids / "deltap.json", meta={"note": "test values"})
    cache.values = {group_key(top_pair): 0.5, group_key(sim.tasks[:6]): 3.0}
    cache.save()
    return {"top_pair": top_pair, "tasks": sim.tasks}


def write_groups(weights: Path, models=None, threshold=None) -> None:
    from restorelab.grids.store import GroupsFile
    from restorelab.grids.tasks import PAPER_GROUPS

    GroupsFile([list(g) for g in PAPER_GROUPS], models=models or [], threshold=threshold,
               source="test").save(weights / "grids" / "groups.json")


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("weights")
    make_test_models(d)
    info = make_grids_artefacts(d, tmp_path_factory.mktemp("grids-src"))
    return d, info


@pytest.fixture(scope="module")
def app_env(weights_dir):
    with app_environment(weights_dir[0]) as mp:
        yield mp




def grids_select(client, path=EXAMPLE, degradation="none", seed=0):
    return client.predict(handle_file(str(path)), degradation, seed, api_name="/grids_select")


def expect_error(client, *needles, **kw):
    with pytest.raises(Exception) as info:
        grids_select(client, **kw)
    msg = str(info.value)
    assert "Traceback" not in msg
    for n in needles:
        assert n.lower() in msg.lower(), msg
    return msg


# -- page-load panels -----------------------------------------------------------------------------
def test_overview_with_artefacts(weights_dir, app_env):
    from restorelab.grids.tasks import LABELS, TASKS
    from restorelab.ui.grids_tab import heatmap, overview

    write_groups(weights_dir[0], threshold=0.5)
    status, heat, note, search_md, search_df, groups_cap, groups_df, dropdown = overview()
    assert heat.visible is True and heat.value["type"] == "plotly"
    fig, note2 = heatmap()
    z = np.array(fig.data[0].z)
    assert z.shape == (11, 11) and np.allclose(np.diag(z), 0)
    assert list(fig.data[0].x) == [LABELS[t] for t in TASKS]
    assert "log10(KL" in note and note == note2
    assert "11×11 matrix" in status and "2 measured group(s)" in status
    assert "present, the one `similarity.json` was computed with" in status
    assert "OOD threshold 0.500" in status
    assert "δ = 0.7 dB → 10 groups" in search_md and len(search_df) == 10
    assert list(groups_df["group"]) == ["G1", "G2", "G3", "G4"] and "groups.json" in groups_cap
    assert [v for _, v in dropdown.choices] == ["none", *TASKS]


def test_delta_slider_regroups_from_the_cached_measurements(weights_dir, app_env):
    from restorelab.grids.tasks import LABELS
    from restorelab.ui.grids_tab import regroup

    top = weights_dir[1]["top_pair"]
    md, rows = regroup(0.3)  # the measured pair (ΔP 0.5 dB) fails: singletons only
    assert len(rows) == 11 and "δ = 0.3 dB → 11 groups" in md
    md, rows = regroup(0.7)  # it passes now: one pair + 9 singletons
    assert len(rows) == 10
    pair = [r for r in rows if r[2] not in ("0 (single task)",)]
    assert pair == [[pair[0][0], ", ".join(LABELS[t] for t in top), "0.50"]]
    # groups nobody measured are counted as failing and reported, nothing is trained
    assert "unmeasured" in md and "--measure" in md
    for bad in (None, 0.0, 5.0):
        with pytest.raises(Exception, match="δ"):
            regroup(bad)


def test_delta_slider_reuses_the_shipped_search_settings(weights_dir, app_env):
    from restorelab.grids.store import GroupsFile
    from restorelab.grids.tasks import PAPER_GROUPS
    from restorelab.ui.grids_tab import regroup, shipped_delta

    assert shipped_delta() == 0.7  # groups not from a search: the paper's δ
    GroupsFile([list(g) for g in PAPER_GROUPS], source="test", search={"delta": 1.2, "max_size": 1}).save(
        weights_dir[0] / "grids" / "groups.json")
    try:
        assert shipped_delta() == 1.2
        md, rows = regroup(0.7)  # the measured pair would pass, but the shipped search allowed size 1 only
        assert len(rows) == 11
    finally:
        write_groups(weights_dir[0])


def test_no_artefacts_state(tmp_path, monkeypatch, app_env):
    from restorelab.ui.grids_tab import overview, regroup

    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))  # nothing computed yet
    status, heat, note, search_md, search_df, groups_cap, groups_df, _ = overview()
    assert heat.visible is False and heat.value is None
    assert "the similarity matrix has not been computed; run `python -m restorelab grids similarity`" in note.lower()
    assert "needs the similarity matrix" in search_md and len(search_df) == 0
    assert status.count("missing") == 4
    assert "paper's 4 groups" in groups_cap and len(groups_df) == 4
    assert set(groups_df["model"]) == {"— (not shipped yet)"}
    assert "needs the similarity matrix" in regroup(0.7)[0]


def test_broken_artefact_is_reported_not_raised(tmp_path, monkeypatch, app_env):
    from restorelab.ui.grids_tab import overview

    (tmp_path / "grids").mkdir()
    (tmp_path / "grids" / "similarity.json").write_text("{not json")
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))
    status, heat, note, search_md, *_ = overview()
    assert heat.visible is False and "not valid JSON" in note and "not valid JSON" in search_md
    assert "unreadable" in status


def test_events_are_wired(server):
    fns = {f.name: f for f in server[0].fns.values()}
    assert [t[1] for t in fns["overview"].targets] == ["load"]  # panels filled on page load, privately
    assert [t[1] for t in fns["regroup_ui"].targets] == ["release"]
    for name in ("overview", "regroup_ui", "select_ui"):
        assert fns[name].api_visibility == "private"
    for name in ("select_ui", "grids_select"):  # CPU-bound: the restore slot, one at a time
        assert (fns[name].concurrency_id, fns[name].concurrency_limit) == ("restore", 1)


# -- /grids_select ------------------------------------------------------------------------------------
def test_endpoint_is_named(client):
    eps = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert "/grids_select" in eps
    assert [p["label"] for p in eps["/grids_select"]["parameters"]] == ["image", "degradation", "seed"]


def test_select_restores_with_the_group_model(weights_dir, client):
    write_groups(weights_dir[0], models=["dev-dense"] * 4, threshold=1e9)
    out, model_input, s = grids_select(client, degradation="gaussian_blur", seed=2)
    assert set(s["distances"]) == {"G1", "G2", "G3", "G4"} and s["group"] in s["distances"]
    assert s["distance"] == min(s["distances"].values()) and all(math.isfinite(v) for v in s["distances"].values())
    assert s["ood"] is False and s["calibrated"] is True and s["threshold"] == 1e9
    assert s["restored_with"] == "dev-dense" and s["model"] == "dev-dense" and s["note"] is None
    assert s["simulated"] == {"name": "gaussian_blur", "seed": 2} and s["groups_source"] == "test"
    size = Image.open(EXAMPLE).size
    for p in (out, model_input):
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size == size
    # seeded: the same request selects with the same distances
    _, _, again = grids_select(client, degradation="gaussian_blur", seed=2)
    assert again["distances"] == s["distances"]


def test_restore_tab_offers_grids_selected_model(weights_dir, client):
    from restorelab.ui.restore_tab import GRIDS_AUTO, _model_choices

    write_groups(weights_dir[0])  # no group models: no GRIDS choice
    assert GRIDS_AUTO not in [v for _, v in _model_choices()[0]]
    write_groups(weights_dir[0], models=["dev-dense"] * 4, threshold=1e9)
    assert GRIDS_AUTO in [v for _, v in _model_choices()[0]]
    out, model_input, m = client.predict(handle_file(str(EXAMPLE)), GRIDS_AUTO, "gaussian_noise", 25, 0,
                                         api_name="/restore")
    assert m["model"] == "GRIDS → dev-dense" and m["grids"]["group"] in ("G1", "G2", "G3", "G4")
    assert m["grids"]["ood"] is False and math.isfinite(m["psnr"])
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == Image.open(EXAMPLE).size
    write_groups(weights_dir[0], models=["missing-model"] * 4)  # a groups file naming absent models
    assert GRIDS_AUTO not in [v for _, v in _model_choices()[0]]


def test_ood_flag_follows_the_calibrated_threshold(weights_dir, client):
    write_groups(weights_dir[0], threshold=1e9)
    _, _, s = grids_select(client)
    d = s["distance"]
    write_groups(weights_dir[0], threshold=d / 2 if d > 0 else -1.0)
    _, _, flagged = grids_select(client)
    assert flagged["distance"] == d and flagged["ood"] is True
    write_groups(weights_dir[0], threshold=d * 2 + 1)
    assert grids_select(client)[2]["ood"] is False


def test_uncalibrated_groups_without_models(weights_dir, client):
    write_groups(weights_dir[0])  # groups.json without models or threshold
    out, model_input, s = grids_select(client)
    assert out is None and model_input is None
    assert s["threshold"] is None and s["calibrated"] is False and s["ood"] is False
    assert s["restored_with"] is None and "no group model is shipped yet" in s["note"]


def test_paper_groups_when_no_groups_file(weights_dir, client):
    (weights_dir[0] / "grids" / "groups.json").unlink(missing_ok=True)
    _, _, s = grids_select(client, degradation="salt_pepper")
    assert s["groups_source"] == "paper" and set(s["distances"]) == {"G1", "G2", "G3", "G4"}
    assert s["threshold"] is None and s["restored_with"] is None


def test_bad_input_is_one_clear_line(weights_dir, client, tmp_path):
    expect_error(client, "unknown GRIDS task(s) blur", "gaussian_blur", degradation="blur")
    expect_error(client, "seed must be a non-negative integer", seed=-3)
    p = tmp_path / "notes.png"
    p.write_text("not an image\n" * 20)
    expect_error(client, "notes.png", "not a recognised image file", path=p)


def test_select_without_artefacts_says_what_to_run(client, tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))
    expect_error(client, "similarity matrix has not been computed", "python -m restorelab grids similarity")


def test_select_needs_the_descriptor(weights_dir, client, tmp_path, monkeypatch):
    """A similarity cache without its descriptor: the CLI's message (no untrained fallback)."""
    grids = tmp_path / "grids"
    grids.mkdir()
    (grids / "similarity.json").write_bytes((weights_dir[0] / "grids" / "similarity.json").read_bytes())
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))
    expect_error(client, "descriptor weights not found", "restorelab grids descriptor")
    from restorelab.ui.grids_tab import artefact_status

    assert "`descriptor.safetensors`: missing" in artefact_status()


def test_ui_view_of_a_selection(weights_dir, server, app_env):
    from restorelab.ui.grids_tab import run_selection, selection_figure, verdict
    from restorelab.ui.models import ModelStore

    write_groups(weights_dir[0], models=["dev-dense", None, None, None], threshold=-1.0)
    res = run_selection(ModelStore(), str(EXAMPLE), "jpeg", 0)
    md = verdict(res)
    assert f"Chosen group: {res['selection']['group']}" in md and "Out of distribution" in md
    assert "JPEG" in md and "(seed 0)" in md
    fig = selection_figure(res)
    assert list(fig.data[0].x) == ["G1", "G2", "G3", "G4"] and fig.layout.shapes  # threshold line
    write_groups(weights_dir[0])
    md = verdict(run_selection(ModelStore(), str(EXAMPLE), "none", 0))
    assert "uncalibrated" in md and "No group model is shipped yet" in md


def test_verdict_compares_the_ood_score_not_the_distance():
    """With the shipped feature OOD model the threshold is on ``ood_score``: the verdict and the
    plot must not compare it with the group distance (another scale)."""
    from restorelab.ui.grids_tab import selection_figure, verdict

    sel = {"group": "G1", "tasks": ["gaussian_blur"], "distance": 3.37, "distances": {"G1": 3.37, "G2": 5.0},
           "ood": False, "threshold": 1.106, "ood_score": 0.42, "ood_method": "feature",
           "nearest_task": "gaussian_blur", "rule": "nearest"}
    res = {"selection": sel, "restored": None, "note": None, "simulated": None, "groups_source": "weights"}
    md = verdict(res)
    assert "In distribution" in md and "0.4200 ≤ calibrated threshold 1.1060" in md and "3.37" not in md.split("In")[1]
    assert not selection_figure(res).layout.shapes  # no threshold line on the distance bars
    md = verdict({**res, "selection": {**sel, "ood": True, "ood_score": 2.5}})
    assert "Out of distribution" in md and "2.5000 is above" in md


def test_verdict_names_the_nearest_task_under_the_feature_rule():
    """The shipped rule picks the group of the nearest task Gaussian: the verdict says so instead of
    calling the GGD distance the reason."""
    from restorelab.ui.grids_tab import verdict

    sel = {"group": "G2", "tasks": ["sr", "jpeg"], "distance": 3.37, "distances": {"G1": 2.0, "G2": 3.37},
           "ood": False, "threshold": 1.106, "ood_score": 0.42, "ood_method": "feature",
           "nearest_task": "jpeg", "rule": "feature"}
    res = {"selection": sel, "restored": None, "note": None, "simulated": None, "groups_source": "weights"}
    first = verdict(res).splitlines()[0]
    assert "closest to" in first and "mean of its members" not in first
    near = verdict({**res, "selection": {**sel, "rule": "nearest"}}).splitlines()[0]
    assert "closest member's GGD" in near and "closest to" not in near
