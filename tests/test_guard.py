"""The do-no-harm guard (inference.guard) and the measurements it rests on (metrics.noise)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from restorelab import degradations as D
from restorelab.inference.guard import GUARD_SUFFIX, GuardConfig, guard, judge, split_method
from restorelab.metrics.noise import blockiness, removed_layer


def _photo(h=128, w=160, seed=0):
    """A smooth random photo with some detail (no 8-px period)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
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
    never = GuardConfig(blockiness=np.inf, change_db=-1.0, white=np.inf, brighter=np.inf, thin=np.inf)
    assert not judge(x, img, never).kept
    assert judge(x, x).as_dict()["change_db"] is None  # untouched: infinite, JSON null


def test_split_method():
    assert split_method("real-cpu" + GUARD_SUFFIX) == ("real-cpu", True)
    assert split_method("real-cpu") == ("real-cpu", False)
    assert split_method("nlm") == ("nlm", False)
