"""Tests for restorelab.degradations (tiny synthetic images; real data only if present)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from restorelab import degradations as D
from restorelab.data.synthetic import compare_to_real
from restorelab.degradations.stats import residual_stats
from restorelab.errors import RestoreLabError

DATA_ROOT = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "datasets")
)


def _image(h=32, w=32, seed=0):
    rng = np.random.default_rng(seed)
    # smooth-ish content in [0.1, 0.9]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.5 + 0.3 * np.sin(x / 5.0)[..., None] * np.cos(y / 7.0)[..., None]
    img = base + 0.05 * rng.standard_normal((h, w, 3)).astype(np.float32)
    return np.clip(img, 0.1, 0.9).astype(np.float32)


def test_registry_names():
    assert set(D.names()) >= {"gaussian_noise", "rain", "haze", "jpeg"}
    assert D.get("rain") is D.rain


def test_unknown_name_lists_valid():
    with pytest.raises(RestoreLabError) as e:
        D.get("snow")
    assert "gaussian_noise" in str(e.value) and "haze" in str(e.value)
    with pytest.raises(RestoreLabError):
        D.apply("snow", _image())


def test_register_rejects_kwargs_and_duplicates():
    with pytest.raises(RestoreLabError):
        @D.register("bad_kwargs_fn")
        def bad(img, rng, **kw):  # pragma: no cover - never called
            return img
    with pytest.raises(RestoreLabError):
        @D.register("rain")
        def other(img, rng):  # pragma: no cover - never called
            return img
    assert "bad_kwargs_fn" not in D.names()


@pytest.mark.parametrize("name", D.names())
def test_degradation_contract(name):
    img = _image(29, 37)  # odd size, H != W
    a = D.apply(name, img, seed=1)
    b = D.apply(name, img, seed=1)
    c = D.apply(name, img, seed=2)
    assert a.shape == img.shape and a.dtype == np.float32
    assert np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0
    assert np.array_equal(a, b), "same seed must give the same output"
    if not getattr(D.get(name), "deterministic", False):  # e.g. GRIDS' ringing and Richardson-Lucy
        assert not np.array_equal(a, c), "different seeds must differ for random degradations"
    assert not np.array_equal(a, img)
    # the function form with an explicit generator matches apply()
    d = D.get(name)(img, np.random.default_rng(1))
    assert np.array_equal(a, d)
    # input is not modified
    assert np.array_equal(img, _image(29, 37))
    with pytest.raises(RestoreLabError) as e:
        D.apply(name, img, seed=0, not_a_param=1)
    assert "not_a_param" in str(e.value)
    with pytest.raises(TypeError):
        D.get(name)(img, np.random.default_rng(0), not_a_param=1)


@pytest.mark.parametrize("name", D.names())
def test_tiny_and_uint8_inputs(name):
    tiny = _image(1, 1)
    out = D.apply(name, tiny, seed=0)
    assert out.shape == (1, 1, 3)
    u8 = (_image(9, 11) * 255).astype(np.uint8)
    out = D.apply(name, u8, seed=0)
    assert out.dtype == np.float32 and out.shape == (9, 11, 3)


def test_bad_image_shape():
    with pytest.raises(RestoreLabError):
        D.apply("jpeg", np.zeros((8, 8), np.float32))
    with pytest.raises(RestoreLabError):
        D.apply("jpeg", np.zeros((8, 8, 4), np.float32))


def test_out_of_range_params_raise():
    img = _image()
    for name, params in [("gaussian_noise", {"sigma": -1}), ("jpeg", {"quality": 0}),
                         ("jpeg", {"quality": 20.5}), ("haze", {"beta": -0.1}),
                         ("haze", {"airlight": 1.5}), ("rain", {"density": 2.0}),
                         ("gaussian_noise", {"sigma": "x"})]:
        with pytest.raises(RestoreLabError):
            D.apply(name, img, **params)


def test_noise_std_on_mid_grey():
    img = np.full((128, 128, 3), 0.5, np.float32)
    out = D.apply("gaussian_noise", img, seed=0, sigma=25)
    r = out - img
    assert abs(r.std() - 25 / 255) < 0.004
    # quantised to uint8 levels (floor, like the papers' astype(uint8))
    levels = out * 255
    assert np.allclose(levels, np.round(levels), atol=1e-3)
    assert abs(r.mean() + 0.5 / 255) < 0.002  # truncation bias about -0.5/255
    cont = D.apply("gaussian_noise", img, seed=0, sigma=25, quantize=False)
    assert abs((cont - img).mean()) < 0.002
    assert not np.allclose(cont * 255, np.round(cont * 255), atol=1e-3)
    levels = (np.arange(256, dtype=np.float32) / 255).reshape(16, 16, 1).repeat(3, axis=2)
    assert np.array_equal(D.apply("gaussian_noise", levels, seed=0, sigma=0), levels)


def test_noise_sigma_none_is_sampled():
    img = np.full((64, 64, 3), 0.5, np.float32)
    stds = {round(float((D.apply("gaussian_noise", img, seed=s, sigma=None) - img).std()), 3)
            for s in range(4)}
    assert len(stds) > 1


def test_haze_monotone_in_beta():
    img = _image(40, 40)
    prev = None
    for beta in (0.0, 0.04, 0.1, 0.2, 0.4):
        out = D.apply("haze", img, seed=3, beta=beta, airlight=0.9)
        dist = float(np.abs(out - 0.9).mean())  # distance to the airlight shrinks with beta
        if prev is not None:
            assert dist < prev
        prev = dist
    assert np.allclose(D.apply("haze", img, seed=3, beta=0.0), img, atol=1e-6)


def test_haze_explicit_depth():
    img = _image(10, 12)
    out = D.apply("haze", img, seed=0, beta=0.5, airlight=1.0, depth=2.0)
    t = np.exp(-1.0)
    assert np.allclose(out, img * t + (1 - t), atol=1e-5)
    dmap = np.linspace(0, 4, 120, dtype=np.float32).reshape(10, 12)
    out2 = D.apply("haze", img, seed=0, beta=0.5, airlight=1.0, depth=dmap)
    assert out2.shape == img.shape
    with pytest.raises(RestoreLabError):
        D.apply("haze", img, depth=np.ones((3, 3)))
    with pytest.raises(RestoreLabError):
        D.apply("haze", img, depth=-1.0)


def test_rain_is_additive_and_angle_follows_param():
    from restorelab.degradations.stats import dominant_angle

    img = np.full((96, 96, 3), 0.3, np.float32)
    for angle in (-20.0, 0.0, 20.0):
        out = D.apply("rain", img, seed=0, angle=angle, density=0.004, length=30, width=1.5,
                      intensity=0.4)
        r = out - img
        assert r.min() >= 0.0 and r.max() > 0.05
        assert np.allclose(r[..., 0], r[..., 1])  # grey layer
        assert abs(dominant_angle(r) - angle) < 5.0
    assert np.array_equal(D.apply("rain", img, seed=0, density=0.0), img)


def test_jpeg_quality_matters():
    img = _image(32, 32)
    lo = np.abs(D.apply("jpeg", img, quality=10) - img).mean()
    hi = np.abs(D.apply("jpeg", img, quality=95) - img).mean()
    assert lo > hi


@pytest.mark.parametrize("name", D.names())
def test_cost_on_64_crop(name):
    img = _image(64, 64)
    fn = D.get(name)
    fn(img, np.random.default_rng(0))
    n = 30
    t = time.perf_counter()
    for i in range(n):
        fn(img, np.random.default_rng(i))
    per = (time.perf_counter() - t) / n
    assert per < 0.02, f"{name}: {per * 1e3:.2f} ms per 64x64 crop"  # generous: shared CPU


def test_residual_stats_values():
    t = np.zeros((10, 10, 3), np.float32)
    x = t.copy()
    x[:5] = 0.1
    s = residual_stats([x], [t])
    assert s["n_images"] == 1
    assert abs(s["mean"] - 0.05) < 1e-6
    assert abs(s["frac_gt_0.05"] - 0.5) < 1e-6
    assert len(s["channel_mean"]) == 3
    s2 = residual_stats(x, t)  # single pair
    assert s2["mean"] == s["mean"]
    with pytest.raises(RestoreLabError):
        residual_stats([x], [t[:5]])
    with pytest.raises(RestoreLabError):
        residual_stats([], [])


def _write(path, arr):
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8)).save(path)


def test_compare_to_real_on_tiny_folders(tmp_path):
    clean_dir = tmp_path / "clean"
    for i in range(3):
        _write(str(clean_dir / f"{i}.png"), _image(24, 20, seed=i))
    real = tmp_path / "real"
    for i in range(2):
        c = _image(24, 20, seed=10 + i)
        _write(str(real / "target" / f"{i}.png"), c)
        _write(str(real / "input" / f"{i}.png"), D.apply("rain", c, seed=i))
    r = compare_to_real("rain", str(real), str(clean_dir), n=2, seed=0)
    assert r["real"]["n_images"] == 2 and r["synthetic"]["n_images"] == 2
    assert r["real"]["mean"] > 0 and r["synthetic"]["mean"] > 0
    r2 = compare_to_real("rain", str(real), str(clean_dir), n=2, seed=0)
    assert r2["synthetic"] == r["synthetic"]
    with pytest.raises(RestoreLabError):
        compare_to_real("rain", str(real), str(clean_dir), n=2, params={"nope": 1})


def test_compare_to_real_shared_rain():
    real = os.path.join(DATA_ROOT, "test", "derain", "Rain100L-10")
    clean = os.path.join(DATA_ROOT, "train", "clean")
    if not (os.path.isdir(real) and os.path.isdir(clean)):
        pytest.skip("shared datasets not available")
    r = compare_to_real("rain", real, clean, n=4, seed=0)
    s, q = r["synthetic"], r["real"]
    # same order of magnitude as the real Rain100L residuals
    assert 0.3 < s["mean"] / q["mean"] < 3.0
    assert 0.3 < s["frac_gt_0.05"] / q["frac_gt_0.05"] < 3.0


# -- the real-photo mix -------------------------------------------------------------------------
def _psnr(a, b):
    return float(10 * np.log10(1.0 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-20)))


def test_real_mix_registered_and_tasks_parse():
    from restorelab.data import REAL_TASKS, parse_task

    assert {"camera_noise", "color_noise", "web_jpeg", "heavy_rain", "mild", "noise_jpeg"} <= set(D.names())
    assert len(REAL_TASKS) == 8 and REAL_TASKS[0] == "clean"  # a batch of 8 holds one clean sample
    for t in REAL_TASKS:
        deg, params = parse_task(t)
        D.check_params(deg, params)


def test_camera_noise_round_trip_is_identity_without_noise():
    img = _image(48, 40)
    out = D.apply("camera_noise", img, seed=3, shot=0.0, read=0.0, jpeg_quality=0)
    assert _psnr(out, img) > 60  # the inverse ISP and its inverse cancel: no colour shift, no demosaic loss


def test_camera_noise_grows_with_shot_and_is_colour_correlated():
    img = np.full((64, 64, 3), 0.5, np.float32)
    weak = D.apply("camera_noise", img, seed=0, shot=1e-4, jpeg_quality=0)
    strong = D.apply("camera_noise", img, seed=0, shot=1e-2, jpeg_quality=0)
    assert (weak - img).std() < (strong - img).std()
    r = strong - img
    c = np.corrcoef(r[:, :, 0].ravel(), r[:, :, 1].ravel())[0, 1]
    assert abs(c) > 0.05  # the colour matrix mixes the channels' noise
    # the bilinear demosaic spreads each raw sample's noise: neighbouring pixels correlate
    h = np.corrcoef(r[:, :-1, 1].ravel(), r[:, 1:, 1].ravel())[0, 1]
    assert h > 0.1
    with pytest.raises(RestoreLabError):
        D.apply("camera_noise", img, shot=2.0)


def test_color_noise_modes():
    img = np.full((96, 96, 3), 0.5, np.float32)
    iid = D.apply("color_noise", img, seed=0, sigma=10, mode="iid") - img
    gray = D.apply("color_noise", img, seed=0, sigma=10, mode="gray") - img
    assert abs(iid.std() * 255 - 10) < 0.5
    assert np.allclose(gray[:, :, 0], gray[:, :, 1]) and abs(gray.std() * 255 - 10) < 0.5
    for mode in ("correlated", "lumachroma"):
        n = D.apply("color_noise", img, seed=0, sigma=10, mode=mode) - img
        assert 2 < n.std() * 255 < 40
    with pytest.raises(RestoreLabError):
        D.apply("color_noise", img, mode="pink")


def test_web_jpeg_double_is_aligned_and_worse():
    img = _image(64, 64)
    single = D.apply("web_jpeg", img, seed=0, quality=50, double=False)
    assert np.array_equal(single, D.apply("jpeg", img, quality=50))  # one mechanism for one compression
    double = D.apply("web_jpeg", img, seed=0, quality=50, double=True, quality2=30, shift=(3, 5))
    assert double.shape == img.shape
    assert _psnr(double, img) < _psnr(single, img)  # the first, harder compression stays
    assert _psnr(double, img) > 20  # shifted back: aligned with the input
    with pytest.raises(RestoreLabError):
        D.apply("web_jpeg", img, double=True, shift=(9, 0))


def test_heavy_rain_density_and_veil():
    img = _image(96, 96) * 0.5
    light = D.apply("heavy_rain", img, seed=1, layers=1, density=0.0005, veil=1.0)
    heavy = D.apply("heavy_rain", img, seed=1, layers=4, density=0.004, veil=1.0)
    assert _psnr(heavy, img) < _psnr(light, img)
    veiled = D.apply("heavy_rain", img, seed=1, layers=1, density=0.0, veil=0.7, airlight=0.9)
    assert veiled.mean() > img.mean() + 0.05  # the accumulation veil lifts a dark photo towards A


def test_downpour_is_dense_fine_and_faint():
    img = _image(128, 128) * 0.5
    dp = D.apply("downpour", img, seed=2, layers=3, density=0.01, angle=0.0, veil=1.0, quality=0)
    hv = D.apply("heavy_rain", img, seed=2, layers=3, density=0.002, angle=0.0, veil=1.0)
    r_dp, r_hv = (dp - img).mean(axis=2), (hv - img).mean(axis=2)
    assert (r_dp >= -1e-6).all() and r_dp.mean() > 0.01  # additive streaks, no veil, no JPEG
    # the downpour covers more of the photo with fainter streaks than heavy rain
    assert (r_dp > 0.02).mean() > (r_hv > 0.02).mean()
    assert np.percentile(r_dp[r_dp > 0.02], 99) < np.percentile(r_hv[r_hv > 0.02], 99)
    # streaks are near-vertical: the residual varies far more across columns than along them
    assert np.abs(np.diff(r_dp, axis=1)).mean() > 2 * np.abs(np.diff(r_dp, axis=0)).mean()
    jp = D.apply("downpour", img, seed=2, layers=3, density=0.01, angle=0.0, veil=1.0, quality=70)
    assert 25 < _psnr(jp, dp) < 60  # the JPEG step changes the rainy photo a little
    assert np.array_equal(jp, D.apply("downpour", img, seed=2, layers=3, density=0.01, angle=0.0, veil=1.0,
                                      quality=70))  # seeded
    with pytest.raises(RestoreLabError):
        D.apply("downpour", img, density=0.5)


def test_mild_is_clean_or_barely_degraded():
    import cv2

    img = cv2.GaussianBlur(_image(64, 64), (0, 0), 2.0)  # photo-like: JPEG q85+ barely touches it
    assert np.array_equal(D.apply("mild", img, kind="none"), img)
    for kind in ("noise", "jpeg"):
        assert _psnr(D.apply("mild", img, seed=0, kind=kind), img) > 35
    kinds = [np.array_equal(D.apply("mild", img, seed=s), img) for s in range(40)]
    assert 0.3 < np.mean(kinds) < 0.7  # about half are the photo itself
    assert 20 < _psnr(D.apply("noise_jpeg", img, seed=0, sigma=15, quality=50), img) < 40
