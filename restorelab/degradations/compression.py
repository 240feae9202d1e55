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
    if quality is None:
        q = int(rng.integers(QUALITY_RANGE[0], QUALITY_RANGE[1] + 1))
    else:
        q = pick("quality", quality, rng, 1, 100, 1, 100)
        if q != int(q):
            raise RestoreLabError(f"quality must be an integer in [1, 100], got {quality!r}")
        q = int(q)
    u8 = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:  # pragma: no cover - OpenCV failure
        raise RestoreLabError("JPEG encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return dec.astype(np.float32) / np.float32(255.0)
