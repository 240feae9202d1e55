"""psnr / ssim / rgb_to_y against known values and the skimage reference."""

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restorelab.errors import RestoreLabError
from restorelab.metrics import psnr, rgb_to_y, ssim

RNG = np.random.default_rng(1)


def _sk_ssim(a, b, channel_axis=-1):
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1, channel_axis=channel_axis,
    )


def _pair(h, w, smooth):
    a = RNG.random((h, w, 3))
    if smooth:
        a = gaussian_filter(a, sigma=(3, 3, 0))
        a = (a - a.min()) / (a.max() - a.min())
    b = np.clip(a + RNG.normal(0, 0.05, a.shape), 0, 1)
    return a.astype(np.float32), b.astype(np.float32)


def test_psnr_constant_offset_known_value():
    a = np.full((8, 8, 3), 0.5, np.float32)
    assert psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-4)  # 10 log10(1 / 0.01)
    assert psnr(a, a + 0.01) == pytest.approx(40.0, abs=1e-3)
    assert psnr(a * 255, a * 255 + 25.5, data_range=255) == pytest.approx(20.0, abs=1e-4)


def test_identical_images():
    a, _ = _pair(16, 16, smooth=False)
    assert math.isinf(psnr(a, a))
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("h,w,smooth", [(32, 32, False), (32, 32, True), (37, 29, False), (29, 37, True), (11, 11, False)])
def test_against_skimage(h, w, smooth):
    a, b = _pair(h, w, smooth)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1), abs=1e-4)
    assert ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-4)
    # float64 reference too, so the agreement is not just float32 noise
    assert ssim(a, b) == pytest.approx(_sk_ssim(a.astype(np.float64), b.astype(np.float64)), abs=1e-6)


def test_y_channel_against_skimage_on_y():
    a, b = _pair(37, 29, smooth=True)
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    assert psnr(a, b, y_channel=True) == pytest.approx(peak_signal_noise_ratio(ya, yb, data_range=1), abs=1e-6)
    assert ssim(a, b, y_channel=True) == pytest.approx(_sk_ssim(ya, yb, channel_axis=None), abs=1e-6)


def test_rgb_to_y_matlab_values():
    px = np.array([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]])
    np.testing.assert_allclose(rgb_to_y(px)[0], [16 / 255, 235 / 255, (16 + 65.481) / 255], atol=1e-9)
    with pytest.raises(RestoreLabError, match="HxWx3"):
        rgb_to_y(np.zeros((4, 4)))


def test_grayscale_2d_inputs():
    a, b = _pair(20, 24, smooth=False)
    assert ssim(a[..., 0], b[..., 0]) == pytest.approx(_sk_ssim(a[..., 0], b[..., 0], None), abs=1e-4)


def test_shape_mismatch_raises():
    a = np.zeros((16, 16, 3))
    with pytest.raises(RestoreLabError, match="shape"):
        psnr(a, np.zeros((16, 15, 3)))
    with pytest.raises(RestoreLabError, match="shape"):
        ssim(a, np.zeros((15, 16, 3)))


def test_too_small_for_ssim_raises():
    a = np.zeros((6, 20, 3))
    with pytest.raises(RestoreLabError, match="at least 11x11"):
        ssim(a, a)
    with pytest.raises(RestoreLabError, match="at least 11x11"):
        ssim(np.zeros((20, 10, 3)), np.zeros((20, 10, 3)))
    assert math.isinf(psnr(a, a))  # PSNR has no window, so small images are fine
