"""The do-no-harm guard (inference.guard) and the measurements it rests on (metrics.noise)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from restorelab import degradations as D
from restorelab.inference.classical import project_jpeg, reapply_jpeg
from restorelab.inference.guard import GUARD_SUFFIX, GuardConfig, guard, judge, split_method
from restorelab.metrics import psnr
from restorelab.metrics.noise import LUMA, block_dct, blockiness, ijg_luma_table, jpeg_quality, luma255, removed_layer


def _photo(h=128, w=160, seed=0, blur=2.0):
    """A smooth random photo with some detail (no 8-px period)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), blur)
    img = (img - img.min()) / (img.max() - img.min())
    return (0.1 + 0.8 * img).astype(np.float32)


def test_blockiness_sees_a_jpeg_grid_wherever_it_starts():
    img = _photo()
    assert blockiness(img) < 0.1
    q20 = D.apply("jpeg", img, seed=0, quality=20)
    assert blockiness(q20) > 0.3
    assert blockiness(q20[3:, 5:]) == pytest.approx(blockiness(q20), abs=0.05)  # a cropped JPEG
    assert blockiness(D.apply("jpeg", img, seed=0, quality=95)) < blockiness(q20)
    assert blockiness(np.zeros((8, 8, 3), np.float32)) == 0.0  # too small to say


def test_removed_layer_tells_noise_from_texture_and_rain():
    img = _photo()
    noisy = D.apply("gaussian_noise", img, seed=0, sigma=15, quantize=False)
    noise = removed_layer(noisy, img)  # a perfect denoiser took white noise away
    assert noise["white"] > 0.9 and 0.35 < noise["brighter"] < 0.65 and noise["change_db"] < 30
    smoothed = cv2.GaussianBlur(img, (0, 0), 1.0)
    texture = removed_layer(img, smoothed)  # a smoothing took detail away
    assert texture["white"] < 0.6
    streaks = img.copy()
    streaks[:, ::9] = np.clip(streaks[:, ::9] + 0.3, 0, 1)  # bright vertical lines on the photo
    rain = removed_layer(streaks, img)
    assert rain["brighter"] > 0.95 and rain["thin"] > 0.2
    darker = removed_layer(img, img * 0.97)  # a network that darkens a clean photo: brighter, but not thin
    assert darker["brighter"] > 0.95 and darker["thin"] < 0.1
    assert not judge(img, img * 0.97).kept
    assert removed_layer(img, img)["change_db"] == float("inf")


def test_guard_hands_a_clean_photo_back_unchanged():
    img = _photo()
    out, v = guard(img, cv2.GaussianBlur(img, (0, 0), 0.7))  # a restorer that softens a clean photo
    assert not v.kept and v.found == []
    np.testing.assert_array_equal(out, img)
    assert "handed back unchanged" in v.sentence()


@pytest.mark.parametrize("case", ["noise", "jpeg", "rain"])
def test_guard_keeps_a_restoration_of_a_degraded_photo(case):
    img = _photo()
    if case == "noise":
        x = D.apply("gaussian_noise", img, seed=0, sigma=10, quantize=False)
    elif case == "jpeg":
        x = D.apply("jpeg", img, seed=0, quality=20)
    else:
        x = img.copy()
        x[:, ::11] = np.clip(x[:, ::11] + 0.15, 0, 1)
    out, v = guard(x, img)  # the ideal restoration
    assert v.kept, v
    assert out is img
    word = {"noise": "noise", "jpeg": "JPEG", "rain": "rain"}[case]
    assert any(word in f for f in v.found), v.found
    d = v.as_dict()
    json.dumps(d)
    assert d["kept"] and d["sentence"].startswith("restored")


def test_guard_thresholds_are_the_config():
    img = _photo()
    x = D.apply("jpeg", img, seed=0, quality=20)
    assert judge(x, img).kept
    never = GuardConfig(blockiness=np.inf, change_db=-1.0, white=np.inf, brighter=np.inf, thin=np.inf, jpeg_fit=np.inf)
    assert not judge(x, img, never).kept
    assert judge(x, x).as_dict()["change_db"] is None  # untouched: infinite, JSON null


def test_split_method():
    assert split_method("real-cpu" + GUARD_SUFFIX) == ("real-cpu", True)
    assert split_method("real-cpu") == ("real-cpu", False)
    assert split_method("nlm") == ("nlm", False)


def _textured(seed=0):
    """Detail at every scale up to the 8-px blocks (a JPEG keeps many non-zero coefficients)."""
    return _photo(192, 256, seed, blur=1.0)


@pytest.mark.parametrize("q", [10, 20, 40, 60, 80])
def test_jpeg_quality_reads_the_ijg_quality_from_the_dct(q):
    img = _textured()
    quality, fit, start = jpeg_quality(D.apply("jpeg", img, seed=0, quality=q))
    assert abs(quality - q) <= 1 and fit > 0.8 and start == (0, 0), (quality, fit)
    assert jpeg_quality(img)[1] < 0.3  # never compressed: no step fits
    cropped = jpeg_quality(D.apply("jpeg", img, seed=0, quality=q)[3:, 5:])  # the grid starts elsewhere
    assert abs(cropped.quality - q) <= 1 and cropped.fit > 0.8 and cropped.start == (5, 3), cropped
    assert jpeg_quality(img[3:, 5:])[1] < 0.3
    assert jpeg_quality(np.zeros((4, 4, 3), np.float32)) == (100, 0.0, (0, 0))


def test_reapplied_jpeg_removes_the_block_grid():
    img = _textured()
    x = D.apply("jpeg", img, seed=0, quality=20)
    for step in (1, 2):
        r = reapply_jpeg(x, 20, step)
        assert r.shape == x.shape and r.dtype == np.float32
        assert blockiness(r) < (0.15 if step == 1 else 0.35) * blockiness(x)  # 16 shifts leave a 2-px period
        assert psnr(r, x) > 25  # the content stays
    np.testing.assert_allclose(reapply_jpeg(np.full((20, 12, 3), 0.5, np.float32), 30), 0.5, atol=1 / 255)


@pytest.mark.parametrize("change_db, weight", [(45.0, 0.5), (36.0, 0.25), (30.0, 0.0)])
def test_guard_jpeg_step_mixes_in_the_reapplied_photo_where_the_network_changed_little(change_db, weight):
    img = _textured()
    x = D.apply("jpeg", img, seed=0, quality=20)
    d = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    out = x + d * (10 ** (-change_db / 20) / np.sqrt(np.mean(d ** 2)))  # a network that changed x by change_db
    res, v = guard(x, out)
    assert v.kept and v.jpeg_quality == 20 and v.jpeg_fit > 0.8
    assert v.jpeg_weight == pytest.approx(weight, abs=0.01)
    mixed = (1 - v.jpeg_weight) * out + v.jpeg_weight * reapply_jpeg(x, 20)
    np.testing.assert_allclose(res, mixed, atol=1e-5)
    assert ("re-compressed" in v.sentence()) == (weight > 0)
    json.dumps(v.as_dict())
    # a cropped JPEG: its grid is found where the block edges are
    res, v = guard(x[3:, 5:], out[3:, 5:])
    assert v.jpeg_quality == 20 and v.jpeg_weight == pytest.approx(weight, abs=0.01)
    # an 8-px grid that no JPEG table made (never quantized in the DCT): the network's output as it was
    img = _textured()
    grid = img.copy()
    grid[:, 7::8] = np.clip(grid[:, 7::8] + 0.05, 0, 1)
    res, v = guard(grid, img)
    assert v.kept and v.blockiness >= 0.2 and v.jpeg_fit < 0.5 and v.jpeg_weight == 0.0 and res is img


def test_guard_finds_a_jpeg_by_its_dct_when_the_grid_is_faint():
    img = _textured()
    x = D.apply("jpeg", img, seed=0, quality=20)
    no_grid = GuardConfig(blockiness=np.inf, change_db=-1.0, white=np.inf, brighter=np.inf, thin=np.inf)
    v = judge(x, img, no_grid)
    assert v.kept and v.found == ["a JPEG (q≈20 read from its DCT)"]
    light = judge(x, img, GuardConfig(**{**no_grid.__dict__, "jpeg_quality": 15}))  # above the quality cap ...
    assert light.kept and light.jpeg_light and light.found == ["a light JPEG (q≈20 read from its DCT)"]
    assert not judge(x, img, GuardConfig(**{**no_grid.__dict__, "jpeg_quality": 15, "jpeg_project": False})).kept
    assert not judge(img, img * 0.99, no_grid).kept  # never compressed: no table fits


def test_guard_jpeg_step_stays_off_where_rain_was_removed():
    """The re-compressed photo still holds the streaks: mixing it in would bring half the rain back."""
    x = D.apply("jpeg", _textured(), seed=0, quality=20)
    out = x.copy()
    out[:, ::11] -= 0.037  # thin bright streaks taken away, a small change (39 dB)
    res, v = guard(x, out)
    assert any("rain" in f for f in v.found) and any("JPEG" in f for f in v.found)
    assert v.jpeg_weight == 0.0 and res is out


@pytest.mark.parametrize("start", [(0, 0), (5, 3)])
def test_project_jpeg_clips_the_luma_dct_into_the_files_intervals(start):
    img = _textured()
    x = D.apply("jpeg", img, seed=0, quality=40)
    crop = (slice((8 - start[0]) % 8, None), slice((8 - start[1]) % 8, None))  # so that the grid starts at ``start``
    img, x = img[crop], x[crop]
    assert jpeg_quality(x).start == start
    rng = np.random.default_rng(0)
    out = np.clip(x + 0.03 * rng.standard_normal(x.shape).astype(np.float32), 0, 1)  # a restoration that got it wrong
    p = project_jpeg(x, out, 40, start)
    assert p.shape == out.shape and p.dtype == np.float32
    diff = p - out
    np.testing.assert_allclose(diff, diff[..., :1].repeat(3, axis=-1), atol=1e-5)  # a grey shift: colour untouched
    table = ijg_luma_table(40)
    k = np.round(block_dct(luma255(x), start) / table)
    inner = np.s_[1:-1, 1:-1]  # blocks clear of the [0, 1] clipping at the edges
    assert np.all(np.abs(block_dct(luma255(p), start)[inner] / table - k[inner]) <= 0.5 + 0.05)
    luma_err = lambda a: np.mean(((a - img) @ LUMA) ** 2)  # noqa: E731
    assert luma_err(p) < luma_err(out)  # closer to the photo before compression, never further
    assert psnr(project_jpeg(x, img, 40, start), img) > 45  # which lies in the intervals already
    narrow = project_jpeg(x, out, 40, start, width=0.5)
    assert luma_err(narrow) < luma_err(p)


def test_guard_keeps_a_light_jpeg_with_its_luma_restored_and_its_colour_untouched():
    img = _photo(192, 256, blur=1.5)
    x = D.apply("jpeg", img, seed=0, quality=90)
    assert jpeg_quality(x).fit >= 0.5
    out = np.clip(x + 0.5 * (img - x) + np.float32([0.006, -0.003, 0.0]), 0, 1)  # half the artefacts gone, a colour cast
    res, v = guard(x, out)
    assert v.kept and v.jpeg_light and v.found == [f"a light JPEG (q≈{v.jpeg_quality} read from its DCT)"]
    assert v.jpeg_weight == 0.0 and "colour left as it was" in v.sentence()
    diff = res - x
    np.testing.assert_allclose(diff, diff[..., :1].repeat(3, axis=-1), atol=1e-5)  # no cast: a grey change
    assert psnr(res, img) > psnr(x, img)
    res, v = guard(x, out, GuardConfig(jpeg_project=False))
    assert not v.kept and res is not out  # as before: handed back
