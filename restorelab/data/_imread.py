"""Image listing and reading for the data loaders."""

from __future__ import annotations

import os

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.io import load_image, to_uint8

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS) and not os.path.basename(name).startswith(".")


def read_uint8(path: str) -> np.ndarray:
    """H x W x 3 uint8 RGB via ``restorelab.io.load_image`` (all modes, EXIF orientation)."""
    return to_uint8(load_image(path))


def read_float(path: str) -> np.ndarray:
    """H x W x 3 float32 in [0, 1]."""
    return load_image(path)


def list_images(folder: str):
    """Sorted image file paths directly in ``folder``."""
    if not os.path.isdir(folder):
        raise RestoreLabError(f"folder not found: {folder}")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if is_image(f) and os.path.isfile(os.path.join(folder, f)))
