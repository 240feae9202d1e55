"""Tests for restorelab.data (tiny images made in tmp_path; shared data only if present)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from restorelab.data import (
    ALL_IN_ONE_TASKS,
    REAL_TASKS,
    DegradedFolder,
    NoisyFolder,
    PairedFolder,
    SyntheticPairs,
    eval_sets,
    find_pairs,
    official_layout,
    parse_task,
)
from restorelab.errors import RestoreLabError

DATA_ROOT = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "datasets")
)


def _write(path, h=20, w=24, seed=0, mode="RGB"):
    from PIL import Image

    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    if mode != "RGB":
        im = im.convert(mode)
    im.save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    for i in range(4):
        _write(d / f"img{i}.png", h=40 + i, w=50 - i, seed=i)
    _write(d / "grey.png", h=45, w=45, seed=9, mode="L")
    _write(d / "alpha.png", h=30, w=33, seed=8, mode="RGBA")
    (d / "notes.txt").write_text("not an image")
    return str(d)


# ---------------------------------------------------------------- tasks

def test_tasks():
    assert ALL_IN_ONE_TASKS == ("denoise_15", "denoise_25", "denoise_50", "derain", "dehaze")
    assert parse_task("denoise_25") == ("gaussian_noise", {"sigma": 25})
    assert parse_task("derain") == ("rain", {})
    assert parse_task("dehaze") == ("haze", {})
    assert parse_task("denoise") == ("gaussian_noise", {"sigma": None})  # blind: sigma drawn per sample
    for bad in ("denoise_0", "denoise_x", "desnow", "", "denoise_300"):
        with pytest.raises(RestoreLabError):
            parse_task(bad)


# ---------------------------------------------------------------- SyntheticPairs

def test_synthetic_pairs_shapes_and_balance(clean_dir):
    import torch

    ds = SyntheticPairs(clean_dir, patch_size=16, seed=0, length=50)
    assert len(ds) == 50 and len(ds.images) == 6
    assert all(im.dtype == np.uint8 and im.shape[2] == 3 for im in ds.images)
    seen = []
    for i in range(10):
        x, y, t = ds[i]
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
        assert x.shape == (3, 16, 16) and y.shape == (3, 16, 16)
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        assert isinstance(t, int)
        seen.append(t)
    assert seen[:5] == [0, 1, 2, 3, 4] and seen[5:] == [0, 1, 2, 3, 4]
    assert ds.task_of(7) == 2
    with pytest.raises(IndexError):
        ds[50]


def test_synthetic_pairs_purity(clean_dir):
    a = SyntheticPairs(clean_dir, patch_size=16, seed=3)
    b = SyntheticPairs(clean_dir, patch_size=16, seed=3)
    for idx in (0, 4, 123456, 999):
        xa, ya, ta = a.sample(idx)
        xa2, ya2, ta2 = a.sample(idx)
        xb, yb, tb = b.sample(idx)
        assert np.array_equal(xa, xa2) and np.array_equal(ya, ya2) and ta == ta2
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb) and ta == tb
    # order of access does not matter
    seq = [a.sample(i)[0] for i in range(5)]
    rev = [a.sample(i)[0] for i in reversed(range(5))][::-1]
    assert all(np.array_equal(p, q) for p, q in zip(seq, rev))
    # the degraded input actually differs from the clean target
    x, y, _ = a.sample(0)
    assert not np.array_equal(x, y)


def test_synthetic_pairs_seed_matters(clean_dir):
    a = SyntheticPairs(clean_dir, patch_size=16, seed=0)
    b = SyntheticPairs(clean_dir, patch_size=16, seed=1)
    assert not np.array_equal(a.sample(0)[1], b.sample(0)[1])
    assert not np.array_equal(a.sample(1)[0], a.sample(6)[0])  # same task, other index


def test_synthetic_pairs_options(clean_dir):
    ds = SyntheticPairs(clean_dir, tasks=("derain",), patch_size=64, files=["img0.png", "grey.png"],
                        augment=False)
    assert len(ds.images) == 2
    assert all(im.shape[0] >= 64 and im.shape[1] >= 64 for im in ds.images)  # padded
    x, y, t = ds.sample(0)
    assert x.shape == (64, 64, 3) and t == 0
    g = ds.images[1]
    assert np.array_equal(g[..., 0], g[..., 1])  # grey photo read as RGB
    with pytest.raises(RestoreLabError):
        SyntheticPairs(clean_dir, tasks=("desnow",))
    with pytest.raises(RestoreLabError):
        SyntheticPairs(clean_dir, files=["missing.png"])
    with pytest.raises(RestoreLabError):
        SyntheticPairs(clean_dir, patch_size=0)
    with pytest.raises(RestoreLabError):
        SyntheticPairs(os.path.join(clean_dir, "nope"))


def test_synthetic_pairs_photo_augment(clean_dir, tmp_path):
    plain = SyntheticPairs(clean_dir, tasks=("clean",), patch_size=16)
    aug = SyntheticPairs(clean_dir, tasks=("clean",), patch_size=16, photo_augment=True)
    again = SyntheticPairs(clean_dir, tasks=("clean",), patch_size=16, photo_augment=True)
    samples = [aug.sample(i)[1] for i in range(64)]
    assert all(np.array_equal(s, again.sample(i)[1]) for i, s in enumerate(samples))  # seeded
    assert all(s.shape == (16, 16, 3) and s.dtype == np.float32 and 0 <= s.min() and s.max() <= 1 for s in samples)
    # off by default: the samples of earlier runs are unchanged by the option's existence
    assert np.array_equal(plain.sample(3)[1], SyntheticPairs(clean_dir, tasks=("clean",), patch_size=16).sample(3)[1])
    assert sum(not np.array_equal(s, plain.sample(i)[1]) for i, s in enumerate(samples)) > 32

    def chroma(xs):
        return float(np.mean([np.abs(x - x.mean(-1, keepdims=True)).mean() for x in xs]))

    grey = SyntheticPairs(clean_dir, tasks=("clean",), patch_size=16, files=["grey.png"], photo_augment=True)
    assert chroma([grey.sample(i)[1] for i in range(16)]) < 1e-6  # saturation acts about the luma: grey stays grey
    from PIL import Image

    yy, xx = np.mgrid[0:48, 0:48] / 47.0  # a muted colour ramp: saturation can grow without clipping
    Image.fromarray((255 * np.stack([0.4 + 0.2 * xx, 0.5 + 0.0 * yy, 0.6 - 0.2 * yy], -1)).astype(np.uint8)).save(
        tmp_path / "ramp.png")
    ramp = [SyntheticPairs(str(tmp_path), tasks=("clean",), patch_size=16, photo_augment=on) for on in (False, True)]
    assert chroma([ramp[1].sample(i)[1] for i in range(64)]) > 1.1 * chroma([ramp[0].sample(i)[1] for i in range(64)])


def test_synthetic_pairs_denoise_task_has_noise(clean_dir):
    ds = SyntheticPairs(clean_dir, tasks=("denoise_50",), patch_size=32, augment=False)
    x, y, _ = ds.sample(0)
    assert 0.1 < float((x - y).std()) < 0.3


def test_synthetic_pairs_dataloader(clean_dir):
    import torch

    ds = SyntheticPairs(clean_dir, patch_size=16, length=10)
    dl = torch.utils.data.DataLoader(ds, batch_size=5, shuffle=False)
    x, y, t = next(iter(dl))
    assert x.shape == (5, 3, 16, 16) and t.tolist() == [0, 1, 2, 3, 4]


def test_synthetic_pairs_speed(clean_dir):
    ds = SyntheticPairs(clean_dir, patch_size=64)
    ds.sample(0)
    n = 50
    t = time.perf_counter()
    for i in range(n):
        ds.sample(i)
    per = (time.perf_counter() - t) / n
    assert per < 0.02, f"{per * 1e3:.2f} ms per sample"  # target < 2 ms; generous on a busy CPU


# ---------------------------------------------------------------- find_pairs / PairedFolder

def _names(pairs):
    return [(os.path.basename(a), os.path.basename(b)) for a, b in pairs]


def test_find_pairs_plain(tmp_path):
    _write(tmp_path / "input" / "001.png")
    _write(tmp_path / "input" / "002.jpg")
    _write(tmp_path / "target" / "001.png")
    _write(tmp_path / "target" / "002.png")
    assert _names(find_pairs(str(tmp_path))) == [("001.png", "001.png"), ("002.jpg", "002.png")]
    pf = PairedFolder(str(tmp_path))
    assert len(pf) == 2
    name, x, y = pf[0]
    assert name == "001" and x.shape == (20, 24, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_find_pairs_mirl(tmp_path):
    derain = tmp_path / "train" / "derain" / "Rain100L"
    _write(derain / "input" / "rain-101_rainy.png")
    _write(derain / "target" / "rain-101_gt.png")
    dehaze = tmp_path / "test" / "dehaze" / "SOTS"
    _write(dehaze / "input" / "0001_0.8_0.2_hazy.jpg")
    _write(dehaze / "target" / "0001_0.8_0.2_gt.png")
    ots = tmp_path / "train" / "dehaze" / "OTS"
    _write(ots / "input" / "0025_0.8_0.04_hazy.jpg")
    _write(ots / "target" / "0025_0.8_0.04_gt.jpg")
    assert _names(find_pairs(str(derain))) == [("rain-101_rainy.png", "rain-101_gt.png")]
    assert _names(find_pairs(str(dehaze))) == [("0001_0.8_0.2_hazy.jpg", "0001_0.8_0.2_gt.png")]
    assert _names(find_pairs(str(ots))) == [("0025_0.8_0.04_hazy.jpg", "0025_0.8_0.04_gt.jpg")]
    assert official_layout(str(tmp_path), "derain", split="train") == [str(derain)]
    assert official_layout(str(tmp_path), "dehaze") == [str(dehaze)]
    with pytest.raises(RestoreLabError):
        official_layout(str(tmp_path), "derain", split="test")
    assert len(PairedFolder(official_layout(str(tmp_path), "dehaze")[0])) == 1


def test_find_pairs_promptir(tmp_path):
    derain = tmp_path / "data" / "Train" / "Derain"
    _write(derain / "rainy" / "rain-100.png")
    _write(derain / "rainy" / "rain-2.png")
    _write(derain / "gt" / "norain-100.png")
    _write(derain / "gt" / "norain-2.png")
    assert _names(find_pairs(str(derain))) == [("rain-100.png", "norain-100.png"),
                                              ("rain-2.png", "norain-2.png")]
    dehaze = tmp_path / "data" / "Train" / "Dehaze"
    _write(dehaze / "synthetic" / "part1" / "0025_0.8_0.04.jpg")
    _write(dehaze / "synthetic" / "part2" / "0025_0.9_0.2.jpg")
    _write(dehaze / "original" / "0025.jpg")
    pairs = _names(find_pairs(str(dehaze)))
    assert pairs == [("0025_0.8_0.04.jpg", "0025.jpg"), ("0025_0.9_0.2.jpg", "0025.jpg")]
    test = tmp_path / "test" / "dehaze"
    _write(test / "input" / "0001_0.8_0.2.jpg")
    _write(test / "input" / "0002_1_0.08.jpg")
    _write(test / "target" / "0001.png")
    _write(test / "target" / "0002.png")
    assert _names(find_pairs(str(test))) == [("0001_0.8_0.2.jpg", "0001.png"),
                                            ("0002_1_0.08.jpg", "0002.png")]
    assert official_layout(str(tmp_path), "derain", split="train") == [str(derain)]
    assert official_layout(str(tmp_path), "dehaze", split="test") == [str(test)]


def test_find_pairs_errors(tmp_path):
    with pytest.raises(RestoreLabError, match="not found"):
        find_pairs(str(tmp_path / "absent"))
    empty = tmp_path / "empty"
    (empty / "input").mkdir(parents=True)
    (empty / "target").mkdir(parents=True)
    with pytest.raises(RestoreLabError, match="no images"):
        PairedFolder(str(empty))
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    with pytest.raises(RestoreLabError, match="no paired layout"):
        find_pairs(str(nothing))
    oneside = tmp_path / "oneside"
    _write(oneside / "input" / "a.png")
    with pytest.raises(RestoreLabError, match="no target/"):
        find_pairs(str(oneside))
    onlyin = tmp_path / "onlyin"
    _write(onlyin / "input" / "a.png")
    (onlyin / "target").mkdir()
    with pytest.raises(RestoreLabError, match="target/ holds no images"):
        find_pairs(str(onlyin))
    mism = tmp_path / "mismatch"
    for s in ("a", "b", "c", "d", "e"):
        _write(mism / "input" / f"{s}.png")
    _write(mism / "target" / "a.png")
    with pytest.raises(RestoreLabError) as e:
        find_pairs(str(mism))
    msg = str(e.value)
    assert "b.png" in msg and "d.png" in msg and "e.png" not in msg and "1 more" in msg
    extra = tmp_path / "extra"
    _write(extra / "input" / "a.png")
    _write(extra / "target" / "a.png")
    _write(extra / "target" / "zzz.png")
    with pytest.raises(RestoreLabError, match="zzz.png"):
        find_pairs(str(extra))


def test_paired_folder_size_mismatch_cropped(tmp_path):
    _write(tmp_path / "input" / "a.png", h=20, w=24)
    _write(tmp_path / "target" / "a.png", h=21, w=23)
    _, x, y = PairedFolder(str(tmp_path))[0]
    assert x.shape == y.shape == (20, 23, 3)


# ---------------------------------------------------------------- NoisyFolder / eval sets

def test_noisy_folder_deterministic(clean_dir):
    a = NoisyFolder(clean_dir, sigma=25, seed=0)
    b = NoisyFolder(clean_dir, sigma=25, seed=0)
    c = NoisyFolder(clean_dir, sigma=25, seed=1)
    assert len(a) == 6 and a.names[0] == "alpha"
    n1, x1, y1 = a[1]
    n2, x2, y2 = b[1]
    assert n1 == n2 and np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert np.array_equal(a[1][1], x1)  # re-access
    assert not np.array_equal(c[1][1], x1)
    assert not np.array_equal(a[2][1][:10, :10], x1[:10, :10])  # per-image seeds differ
    assert np.allclose(x1 * 255, np.round(x1 * 255), atol=1e-3)  # uint8 levels
    with pytest.raises(IndexError):
        a[6]
    with pytest.raises(RestoreLabError):
        NoisyFolder(clean_dir, sigma=-3)


def test_eval_sets_specs():
    sets = eval_sets()
    assert set(sets) == {"CBSD68-s15", "CBSD68-s25", "CBSD68-s50", "Rain12", "Rain100L-10",
                         "SOTS-outdoor-2", "CBSD68-clean", "CBSD68-jpeg10", "CBSD68-jpeg20", "CBSD68-jpeg30",
                         "CBSD68-jpeg40", "CBSD68-camera", "CBSD68-heavyrain", "CBSD68-downpour"}
    assert sets["CBSD68-s25"].task == "denoise_25" and sets["CBSD68-s25"].sigma == 25
    assert sets["Rain12"].task == "derain" and sets["SOTS-outdoor-2"].task == "dehaze"
    assert all(s.task in ALL_IN_ONE_TASKS for s in sets.values() if s.kind != "synthetic")
    assert all(s.task in REAL_TASKS + ("downpour",) for s in sets.values() if s.kind == "synthetic")
    assert sets["CBSD68-jpeg20"].degradation == "jpeg" and dict(sets["CBSD68-jpeg20"].params) == {"quality": 20}
    assert sets["CBSD68-clean"].degradation is None
    missing = eval_sets("/definitely/not/here")
    assert not missing["Rain12"].available
    with pytest.raises(RestoreLabError):
        missing["Rain12"].open()


def test_eval_sets_shared_data():
    if not os.path.isdir(DATA_ROOT):
        pytest.skip("shared datasets not available")
    sets = eval_sets(DATA_ROOT)
    for name, expected in (("Rain12", 12), ("Rain100L-10", 10), ("SOTS-outdoor-2", 2),
                           ("CBSD68-s15", 68)):
        if not sets[name].available:
            pytest.skip(f"{name} not available")
        ds = sets[name].open()
        assert len(ds) == expected
    _, x, y = sets["SOTS-outdoor-2"].open()[0]
    assert x.shape == y.shape and x.ndim == 3
    name, noisy, clean = sets["CBSD68-s50"].open()[0]
    assert noisy.shape == clean.shape
    assert 0.1 < float((noisy - clean).std()) < 0.25
