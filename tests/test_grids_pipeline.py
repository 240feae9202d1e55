"""GRIDS descriptor, similarity matrix, selection and CLI on tiny networks and images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from restorelab import grids
from restorelab.errors import RestoreLabError
from restorelab.grids import ggd as G
from restorelab.grids import similarity
from restorelab.grids.cli import main
from restorelab.grids.descriptor import DescriptorConfig, ggd_of_images, pca_scores, sample_patches
from restorelab.grids.select import Groups, choose, confusion, select
from restorelab.grids.srresnet import (DescriptorTrainConfig, SRResNet, SRResNetConfig, load_descriptor,
                                       save_descriptor, train_descriptor)

TINY = SRResNetConfig(nf=8, n_blocks=1)
CFG = DescriptorConfig(patch_size=8, n_patches=24, n_components=16, batch_size=24)


def _photo(h=40, w=52, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.5 + 0.25 * np.sin(x / (3 + seed))[..., None] * np.cos(y / 4.0)[..., None]
    img = img + 0.1 * rng.random((1, 1, 3), dtype=np.float32) + 0.03 * rng.standard_normal((h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return SRResNet(TINY).eval()


@pytest.mark.parametrize("cfg", [SRResNetConfig(nf=8, n_blocks=1), SRResNetConfig(nf=8, n_blocks=2, scale=2,
                                                                                     global_residual=False)])
def test_srresnet_shapes_and_gradients(cfg):
    torch.manual_seed(0)
    m = SRResNet(cfg)
    x = torch.rand(2, 3, 7, 9)
    y = m(x)
    assert y.shape == (2, 3, 7 * cfg.scale, 9 * cfg.scale) and torch.isfinite(y).all()
    y.mean().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert m.features(x, "hr").shape == (2, cfg.nf, 7 * cfg.scale, 9 * cfg.scale)
    assert m.features(x, "rb").shape == (2, cfg.nf, 7, 9)
    with pytest.raises(RestoreLabError):
        m.features(x, "conv9")


def test_descriptor_save_load_roundtrip(tmp_path, tiny_model):
    p = tmp_path / "d.safetensors"
    save_descriptor(tiny_model, p)
    m = load_descriptor(p)
    x = torch.rand(1, 3, 6, 6)
    assert m.config == TINY and torch.equal(m(x), tiny_model(x))
    with pytest.raises(RestoreLabError):
        load_descriptor(tmp_path / "missing.safetensors")


def test_train_descriptor_few_steps_and_resume(tmp_path):
    from PIL import Image

    data = tmp_path / "clean"
    data.mkdir()
    for i in range(4):
        Image.fromarray((_photo(40, 40, i) * 255).astype(np.uint8)).save(data / f"{i}.png")
    cfg = DescriptorTrainConfig(data_dir=str(data), val_count=1, nf=8, n_blocks=1, hr_patch=16, batch_size=2,
                                steps=4, ckpt_every=2, val_every=4, threads=1)
    out = tmp_path / "desc.safetensors"
    r1 = train_descriptor(cfg, tmp_path / "run", out, stop_after=2, log=lambda s: None)
    assert r1["step"] == 2 and not out.exists()
    r2 = train_descriptor(cfg, tmp_path / "run", out, log=lambda s: None)
    assert r2["step"] == 4 and out.exists() and "psnr" in r2["val"]
    assert json.loads(out.with_suffix(".json").read_text())["kind"] == "grids-descriptor"
    load_descriptor(out)


def test_pca_scores_exact():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 50)) @ np.diag(np.linspace(3, 0.1, 50))
    s = pca_scores(x, 10)
    xc = x - x.mean(0)
    ref = np.linalg.svd(xc, full_matrices=False)[1][:10]
    assert np.allclose(np.abs(s), np.abs(xc @ np.linalg.svd(xc, full_matrices=False)[2][:10].T), atol=1e-4)
    assert np.allclose(np.sqrt((s ** 2).sum(0)), ref, rtol=1e-4)


def test_patches_and_ggd_deterministic(tiny_model):
    img = _photo()
    p = sample_patches([img], 10, 8, np.random.default_rng(0))
    assert p.shape == (10, 3, 8, 8) and p.dtype == np.float32
    small = sample_patches([img[:5, :6]], 3, 8, np.random.default_rng(0))  # mirror-padded
    assert small.shape == (3, 3, 8, 8)
    a = ggd_of_images(tiny_model, [img], CFG, seed=1)
    assert a == ggd_of_images(tiny_model, [img], CFG, seed=1)
    assert a.sigma > 0 and 0.2 <= a.shape <= 10
    with pytest.raises(RestoreLabError):
        DescriptorConfig(n_patches=10, n_components=10)
    with pytest.raises(RestoreLabError):
        DescriptorConfig(layer="fc")


def test_selection_synthetic_ggds():
    task_ggds = {t: G.GGD(1.0, 0.5) for t in ("gaussian_blur", "motion_blur")}
    task_ggds.update({t: G.GGD(3.0, 1.5) for t in ("gaussian_noise", "salt_pepper")})
    groups = Groups.from_task_ggds([("gaussian_blur", "motion_blur"), ("gaussian_noise", "salt_pepper")], task_ggds)
    s = choose(G.GGD(2.9, 1.4), groups, threshold=3.0)
    assert s.group == "G2" and s.tasks == ["gaussian_noise", "salt_pepper"] and not s.ood
    assert s.distances["G2"] < s.distances["G1"]
    far = choose(G.GGD(40.0, 5.0), groups, threshold=3.0)
    assert far.ood
    with pytest.raises(RestoreLabError):
        Groups.from_task_ggds([("sr",)], task_ggds)


def test_selection_end_to_end_blur_vs_noise(tiny_model):
    photos = [_photo(seed=i) for i in range(3)]
    tasks = ("gaussian_blur", "gaussian_noise")
    ggds = similarity.task_ggds(tiny_model, photos, tasks, CFG)
    groups = Groups.from_task_ggds([("gaussian_blur",), ("gaussian_noise",)], ggds)
    for i, t in enumerate(tasks):
        test_img = grids.degrade(t, _photo(seed=7), seed=99)
        assert select(test_img, tiny_model, groups, CFG).tasks == [t]
    res = confusion(tiny_model, [_photo(seed=8), _photo(seed=9)], groups, CFG, tasks=tasks)
    assert res["mean_accuracy"] == 1.0 and res["counts"]["gaussian_noise"]["G2"] == 2
    assert "task_accuracy" not in res
    # the descriptor diagnostic: nearest task reference; a wrong reference set makes it fail
    res = confusion(tiny_model, [_photo(seed=8)], groups, CFG, tasks=tasks, task_ggds=ggds)
    assert res["task_accuracy"] == {t: 1.0 for t in tasks} and res["mean_task_accuracy"] == 1.0
    assert res["mean_member_accuracy"] == 1.0
    swapped = {"gaussian_blur": ggds["gaussian_noise"], "gaussian_noise": ggds["gaussian_blur"]}
    res = confusion(tiny_model, [_photo(seed=8)], groups, CFG, tasks=tasks, task_ggds=swapped)
    assert res["mean_task_accuracy"] == 0.0 and res["mean_accuracy"] == 1.0
    assert res["member_accuracy"] == {t: 0.0 for t in tasks}  # nearest reference is the other group's
    # one group holding both: every nearest reference is a member, whatever the references
    both = Groups.from_task_ggds([tasks], ggds)
    res = confusion(tiny_model, [_photo(seed=8)], both, CFG, tasks=tasks, task_ggds=swapped)
    assert res["mean_task_accuracy"] == 0.0 and res["mean_member_accuracy"] == 1.0


@pytest.fixture
def setup_files(tmp_path, tiny_model, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path / "weights"))
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray((_photo(seed=i) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    desc = tmp_path / "desc.safetensors"
    save_descriptor(tiny_model, desc)
    flags = ["--descriptor", str(desc), "--patch-size", "8", "--n-patches", "24", "--n-components", "16"]
    return tmp_path, photos, desc, flags


def test_cli_similarity_search_select(setup_files, capsys):
    tmp, photos, desc, flags = setup_files
    cache = tmp / "sim.json"
    assert main(["grids", "similarity", "--photos", str(photos), "--cache", str(cache), "--json", *flags]) == 0
    out = json.loads(capsys.readouterr().out)
    m = np.array(out["matrix"])
    assert m.shape == (11, 11) and np.allclose(np.diag(m), 0) and (m[~np.eye(11, dtype=bool)] >= -5).all()
    mtime = cache.stat().st_mtime_ns
    assert main(["grids", "similarity", "--photos", str(photos), "--cache", str(cache), *flags]) == 0
    assert cache.stat().st_mtime_ns == mtime, "a matching cache is reused"
    assert "Gaussian blur" in capsys.readouterr().out
    assert main(["grids", "search", "--similarity", str(cache), "--deltap-cache", str(tmp / "dp.json"),
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["m"] == 11 and res["unverified"]  # nothing measured: only singletons verify
    img = tmp / "x.png"
    from PIL import Image

    Image.fromarray((grids.degrade("gaussian_noise", _photo(seed=5), seed=0) * 255).astype(np.uint8)).save(img)
    assert main(["grids", "select", str(img), "--similarity", str(cache), "--json", "--descriptor", str(desc)]) == 0
    sel = json.loads(capsys.readouterr().out)
    assert set(sel["distances"]) == {"G1", "G2", "G3", "G4"} and sel["group"] in sel["distances"]
    assert sel["ood"] is False and sel["threshold"] is None  # no calibration yet
    other = tmp / "other.safetensors"
    torch.manual_seed(1)
    save_descriptor(SRResNet(TINY), other)
    assert main(["grids", "select", str(img), "--similarity", str(cache), "--descriptor", str(other)]) == 2
    assert "not the descriptor" in capsys.readouterr().err
    # restore needs group models
    assert main(["grids", "restore", str(img), str(tmp / "o.png"), "--similarity", str(cache),
                 "--descriptor", str(desc)]) == 2
    assert "no model" in capsys.readouterr().err


def test_cli_errors(setup_files, capsys):
    tmp, photos, desc, flags = setup_files
    cases = [
        ["grids", "select", str(tmp / "nope.png"), "--similarity", str(tmp / "nope.json")],
        ["grids", "similarity", "--photos", str(tmp / "empty"), "--cache", str(tmp / "s.json"), *flags],
        ["grids", "similarity", "--photos", str(photos), "--descriptor", str(tmp / "no.safetensors")],
        ["grids", "search", "--similarity", str(tmp / "missing.json")],
        ["grids", "similarity", "--photos", str(photos), "--layer", "fc", *flags],
    ]
    (tmp / "bad.json").write_text("{not json")
    cases.append(["grids", "search", "--similarity", str(tmp / "bad.json")])
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["grids", "bogus"])


def test_similarity_per_image_references(setup_files):
    tmp, photos, desc, _ = setup_files
    sim = similarity.compute(desc, str(photos), tmp / "s.json", CFG, tasks=("sr", "jpeg"), per_image=True)
    assert set(sim.image_ggds) == {"sr", "jpeg"} and sim.reference_ggds is sim.image_ggds
    again = similarity.load(tmp / "s.json")
    assert again.image_ggds == sim.image_ggds and again.matrix == sim.matrix
    assert similarity.compute(desc, str(photos), tmp / "s.json", CFG, tasks=("sr", "jpeg")).image_ggds == {}


def test_nearest_member_rule_vs_the_papers_mean_rule():
    """A group of two unlike members: their mean GGD lies near neither, so an image exactly like one
    member is sent elsewhere by the mean rule but not by the closest-member rule."""
    refs = {"gaussian_blur": G.GGD(1.0, 0.5), "gaussian_noise": G.GGD(9.0, 2.0), "jpeg": G.GGD(4.0, 1.1)}
    split = [("gaussian_blur", "gaussian_noise"), ("jpeg",)]
    mean = Groups.from_task_ggds(split, refs)
    near = Groups.from_task_ggds(split, refs, rule="nearest")
    img = refs["gaussian_blur"]
    assert choose(img, mean).group == "G2" and choose(img, near).group == "G1"
    d = choose(img, near).distances
    assert d["G1"] == pytest.approx(min(G.distance(refs[t], img) for t in split[0]))
    assert d["G2"] == pytest.approx(choose(img, mean).distances["G2"])  # one member: the rules agree
    with pytest.raises(RestoreLabError, match="unknown group distance rule"):
        Groups.from_task_ggds(split, refs, rule="median")
