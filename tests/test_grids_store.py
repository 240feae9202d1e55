"""``restorelab.grids.store``: loading what selection needs from ``weights/grids/`` (shared by the
CLI and the app's GRIDS tab), on a tiny untrained descriptor and two small images."""

from __future__ import annotations

import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.grids import store
from restorelab.grids.srresnet import SRResNet, SRResNetConfig, save_descriptor

from gridshelpers import CFG, photo as _photo, tiny_grids  # noqa: E402


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return tiny_grids(tmp_path_factory.mktemp("grids-store"), 2) / "weights"


def test_load_selector_defaults_to_the_paper_groups(weights, monkeypatch):
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(weights))
    sel = store.load_selector()
    assert sel.groups_file.source == "paper" and sel.groups.names == ["G1", "G2", "G3", "G4"]
    assert sel.config == CFG  # the pipeline the cache was computed with, not the default one
    s = sel.select(_photo(5), seed=0)
    assert s.group in s.distances and s.threshold is None and s.ood is False and s.model is None
    assert sel.select(_photo(5), seed=0).distances == s.distances  # seeded


def test_load_selector_reads_threshold_and_models(weights, monkeypatch, tmp_path):
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(weights))
    groups = tmp_path / "groups.json"
    store.GroupsFile([["sr", "jpeg"], ["gaussian_noise"]], names=["A", "B"], models=["m-a", None],
                     threshold=-1.0).save(groups)
    s = store.load_selector(groups=groups).select(_photo(3))
    assert set(s.distances) == {"A", "B"} and s.ood is True and s.threshold == -1.0
    assert s.model == ("m-a" if s.group == "A" else None)
    # the distance rule comes from the file; overriding it drops the threshold calibrated with the other
    assert s.rule == "mean"
    sim = store.load_similarity()
    gf, grp = store.selection_groups(sim, groups, rule="nearest")
    assert grp.rule == gf.rule == "nearest" and gf.threshold is None
    assert store.selection_groups(sim, groups, rule="mean")[0].threshold == -1.0
    with pytest.raises(RestoreLabError, match="unknown group distance rule"):
        store.GroupsFile([["sr"]], rule="closest")


def test_missing_or_foreign_artefacts_raise_one_line(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(RestoreLabError, match="no similarity cache"):
        store.load_selector()
    (tmp_path / "grids").mkdir()
    (tmp_path / "grids" / "similarity.json").write_bytes((weights / "grids" / "similarity.json").read_bytes())
    with pytest.raises(RestoreLabError, match="descriptor weights not found"):  # no untrained fallback
        store.load_selector()
    torch.manual_seed(1)
    save_descriptor(SRResNet(SRResNetConfig(nf=4, n_blocks=1)), tmp_path / "grids" / "descriptor.safetensors")
    with pytest.raises(RestoreLabError, match="not the descriptor the similarity cache was computed with"):
        store.load_selector()
