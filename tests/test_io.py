"""load_image / save_png: every supported mode and format, and every refusal."""

import io

import numpy as np
import pytest
from PIL import Image

from restorelab.errors import RestoreLabError
from restorelab.io import ImageError, load_image, save_png, to_uint8

RNG = np.random.default_rng(0)
RGB8 = RNG.integers(0, 256, size=(9, 13, 3), dtype=np.uint8)
GRAY8 = RNG.integers(0, 256, size=(9, 13), dtype=np.uint8)


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _check(out: np.ndarray, shape=(9, 13, 3)) -> None:
    assert out.dtype == np.float32 and out.shape == shape
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_image_error_is_restorelab_error():
    assert issubclass(ImageError, RestoreLabError)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF"])
def test_lossless_formats_exact(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(RGB8).save(path, format=fmt)
    out = load_image(path)
    _check(out)
    np.testing.assert_array_equal(to_uint8(out), RGB8)


def test_webp_lossless_and_jpeg_close(tmp_path):
    webp = load_image(_encode(Image.fromarray(RGB8), "WEBP", lossless=True))
    np.testing.assert_array_equal(to_uint8(webp), RGB8)
    smooth = np.tile(np.linspace(0, 255, 13, dtype=np.uint8)[None, :, None], (9, 1, 3))
    path = tmp_path / "x.jpg"
    Image.fromarray(smooth).save(path, quality=95)
    jpg = load_image(str(path))
    _check(jpg)
    assert np.abs(jpg - smooth / 255.0).max() < 0.1


def test_gray_l_replicated():
    out = load_image(Image.fromarray(GRAY8, "L"))
    _check(out)
    for c in range(3):
        np.testing.assert_array_equal(to_uint8(out[..., c]), GRAY8)


def test_la_composited_on_white():
    la = np.stack([np.full((9, 13), 0, np.uint8), np.full((9, 13), 0, np.uint8)], axis=2)
    la[:, :6, 1] = 255  # left part opaque black, right part fully transparent
    out = load_image(_encode(Image.fromarray(la, "LA"), "PNG"))
    _check(out)
    assert np.all(out[:, :6] == 0.0) and np.all(out[:, 6:] == 1.0)


def test_rgba_composited_on_white():
    rgba = np.zeros((9, 13, 4), np.uint8)
    rgba[..., 0] = 255  # pure red
    rgba[..., 3] = 128  # half transparent
    out = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    _check(out)
    a = 128 / 255
    np.testing.assert_allclose(out[0, 0], [1.0, 1 - a, 1 - a], atol=1e-6)


def test_palette_plain_and_with_transparency():
    pal = Image.fromarray(RGB8).quantize(colors=8)
    assert pal.mode == "P"
    plain = load_image(_encode(pal, "PNG"))
    np.testing.assert_array_equal(to_uint8(plain), np.asarray(pal.convert("RGB")))
    index0 = np.asarray(pal)[0, 0]
    trans = load_image(_encode(pal, "PNG", transparency=int(index0)))
    _check(trans)
    mask = np.asarray(pal) == index0
    assert np.all(trans[mask] == 1.0)  # the transparent index shows as white
    np.testing.assert_array_equal(to_uint8(trans)[~mask], np.asarray(pal.convert("RGB"))[~mask])


def test_cmyk_jpeg():
    cmyk = Image.new("CMYK", (13, 9), (0, 255, 255, 0))  # no black ink, full M+Y = red
    out = load_image(_encode(cmyk, "JPEG", quality=95))
    _check(out)
    assert out[..., 0].mean() > 0.9 and out[..., 1:].mean() < 0.1


def test_16bit_png_scaled_by_65535(tmp_path):
    vals = np.array([[0, 257, 32768, 65535]], dtype=np.uint16).repeat(3, axis=0)
    path = tmp_path / "g16.png"
    Image.fromarray(vals).save(path)
    assert Image.open(path).mode == "I;16"
    out = load_image(path)
    _check(out, (3, 4, 3))
    np.testing.assert_allclose(out[0, :, 1], vals[0] / 65535.0, atol=1e-7)


def test_16bit_tiff_and_32bit_int_tiff(tmp_path):
    vals16 = np.full((4, 5), 65535 // 2, np.uint16)
    Image.fromarray(vals16).save(tmp_path / "g16.tif")
    np.testing.assert_allclose(load_image(tmp_path / "g16.tif"), 32767 / 65535, atol=1e-7)
    vals32 = np.full((4, 5), 2**30, np.int32)
    Image.fromarray(vals32, "I").save(tmp_path / "g32.tif")
    # 32-bit data is scaled by its own full range, not 65535 (which would saturate).
    np.testing.assert_allclose(load_image(tmp_path / "g32.tif"), 2**30 / (2**31 - 1), atol=1e-6)


def test_float_f_mode_tiff(tmp_path):
    vals = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    Image.fromarray(vals, "F").save(tmp_path / "f.tif")
    np.testing.assert_allclose(load_image(tmp_path / "f.tif")[..., 2], vals, atol=1e-7)


def test_exif_orientation_applied(tmp_path):
    im = Image.fromarray(np.zeros((8, 16, 3), np.uint8))  # 16 wide, 8 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rot.jpg"
    im.save(path, exif=exif.tobytes())
    assert load_image(path).shape == (16, 8, 3)


def _wide_gamut_icc() -> bytes:
    """The built-in sRGB profile with Display P3's primaries (D50) in place of sRGB's."""
    import struct

    from PIL import ImageCms

    b = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    p3 = {b"rXYZ": (0.5151, 0.2412, -0.0011), b"gXYZ": (0.2920, 0.6922, 0.0419), b"bXYZ": (0.1571, 0.0666, 0.7841)}
    for i in range(struct.unpack(">I", b[128:132])[0]):
        sig, off, _ = struct.unpack(">4sII", b[132 + 12 * i:144 + 12 * i])
        for j, v in enumerate(p3.get(sig, ())):
            b[off + 8 + 4 * j:off + 12 + 4 * j] = struct.pack(">i", round(v * 65536))
    return bytes(b)


def test_colour_profiles_converted_to_srgb_and_srgb_left_exact():
    from PIL import ImageCms

    arr = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    arr[0, 0] = (200, 100, 50)

    def load(icc):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "PNG", icc_profile=icc)
        return np.round(load_image(buf.getvalue()) * 255).astype(int)

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert np.array_equal(load(srgb), arr)  # most phone photos: their exact pixels
    assert np.array_equal(load(b"not a profile"), arr)  # broken: the pixels as stored
    wide = load(_wide_gamut_icc())  # a P3 orange is a more saturated sRGB one, not the same numbers
    assert wide[0, 0, 0] > 205 and wide[0, 0, 2] < 45


@pytest.mark.parametrize(
    "arr",
    [
        GRAY8,
        GRAY8[:, :, None],
        RGB8,
        np.dstack([RGB8, np.full((9, 13), 255, np.uint8)]),
        RGB8.astype(np.uint16) * 257,
        RGB8.astype(np.float64) / 255.0,
    ],
    ids=["hw", "hw1", "hw3", "hw4", "uint16", "float"],
)
def test_numpy_inputs(arr):
    out = load_image(arr)
    _check(out)
    expect = arr if arr.ndim == 3 and arr.shape[2] >= 3 else np.dstack([arr.reshape(9, 13)] * 3)
    expect = expect[..., :3]
    if expect.dtype == np.uint16:
        expect = (expect // 257).astype(np.uint8)
    elif expect.dtype != np.uint8:
        expect = to_uint8(expect)
    np.testing.assert_array_equal(to_uint8(out), expect)


def test_non_image_bytes_and_file(tmp_path):
    with pytest.raises(ImageError, match="not a recognised image"):
        load_image(b"this is not an image at all")
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(ImageError, match="notes.png"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_refused(tmp_path, fmt):
    data = _encode(Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\."):
        load_image(path)


def test_over_pixel_cap_refused(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(RGB8).save(path)
    with pytest.raises(ImageError, match="limit"):
        load_image(path, max_pixels=100)
    with pytest.raises(ImageError, match="limit"):
        load_image(RGB8, max_pixels=100)


def test_decompression_bomb_is_image_error(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.fromarray(RGB8).save(path)
    # PIL warns above MAX_IMAGE_PIXELS and errors above twice that; both must be ImageError.
    for limit in (100, 50):
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with pytest.raises(ImageError, match="bomb.png"):
            load_image(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)


def test_zero_size_and_bad_inputs():
    with pytest.raises(ImageError, match="empty"):
        load_image(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ImageError, match="empty"):
        load_image(Image.new("RGB", (0, 5)))
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageError, match="dtype"):
        load_image(np.zeros((4, 4), np.int64))
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((4, 4), np.nan))
    with pytest.raises(ImageError):
        load_image(12345)


def test_save_png_round_trip_exact(tmp_path):
    img = RGB8.astype(np.float32) / 255.0
    path = tmp_path / "deep" / "dir" / "out.png"
    save_png(path, img)
    assert Image.open(path).format == "PNG"
    np.testing.assert_array_equal(load_image(path), img)
    save_png(tmp_path / "gray.png", GRAY8 / 255.0)
    np.testing.assert_array_equal(to_uint8(load_image(tmp_path / "gray.png")[..., 0]), GRAY8)


def test_to_uint8_rounds_and_clips():
    x = np.array([-0.5, 0.0, 0.5 / 255, 0.49 / 255, 1.0, 2.0, np.nan])
    np.testing.assert_array_equal(to_uint8(x), [0, 0, 1, 0, 255, 255, 0])


def test_save_png_bad_shape(tmp_path):
    with pytest.raises(ImageError, match="shape"):
        save_png(tmp_path / "x.png", np.zeros((4, 4, 2)))
