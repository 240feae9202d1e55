"""restore_tiled: exact for pointwise models, seamless for convolutions, bounded tiles."""

import pytest
import torch
import torch.nn.functional as F

from restorelab.errors import RestoreLabError
from restorelab.inference.tiling import _axis, restore_tiled

GEN = torch.Generator().manual_seed(0)


def _img(h, w):
    return torch.rand(1, 3, h, w, generator=GEN)


def _blur(x):
    """3x3 box blur per channel with zero padding (so tile borders differ from the whole image)."""
    k = torch.full((3, 1, 3, 3), 1 / 9, dtype=x.dtype)
    return F.conv2d(x, k, padding=1, groups=3)


@pytest.mark.parametrize("h,w,tile,overlap", [(37, 29, 8, 3), (64, 64, 16, 4), (5, 7, 16, 4), (40, 9, 12, 0)])
def test_identity_is_exact(h, w, tile, overlap):
    x = _img(h, w)
    out = restore_tiled(lambda t: t, x, tile=tile, overlap=overlap)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, x)


def test_pointwise_fn_exact_with_many_tiles():
    x = _img(53, 41)
    out = restore_tiled(lambda t: t * 2 + 1, x, tile=10, overlap=4)
    assert torch.allclose(out, x * 2 + 1, atol=1e-6, rtol=0)


def test_tiles_one_size_at_most_tile_and_border_aligned():
    seen = []

    def fn(t):
        seen.append(tuple(t.shape[-2:]))
        return t

    restore_tiled(fn, _img(50, 33), tile=16, overlap=5)
    # rows: 5 tiles of 14 (5 * 14 - 4 * 5 = 50); columns: 3 of 15 (3 * 15 - 2 * 5 = 35 >= 33)
    assert set(seen) == {(14, 15)} and len(seen) == 15
    seen.clear()
    restore_tiled(fn, _img(10, 12), tile=16, overlap=5)  # smaller than a tile: one call
    assert seen == [(10, 12)]


@pytest.mark.parametrize("length,tile,overlap,multiple", [(3000, 512, 32, 8), (4000, 512, 32, 8), (50, 16, 5, 1),
                                                          (1001, 256, 32, 8), (17, 16, 15, 1), (300, 64, 0, 8)])
def test_axis_fewest_even_tiles_with_the_overlap(length, tile, overlap, multiple):
    starts, side = _axis(length, tile, overlap, multiple)
    n = len(starts)
    assert side <= tile and starts[0] == 0 and starts[-1] + side == length
    assert all(b - a <= side - overlap for a, b in zip(starts, starts[1:]))  # neighbours share >= overlap
    assert all(b > a for a, b in zip(starts, starts[1:]))
    assert (n - 1) * (tile - overlap) + tile < length + (tile - overlap)  # one tile fewer would not cover it
    if multiple > 1:
        assert side % multiple == 0


def test_12mp_photo_computes_few_pixels_twice():
    (ys, th), (xs, tw) = _axis(3000, 512, 32, 8), _axis(4000, 512, 32, 8)
    assert (th, tw) == (456, 480) and len(ys) * len(xs) == 63
    assert len(ys) * len(xs) * th * tw / (3000 * 4000) < 1.16  # full 512 tiles pushed to the border: 1.38


def test_conv_blends_close_to_whole_image():
    # Smooth content so the only differences come from per-tile zero padding at seams.
    x = F.interpolate(_img(12, 10), size=(60, 50), mode="bilinear", align_corners=False)
    whole = _blur(x)
    blended = restore_tiled(_blur, x, tile=20, overlap=8)
    hard = restore_tiled(_blur, x, tile=20, overlap=0)  # no blending: visible seams
    err_blend = (blended - whole).abs().max().item()
    err_hard = (hard - whole).abs().max().item()
    # A seam pixel's wrong value keeps only weight sin^2(pi/18) ~ 0.03 out of 1.
    assert err_blend < 0.03
    assert err_blend < err_hard / 10
    # Away from the tiles' inner edges (the only pixels a radius-1 blur gets wrong),
    # blending must reproduce the whole-image result exactly.
    clean = torch.ones(60, 50, dtype=torch.bool)
    for axis, length in ((0, 60), (1, 50)):
        starts, side = _axis(length, 20, 8)
        edges = [s for s in starts if s > 0] + [s + side - 1 for s in starts if s + side - 1 < length - 1]
        clean[(edges, slice(None)) if axis == 0 else (slice(None), edges)] = False
    assert clean.float().mean() > 0.5
    torch.testing.assert_close(blended[..., clean], whole[..., clean], atol=1e-6, rtol=0)


def test_progress_callback_counts():
    calls = []
    restore_tiled(lambda t: t, _img(30, 45), tile=16, overlap=4, progress=lambda d, n: calls.append((d, n)))
    # rows: 3 tiles of 14 (0, 8, 16); columns: 4 of 15 (0, 10, 20, 30)
    assert calls == [(i, 12) for i in range(1, 13)]


@pytest.mark.parametrize("batch,sizes", [(2, [2] * 6), (5, [5, 5, 2]), (20, [12])])
def test_batched_tiles_match_one_at_a_time(batch, sizes):
    x, seen, calls = _img(30, 45), [], []  # 12 tiles (see above)

    def fn(t):
        seen.append(t.shape[0])
        return _blur(t)

    out = restore_tiled(fn, x, tile=16, overlap=4, batch=batch, progress=lambda d, n: calls.append((d, n)))
    assert seen == sizes
    assert calls == [(sum(sizes[: i + 1]), 12) for i in range(len(sizes))]
    torch.testing.assert_close(out, restore_tiled(_blur, x, tile=16, overlap=4), atol=1e-6, rtol=0)


@pytest.mark.parametrize("tile,overlap", [(16, 16), (8, 12), (16, -1), (0, 0), (16.0, 4)])
def test_bad_tile_overlap_raise(tile, overlap):
    with pytest.raises(RestoreLabError, match="tile"):
        restore_tiled(lambda t: t, _img(8, 8), tile=tile, overlap=overlap)


def test_bad_inputs_raise():
    with pytest.raises(RestoreLabError, match="tensor"):
        restore_tiled(lambda t: t, torch.rand(3, 8, 8))
    with pytest.raises(RestoreLabError, match=r"\(1, 3, H, W\)"):
        restore_tiled(lambda t: t, torch.rand(2, 3, 8, 8))
    with pytest.raises(RestoreLabError, match="tile batch"):
        restore_tiled(lambda t: t, _img(8, 8), tile=4, overlap=1, batch=0)
    with pytest.raises(RestoreLabError, match="model returned"):
        restore_tiled(lambda t: t[..., :-1], _img(8, 8), tile=4, overlap=1)


def _image(h=24, w=40, seed=0):
    import numpy as np

    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


@pytest.mark.parametrize("k", range(8))
def test_dihedral_transforms_invert(k):
    import numpy as np

    from restorelab.tensors import dihedral, undo_dihedral

    img = _image()
    assert np.array_equal(undo_dihedral(dihedral(img, k), k), img)


def test_self_ensemble_is_the_mean_over_its_transforms():
    import numpy as np

    from restorelab.inference import ENSEMBLES, restore
    from restorelab.tensors import dihedral, undo_dihedral

    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 3, 3, padding=1)  # not rotation-equivariant: the 8 outputs differ
    img = _image()
    steps = []
    out = restore(net, img, self_ensemble=8, progress=lambda i, n: steps.append((i, n)))
    singles = [undo_dihedral(restore(net, dihedral(img, k)), k) for k in range(8)]
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, np.mean(singles, axis=0), atol=1e-6)
    assert not np.allclose(singles[0], singles[1], atol=1e-4)
    assert steps[-1] == (8, 8)
    ident = torch.nn.Identity()
    np.testing.assert_allclose(restore(ident, img, self_ensemble=8), img, atol=1e-6)
    # 4: the flips and the half turn only, none of which turns a vertical line horizontal
    np.testing.assert_allclose(restore(net, img, self_ensemble=4),
                               np.mean([singles[k] for k in (0, 2, 4, 6)], axis=0), atol=1e-6)
    line = np.zeros((6, 6, 3), np.float32)
    line[:, 1] = 1.0  # a vertical line: a full column
    for k in range(8):
        assert (dihedral(line, k).sum(axis=(0, 2)) == 18).any() == (k in ENSEMBLES[4]), k
    for bad in (True, 2, 0):
        with pytest.raises(RestoreLabError, match="self-ensemble"):
            restore(net, img, self_ensemble=bad)


class _BlockGridNet(torch.nn.Module):
    """Adds 1 on the borders of the 8x8 blocks counted from the top-left corner, as a JPEG restorer
    acts where the blocks meet: rotating or flipping the grid changes the pattern."""

    def forward(self, x):
        i = torch.arange(x.shape[-2]) % 8
        j = torch.arange(x.shape[-1]) % 8
        border = ((i == 0) | (i == 7))[:, None] | ((j == 0) | (j == 7))[None, :]
        return x + border.to(x.dtype)


@pytest.mark.parametrize("n", [4, 8])
@pytest.mark.parametrize("h, w", [(21, 30), (17, 8), (5, 3)])
def test_self_ensemble_keeps_the_jpeg_block_grid(n, h, w):
    """Each transform runs on the image padded to a multiple of 8, so a grid-bound correction lands on
    the same pixels in every pass (unpadded, a flip of 30 columns shifts the grid by 2)."""
    import numpy as np

    from restorelab.inference import restore

    net, img = _BlockGridNet(), _image(h, w)
    out = restore(net, img, self_ensemble=n)
    assert out.shape == img.shape
    np.testing.assert_allclose(out, restore(net, img), atol=1e-6)
