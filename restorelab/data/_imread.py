"""Image reading for the data loaders (uses ``restorelab.io`` when it is available)."""

from __future__ import annotations

import os

import numpy as np

from restorelab.errors import RestoreLabError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS) and not os.path.basename(name).startswith(".")


def read_uint8(path: str) -> np.ndarray:
    """H x W x 3 uint8 RGB. Uses ``restorelab.io.load_image`` when available (L/RGBA/16-bit
    handled there: alpha composited on white, EXIF orientation applied), else PIL."""
    try:
        from restorelab.io import load_image
    except ImportError:
        load_image = None
    if load_image is not None:
        arr = load_image(path)
        return (np.clip(arr, 0.0, 1.0) * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError) as e:
        raise RestoreLabError(f"cannot read image {path}: {e}") from None


def read_float(path: str) -> np.ndarray:
    """H x W x 3 float32 in [0, 1]; ``restorelab.io.load_image`` if present, else PIL."""
    try:
        from restorelab.io import load_image
    except ImportError:
        load_image = None
    if load_image is not None:
        return load_image(path)
    return read_uint8(path).astype(np.float32) / np.float32(255.0)


def list_images(folder: str):
    """Sorted image file paths directly in ``folder``."""
    if not os.path.isdir(folder):
        raise RestoreLabError(f"folder not found: {folder}")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if is_image(f) and os.path.isfile(os.path.join(folder, f)))
