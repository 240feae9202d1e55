"""JPEG compression artefacts (encode/decode with OpenCV's libjpeg, 4:2:0 chroma)."""

from __future__ import annotations

import cv2
import numpy as np

from restorelab.degradations._util import pick
from restorelab.degradations.registry import register
from restorelab.errors import RestoreLabError

QUALITY_RANGE = (10, 50)  # sampling range when quality is None (inclusive)


@register("jpeg")
def jpeg(img: np.ndarray, rng: np.random.Generator, quality=None) -> np.ndarray:
    """Round-trip through JPEG at ``quality``.

    quality: 1..100; default ``None`` samples an integer uniformly in [10, 50].
    The image is quantised to uint8 (round to nearest) before encoding.
    """
    return roundtrip(img, _quality("quality", quality, rng, *QUALITY_RANGE))


# -- web JPEG (the real-photo mix) ---------------------------------------------------------
WEB_QUALITY_RANGE = (10, 95)   # what photos on the web have been through, heavy to light
WEB_DOUBLE_PROB = 0.25         # share of double compression (re-upload) with a pixel shift
WEB_SHIFT_MAX = 7              # pixels; a shift breaks the 8x8 grid alignment (FBCNN-A)


def roundtrip(img: np.ndarray, q: int, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """One JPEG encode/decode at quality ``q`` (IJG tables, 4:2:0 chroma), with the 8x8 grid moved
    ``shift = (dy, dx)`` pixels down/right of the image's corner (mirror padding, cropped back)."""
    return codec_u8(to_u8(img)[:, :, ::-1], q, shift)[:, :, ::-1].astype(np.float32) / np.float32(255.0)


def to_u8(img: np.ndarray) -> np.ndarray:
    """[0, 1] floats to the 8-bit values a JPEG encoder takes (rounded to nearest)."""
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def codec_u8(bgr: np.ndarray, q: int, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """:func:`roundtrip` on an 8-bit BGR image (OpenCV's order), returning one."""
    dy, dx = shift
    h, w = bgr.shape[:2]
    padded = np.pad(bgr, ((dy, 0), (dx, 0), (0, 0)), mode="symmetric") if dy or dx else bgr
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(padded), [cv2.IMWRITE_JPEG_QUALITY, int(q)])
    if not ok:  # pragma: no cover - OpenCV failure
        raise RestoreLabError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[dy:dy + h, dx:dx + w]


def _quality(name: str, value, rng: np.random.Generator, lo: int, hi: int) -> int:
    if value is None:
        return int(rng.integers(lo, hi + 1))
    q = pick(name, value, rng, 1, 100, 1, 100)
    if q != int(q):
        raise RestoreLabError(f"{name} must be an integer in [1, 100], got {value!r}")
    return int(q)


@register("web_jpeg")
def web_jpeg(img: np.ndarray, rng: np.random.Generator, quality=None, double=None, quality2=None,
             shift=None) -> np.ndarray:
    """JPEG as web photos get it: one compression, or two with a shifted 8x8 grid in between.

    quality: the (last) compression, 1..100; None -> integer U[10, 95].
    double: True/False; None -> True with probability 0.25 (a re-uploaded photo).
    quality2: the *first* compression when double, 1..100; None -> integer U[10, 95].
    shift: (dy, dx) pixel shift between the two, each 0..7; None -> random, not both 0.
        The image is mirror-padded, shifted, compressed, shifted back and cropped, so the
        output is aligned with the input.
    """
    q = _quality("quality", quality, rng, *WEB_QUALITY_RANGE)
    twice = bool(rng.random() < WEB_DOUBLE_PROB) if double is None else bool(double)
    if not twice:
        return roundtrip(img, q)
    q1 = _quality("quality2", quality2, rng, *WEB_QUALITY_RANGE)
    if shift is None:
        dy, dx = 0, 0
        while dy == 0 and dx == 0:
            dy, dx = (int(v) for v in rng.integers(0, WEB_SHIFT_MAX + 1, 2))
    else:
        dy, dx = (int(v) for v in shift)
        if not (0 <= dy <= WEB_SHIFT_MAX and 0 <= dx <= WEB_SHIFT_MAX):
            raise RestoreLabError(f"shift must be two integers in [0, {WEB_SHIFT_MAX}], got {shift!r}")
    return roundtrip(roundtrip(img, q1), q, (dy, dx))
