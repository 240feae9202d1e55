"""The GRIDS out-of-distribution model (``restorelab.grids.ood``): statistics, fit, calibration,
file, and the CLI / selector wiring, on synthetic vectors and a tiny untrained descriptor."""

from __future__ import annotations

import json

import numpy as np
import pytest

from restorelab.errors import RestoreLabError
from restorelab.grids import ood, store
from restorelab.grids.descriptor import ggd_of_images
from restorelab.grids.srresnet import SRResNet, SRResNetConfig, save_descriptor
from restorelab.grids.tasks import TASKS

from gridshelpers import CFG, photo, tiny_grids  # noqa: E402


def _photo(seed: int, h: int = 40, w: int = 48) -> np.ndarray:
    return photo(seed, h, w, vary_rows=True)


def _clusters(n_per=40, dim=12, tasks=("sr", "jpeg", "salt_pepper"), seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (len(tasks), dim))
    x = np.concatenate([c + rng.normal(0, 1, (n_per, dim)) for c in centres])
    labels = [t for t in tasks for _ in range(n_per)]
    photo = [i for _ in tasks for i in range(n_per)]
    return x, labels, photo, centres


def test_image_stats_see_haze_and_vertical_streaks():
    from restorelab import degradations as D

    clean = _photo(3, 96, 96)
    base = ood.image_stats(clean)
    hazy = ood.image_stats(D.apply("haze", clean, seed=0, beta=0.2, depth=3.0))
    assert hazy[0] > base[0] + 0.2  # the dark channel's floor rises with the airlight
    streaked = clean.copy()
    streaked[:, 10::12] = np.clip(streaked[:, 10::12] + 0.4, 0, 1)  # bright 1-px vertical lines
    s = ood.image_stats(streaked)
    assert s[1] > base[1] + 0.5
    rotated = np.ascontiguousarray(np.rot90(streaked))  # the same lines, horizontal: not rain-like
    assert ood.image_stats(rotated)[1] < s[1] - 0.5


def test_streak_stats_find_slanted_bright_lines_not_dark_ones():
    import cv2

    clean = _photo(5, 128, 128)
    base = ood.streak_stats(clean)
    lines = np.zeros((128, 128), np.float32)
    for x0 in range(-60, 128, 14):  # straight lines 20 degrees from vertical
        cv2.line(lines, (x0, 0), (x0 + 47, 127), 1.0, 1)
    bright = ood.streak_stats(np.clip(clean + 0.35 * lines[..., None], 0, 1))
    dark = ood.streak_stats(np.clip(clean - 0.35 * lines[..., None], 0, 1))
    assert bright.shape == (8,) and bright[0] > base[0] + 0.5 and bright[4] > base[4] + 0.5
    assert dark[0] < base[0]
    assert np.all(ood.streak_stats(np.zeros((30, 30, 3), np.float32)) == 0)  # no room for a line: no asymmetry


def test_one_sided_view_scores_only_a_rise():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (200, 2))
    m = ood.fit(x, ["sr"] * 200, views=[("v", 0, 2, True)])
    up, down = m.view_scores(np.array([[4.0, 0.0], [-4.0, -4.0]]))["v"]
    assert up > 3.5 and down < 0


def test_feature_stats_layout():
    f = np.random.default_rng(0).normal(size=(6, 3, 5, 5)).astype(np.float32)
    v = ood.feature_stats(f)
    assert v.shape == (ood.N_STATS * 3,)
    assert np.allclose(v[:3], f.mean(axis=(0, 2, 3)), atol=1e-6)
    assert np.allclose(v[3:6], np.log(f.std(axis=(0, 2, 3)) + 1e-6), atol=1e-5)
    with pytest.raises(RestoreLabError):
        ood.feature_stats(f[0])


ONE = [("all", 0, 12)]  # one view over the 12 synthetic values


def test_fit_scores_in_distribution_low_and_a_foreign_point_high():
    x, labels, photo, centres = _clusters()
    m = ood.fit(x, labels, views=ONE)
    s, near = m.scores(centres)  # every task's own centre: near zero, and nearest to itself
    assert near == ["sr", "jpeg", "salt_pepper"] and (s < 0.3).all()
    inside, _ = m.scores(x)
    assert 0.5 < np.median(inside) < 1.5  # RMS whitened distance: about 1 in distribution
    foreign = centres.mean(0) + 25.0  # far from every task
    assert m.score(foreign)[0] > 3 * inside.max()


def test_calibrate_threshold_is_the_out_of_fold_quantile():
    x, labels, photo, _ = _clusters(n_per=60)
    m, oof = ood.calibrate(x, labels, photo, quantile=0.9, folds=3, views=ONE)
    assert m.threshold == pytest.approx(np.quantile(oof, 0.9))
    assert m.views[0].unit > 0 and m.threshold < 1.0  # one view: in units of its own 0.99 quantile
    same, oof99 = ood.calibrate(x, labels, photo, quantile=ood.UNIT_QUANTILE, folds=3, views=ONE)
    assert same.threshold == pytest.approx(1.0) and np.allclose(oof99, oof)  # the quantile moves only the threshold
    assert (oof > m.threshold).mean() <= 0.1 + 1e-9
    # out-of-fold scores come from models that never saw the photo, so they run higher than in-sample ones
    assert np.median(oof) > np.median(m.scores(x)[0])
    assert m.meta["quantile"] == 0.9 and m.meta["folds"] == 3 and m.meta["n"] == len(x)
    for bad in ({"quantile": 0.0}, {"folds": 1}):
        with pytest.raises(RestoreLabError):
            ood.calibrate(x, labels, photo, **bad)
    with pytest.raises(RestoreLabError):
        ood.fit(x, labels[:-1])


def test_file_round_trip(tmp_path):
    x, labels, photo, centres = _clusters()
    m, _ = ood.calibrate(x, labels, photo, quantile=0.95)  # default views: descriptor 3, haze 1, streaks 8
    assert [(v.name, v.one_sided) for v in m.views] == [("descriptor", False), ("haze", True), ("streaks", True)]
    m.meta["command"] = "python -m restorelab grids calibrate ..."
    m.save(tmp_path / "ood.safetensors")
    back = ood.OODModel.load(tmp_path / "ood.safetensors")
    assert back.tasks == m.tasks and back.threshold == m.threshold and back.meta == m.meta
    assert [(v.name, v.start, v.stop, v.unit, v.one_sided) for v in back.views] == [
        (v.name, v.start, v.stop, v.unit, v.one_sided) for v in m.views]
    assert np.allclose(back.scores(x)[0], m.scores(x)[0], rtol=1e-4)
    with pytest.raises(RestoreLabError, match="expects 12 statistics"):
        back.score(np.zeros(5))
    save_descriptor(SRResNet(SRResNetConfig(nf=4, n_blocks=1)), tmp_path / "d.safetensors")
    with pytest.raises(RestoreLabError, match="not a GRIDS OOD model"):
        ood.OODModel.load(tmp_path / "d.safetensors")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_grids(tmp_path_factory.mktemp("grids-ood"), 4, limit=2, vary_rows=True)


def test_describe_gives_the_selection_ggd(tiny):
    model = store.load_descriptor_for(store.load_similarity(tiny / "weights" / "grids" / "similarity.json"),
                                      tiny / "weights" / "grids" / "descriptor.safetensors")
    g, v = ood.describe(model, _photo(7), CFG, seed=[3, 4])
    assert g == ggd_of_images(model, [_photo(7)], CFG, seed=[3, 4])
    n_img = sum(n for _, n, _ in ood.IMAGE_VIEWS)
    assert v.shape == (ood.N_STATS * 4 * len(ood.STAT_LAYERS) + n_img,) and np.isfinite(v).all()
    assert np.allclose(v[-n_img:], ood.image_stats(_photo(7)))


def test_cli_calibrate_writes_the_model_and_selection_flags_a_foreign_image(tiny, monkeypatch, capsys):
    from restorelab.grids.cli import main

    weights = tiny / "weights"
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(weights))
    store.GroupsFile([list(TASKS[:6]), list(TASKS[6:])], rule="nearest").save(weights / "grids" / "groups.json")
    assert main(["grids", "calibrate", "--photos", str(tiny / "photos"), "--quantile", "0.9", "--folds", "2",
                 "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)
    assert cal["score"] == "feature" and cal["n"] == 4 * 11 and len(cal["scores"]) == 44
    assert cal["threshold"] == pytest.approx(np.quantile(cal["scores"], 0.9), abs=1e-3)
    gf = store.load_groups()
    assert gf.feature_ood and gf.threshold == pytest.approx(cal["threshold"])
    assert gf.calibration["file"] == "ood.safetensors" and "grids calibrate" in gf.calibration["command"]
    m = ood.OODModel.load(weights / "grids" / "ood.safetensors")
    assert m.threshold == pytest.approx(cal["threshold"]) and "--quantile 0.9" in m.meta["command"]

    sel = store.load_selector()
    assert sel.ood is not None
    s = sel.select(_photo(9))
    assert s.ood_method == "feature" and s.threshold == pytest.approx(m.threshold)
    assert s.ood == (s.ood_score > s.threshold) and s.nearest_task in TASKS
    y, x = np.mgrid[0:40, 0:48]
    checker = np.repeat(((x + y) % 2).astype(np.float32)[..., None], 3, 2)  # 1-px black/white: no task makes it
    far = sel.select(checker)
    assert far.ood and far.ood_score > m.threshold

    # the feature score does not depend on the group rule: switching rules keeps it
    gf2, _ = store.selection_groups(store.load_similarity(), rule="mean")
    assert gf2.feature_ood and gf2.threshold == gf.threshold
    gff, grpf = store.selection_groups(store.load_similarity(), rule="feature")  # selection by the same model
    sf = store.Selector(gff, grpf, sel.similarity, sel.descriptor, sel.config, sel.ood).select(_photo(9))
    assert sf.rule == "feature" and sf.group == grpf.of_task(sf.nearest_task)

    # confusion reports the false alarms and the OOD rate with the feature score
    assert main(["grids", "confusion", "--photos", str(tiny / "photos"), "--limit", "1", "--ood", "haze",
                 "--json"]) == 0
    conf = json.loads(capsys.readouterr().out)
    assert conf["ood_method"] == "feature" and 0 <= conf["false_alarm_rate"] <= 1
    assert conf["ood_rates"]["haze"]["threshold"] == pytest.approx(m.threshold)
    assert "mean_feature_accuracy" in conf and "grids confusion" in conf["command"]

    # a groups file whose threshold does not match the model, or a missing model, is refused
    gf.threshold += 1.0
    gf.save(weights / "grids" / "groups.json")
    with pytest.raises(RestoreLabError, match="does not match"):
        store.load_selector()
    (weights / "grids" / "ood.safetensors").unlink()
    with pytest.raises(RestoreLabError, match="grids calibrate"):
        store.load_selector()
    # the paper's distance score needs no OOD model
    assert main(["grids", "calibrate", "--photos", str(tiny / "photos"), "--limit", "1", "--score", "distance",
                 "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)
    gf = store.load_groups()
    assert not gf.feature_ood and gf.calibration["score"] == "distance" and cal["n"] == 11
    s = store.load_selector().select(_photo(9))
    assert s.ood_method == "distance" and s.ood_score == s.distance and s.ood == (s.distance > s.threshold)
