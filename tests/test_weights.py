import json

import numpy as np
import pytest
import torch

from restorelab import RestoreLabError
from restorelab.inference import load_model, restore, run_model, save_weights, shipped_names
from restorelab.inference import weights as W
from restorelab.inference.catalog import list_models
from restorelab.models import create_model


@pytest.fixture
def wdir(tmp_path):
    torch.manual_seed(0)
    save_weights(create_model("promptir-test"), tmp_path / "m.safetensors", {"steps": 3})
    (tmp_path / "m.json").write_text(json.dumps({"name": "m", "kind": "dense", "preset": "promptir-test",
                                                 "params": 1, "nonzero_params": 1, "tasks": ["derain"]}))
    save_weights(create_model("promptir-test"), tmp_path / "m.theta0.safetensors")  # no card: not listed
    return tmp_path


def test_round_trip_carries_config(wdir):
    m = W.load_weights(wdir / "m.safetensors")
    assert m.config.dim == 8 and W.read_metadata(wdir / "m.safetensors")["steps"] == "3"


def test_shipped_names_need_a_card(wdir):
    assert shipped_names(wdir) == ["m"]
    rows = {r["name"]: r for r in list_models(wdir)}
    assert rows["m"]["tasks"] == ["derain"] and rows["m"]["file_bytes"] > 0


def test_unknown_name_lists_available(wdir):
    with pytest.raises(RestoreLabError, match="available: m"):
        W.resolve("zzz", wdir)


def test_corrupt_file_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"\x00" * 50)
    with pytest.raises(RestoreLabError, match="bad.safetensors"):
        W.load_weights(p)


def test_hub_path_downloads_pinned_revision(wdir, tmp_path, monkeypatch):
    calls = []

    def fake_download(repo_id, filename, revision):
        calls.append((repo_id, filename, revision))
        return str(wdir / filename)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setenv("RESTORELAB_HUB_REPO", "org/restorelab-weights")
    monkeypatch.setenv("RESTORELAB_HUB_REVISION", "abc123")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert W.resolve("m", empty) == wdir / "m.safetensors"
    assert calls == [("org/restorelab-weights", "m.safetensors", "abc123")]


def test_hub_offline_falls_back_to_local(wdir, monkeypatch):
    import huggingface_hub

    def offline(**kw):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    monkeypatch.setenv("RESTORELAB_HUB_REPO", "org/x")
    monkeypatch.setenv("RESTORELAB_HUB_REVISION", "abc")
    assert W.resolve("m", wdir) == wdir / "m.safetensors"
    with pytest.raises(RestoreLabError, match="Hub"):
        W.resolve("missing", wdir)


def test_hub_requires_a_pinned_revision(wdir, monkeypatch):
    monkeypatch.setenv("RESTORELAB_HUB_REPO", "org/x")
    monkeypatch.delenv("RESTORELAB_HUB_REVISION", raising=False)
    with pytest.raises(RestoreLabError, match="REVISION"):
        W.hub_download("org/x", "m.safetensors", None)


def test_restore_tiled_matches_whole_image_closely(wdir):
    model = load_model(str(wdir / "m.safetensors"))
    img = np.random.default_rng(0).random((120, 150, 3)).astype(np.float32)
    whole = run_model(model, img)
    tiled = restore(model, img, tile=64, overlap=16, threshold=0)
    assert tiled.shape == img.shape
    # tiles see less context, so agreement is close but not exact
    assert np.abs(whole - tiled).mean() < 0.02


def test_cards_of_non_restorers_are_not_models(wdir):
    (wdir / "mask.safetensors").write_bytes((wdir / "m.safetensors").read_bytes())
    (wdir / "mask.json").write_text(json.dumps({"name": "mask", "kind": "oes-mask", "density": 0.05}))
    (wdir / "broken.safetensors").write_bytes(b"")
    (wdir / "broken.json").write_text("{not json")
    assert shipped_names(wdir) == ["m"]
    assert [r["name"] for r in list_models(wdir) if r["kind"] not in ("preset", "classical")] == ["m"]


def test_read_card_is_a_validated_model_card(wdir):
    card = W.read_card("m", wdir)
    assert (card.name, card.kind, card.preset, card.params, card.tasks) == ("m", "dense", "promptir-test", 1, ("derain",))
    assert card.sparsity == 0 and card.to_dict()["tasks"] == ["derain"]


@pytest.mark.parametrize("change, says", [
    ({"params": "many"}, "params must be a non-negative integer"),
    ({"nonzero_params": 5}, "need 0 <= nonzero_params <= params"),
    ({"preset": ""}, "preset must be a non-empty string"),
    ({"tasks": "derain"}, "tasks must be a list"),
    ({"params": True}, "params must be a non-negative integer"),
])
def test_a_broken_card_is_a_clear_error(wdir, change, says):
    d = json.loads((wdir / "m.json").read_text()) | change
    (wdir / "m.json").write_text(json.dumps(d))
    with pytest.raises(RestoreLabError, match=f"m.json: broken model card: {says}"):
        W.read_card("m", wdir)


def test_a_card_missing_its_counts_or_not_json_is_a_clear_error(tmp_path):
    from restorelab.cards import load_card

    (tmp_path / "a.json").write_text(json.dumps({"preset": "promptir-test", "params": 3}))
    with pytest.raises(RestoreLabError, match="broken model card: missing nonzero_params"):
        load_card(tmp_path / "a.json")
    (tmp_path / "b.json").write_text("[1, 2]")
    with pytest.raises(RestoreLabError, match="a JSON object is needed"):
        load_card(tmp_path / "b.json")
    (tmp_path / "c.json").write_text("{oops")
    with pytest.raises(RestoreLabError, match="unreadable model card"):
        load_card(tmp_path / "c.json")


def test_every_shipped_card_is_valid():
    from restorelab.cards import load_card

    for name in shipped_names():
        assert load_card(W.default_weights_dir() / f"{name}.json").name == name
