"""Image loading and saving.

Every image inside RestoreLab is a ``float32`` numpy array of shape ``(H, W, 3)``,
sRGB, values in ``[0, 1]``. ``load_image`` turns anything a user may hand us into
that form, or refuses with a one-line :class:`ImageError` that names the source;
``save_png`` writes it back losslessly as 8-bit PNG.
"""

from __future__ import annotations

import io
import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageOps

from restorelab.errors import RestoreLabError

DEFAULT_MAX_PIXELS = 40_000_000

# Modes whose pixels carry an alpha channel (premultiplied "La"/"RGBa" included).
_ALPHA_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}


class ImageError(RestoreLabError):
    """An image could not be read or written; the message names the file."""


def load_image(src: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load ``src`` as a float32 ``(H, W, 3)`` RGB array in ``[0, 1]``.

    ``src`` may be a path (str/Path), encoded file bytes, a ``PIL.Image`` or a
    numpy array (uint8, uint16 or float in [0, 1]; HxW, HxWx1, HxWx3 or HxWx4).
    Transparency is composited on white; EXIF orientation is applied.
    Raises ImageError for missing, non-image, corrupt, truncated, empty or
    too-large (> ``max_pixels``) inputs.
    """
    if isinstance(src, np.ndarray):
        return _from_array(src, max_pixels)
    if isinstance(src, Image.Image):
        return _from_pil(src, "<PIL image>", max_pixels)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _open_and_convert(io.BytesIO(bytes(src)), "<image bytes>", max_pixels)
    if isinstance(src, (str, Path)):
        path = Path(src)
        if not path.is_file():
            what = "is a directory, not an image" if path.is_dir() else "not found"
            raise ImageError(f"{path}: {what}")
        return _open_and_convert(path, str(path), max_pixels)
    raise ImageError(f"cannot load an image from a {type(src).__name__}")


def _open_and_convert(fp: Any, name: str, max_pixels: int) -> np.ndarray:
    """Open an encoded image (path or file object) and convert it."""
    try:
        # Turn PIL's decompression-bomb warning into an error for this call only.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as im:
                return _from_pil(im, name, max_pixels)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"{name}: image too large to decode safely ({err})") from err
    except Image.UnidentifiedImageError as err:
        raise ImageError(f"{name}: not a recognised image file") from err
    except Exception as err:  # noqa: BLE001 - any decoder failure is a bad file
        raise ImageError(f"{name}: cannot decode image ({err})") from err


def _from_pil(im: Image.Image, name: str, max_pixels: int) -> np.ndarray:
    """Convert an opened PIL image; the size check uses the header only."""
    _check_size(im.width, im.height, name, max_pixels)
    try:
        im.load()  # full decode now, so truncated/corrupt data fails here
    except Exception as err:  # noqa: BLE001
        raise ImageError(f"{name}: corrupt or truncated image ({err})") from err
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject good pixels
        pass
    return _pil_to_float(_to_srgb(im))


# Colours spread over the cube: a profile that maps all of them to themselves is sRGB in effect.
_SWATCHES = np.stack(np.meshgrid(*[np.array([16, 80, 144, 208, 250], np.uint8)] * 3), -1).reshape(1, -1, 3)


def _to_srgb(im: Image.Image) -> Image.Image:
    """The pixels in sRGB, which is what we compute on and what an untagged PNG means to a browser.

    Phones embed other profiles (Display P3 on iPhones): read as if sRGB, their colours would come
    back visibly duller. A profile that is sRGB in effect is left alone, so that those photos (most)
    keep their exact pixels; a broken profile too (best effort: the pixels as stored).
    """
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        from PIL import ImageCms

        src, srgb = ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB")
        if im.mode != "CMYK":
            probe = ImageCms.profileToProfile(Image.fromarray(_SWATCHES, "RGB"), src, srgb, outputMode="RGB")
            if np.abs(np.asarray(probe, np.int16) - _SWATCHES).max() <= 1:
                return im
        return ImageCms.profileToProfile(im, src, srgb, outputMode="RGBA" if im.mode == "RGBA" else "RGB")
    except Exception:  # noqa: BLE001
        return im


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    """Refuse empty images and images above the pixel cap."""
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: image is empty ({width}x{height} pixels)")
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: image is {width}x{height} = {width * height:,} pixels, "
            f"more than the limit of {max_pixels:,}"
        )


def _pil_to_float(im: Image.Image) -> np.ndarray:
    """Any PIL mode -> float32 (H, W, 3) RGB in [0, 1]."""
    if im.mode.startswith("I") or im.mode == "F":
        return _gray_to_rgb(_high_depth_to_float(im))
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        return _composite_on_white(rgba)
    # Covers 1, L, P, CMYK, YCbCr, LAB, HSV, RGBX, RGB.
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def _high_depth_to_float(im: Image.Image) -> np.ndarray:
    """Single-channel 16/32-bit integer or float image -> (H, W) float32 in [0, 1].

    Integers are divided by the full scale of their true bit depth (16-bit ->
    65535), so a 16-bit image is not mistaken for a 32-bit one. Float ("F")
    images are taken to be in [0, 1] already, as written by most tools.
    """
    arr = np.asarray(im)
    if im.mode == "F":
        return np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0)
    bits = _declared_bits(im)
    if bits is None:
        # Pillow's "I" is int32; without a header saying otherwise, data that fits
        # in 16 bits came from a 16-bit source (older Pillow opened 16-bit PNGs as "I").
        fits16 = im.mode.startswith("I;16") or (arr.min() >= 0 and arr.max() <= 65535)
        bits = 16 if fits16 else 31
    scale = float(2 ** min(bits, 31) - 1)
    return np.clip(arr.astype(np.float64) / scale, 0.0, 1.0).astype(np.float32)


def _declared_bits(im: Image.Image) -> int | None:
    """Bits per sample from the file header when the format records it (TIFF)."""
    tags = getattr(im, "tag_v2", None)
    if tags is None or 258 not in tags:
        return None
    bits = tags[258]
    bits = bits[0] if isinstance(bits, tuple) else bits
    return int(bits) if 1 <= int(bits) <= 32 else None


def _from_array(arr: np.ndarray, max_pixels: int) -> np.ndarray:
    """numpy HxW / HxWx{1,3,4} uint8, uint16 or float [0, 1] -> float32 HxWx3."""
    name = "<array>"
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        height, width = arr.shape[:2]
    elif arr.ndim == 2:
        height, width = arr.shape
    else:
        raise ImageError(f"{name}: expected HxW or HxWx{{1,3,4}} array, got shape {arr.shape}")
    _check_size(width, height, name, max_pixels)
    out = _array_to_unit_float(arr, name)
    if out.ndim == 2 or out.shape[2] == 1:
        return _gray_to_rgb(out.reshape(height, width))
    if out.shape[2] == 4:
        return _composite_on_white(out)
    return np.ascontiguousarray(out)


def _array_to_unit_float(arr: np.ndarray, name: str) -> np.ndarray:
    """Scale integer arrays by their dtype's full range; check and clip floats."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ImageError(f"{name}: array contains NaN or infinite values")
        # Tiny overshoots from upstream float maths are expected; clip rather than refuse.
        return np.clip(arr.astype(np.float32), 0.0, 1.0)
    raise ImageError(f"{name}: unsupported dtype {arr.dtype} (use uint8, uint16 or float)")


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """(H, W) -> (H, W, 3) by repeating the channel."""
    return np.repeat(gray[:, :, None], 3, axis=2).astype(np.float32, copy=False)


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) float RGBA in [0, 1] -> (H, W, 3): transparent areas become white."""
    alpha = rgba[:, :, 3:4]
    return (rgba[:, :, :3] * alpha + (1.0 - alpha)).astype(np.float32)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] (HxW or HxWxC) -> uint8, rounded to nearest.

    Values are clipped to [0, 1]; NaN becomes 0. uint8 input is returned unchanged.
    """
    arr = np.asarray(img)
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise ImageError(f"to_uint8 expects a float image in [0, 1], got dtype {arr.dtype}")
    # +0.5 then truncation = round half up, so 8-bit values survive a float round trip.
    scaled = np.nan_to_num(arr.astype(np.float64), nan=0.0) * 255.0 + 0.5
    return np.clip(scaled, 0, 255).astype(np.uint8)


def save_png(path: str | Path, img: np.ndarray) -> None:
    """Write a float [0, 1] HxWx3 (or HxW / HxWx1) image as a lossless 8-bit PNG.

    Parent directories are created. Raises ImageError on bad shapes or write errors.
    """
    path = Path(path)
    arr = to_uint8(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)) or arr.size == 0:
        raise ImageError(f"{path}: cannot save an image of shape {arr.shape} as PNG")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(arr)).save(path, format="PNG")
    except OSError as err:
        raise ImageError(f"{path}: cannot write PNG ({err})") from err


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """``write(tmp)`` a temporary file beside ``path``, then rename it over ``path``: a reader (or a
    killed run) sees the old file or the new one, never half a file. Parent folders are created;
    the temporary file is removed when ``write`` fails. Concurrent writers use their own
    temporary names. E.g. ``atomic_write(p, lambda tmp: torch.save(state, tmp))``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}-{threading.get_ident()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (``atomic_write``)."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))
