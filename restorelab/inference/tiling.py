"""Tiled inference: run a restoration network on images larger than memory allows.

The image is cut into overlapping crops of at most ``tile x tile`` pixels, all the same size and
spread evenly so that no more pixels are computed twice than the overlap needs; each crop goes through
the network on its own, and the outputs are blended with a separable raised-cosine
window so seams (where a crop's zero padding spoils its border pixels) fade out
instead of showing. Peak memory is the network's activations for one tile plus
the output accumulator.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from restorelab.errors import RestoreLabError

Progress = Callable[[int, int], None]


def restore_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    img: torch.Tensor,
    tile: int = 256,
    overlap: int = 32,
    progress: Optional[Progress] = None,
    multiple: int = 1,
    batch: int = 1,
) -> torch.Tensor:
    """Apply ``fn`` tile by tile to ``img`` and blend the results.

    ``fn`` maps a float tensor ``(n, 3, h, w)`` to ``(n, 3, h, w)`` for any n, h, w.
    ``img`` is ``(1, 3, H, W)`` float (values typically in [0, 1]). Along each axis the
    tiles are as few as a side of at most ``tile`` pixels allows, all of one size (a
    multiple of ``multiple`` where the image allows: a network that pads to it wastes
    nothing), spread evenly from border to border so that neighbours share at least
    ``overlap`` pixels; an image no bigger than one tile gets a single call.
    ``batch`` tiles go to ``fn`` at once, stacked along the first axis (a runtime with
    parallel streams runs them side by side); memory grows with ``batch``, not the image.
    ``progress(done, total)`` runs after every call. Returns a tensor of ``img``'s
    shape, dtype and device. Runs under no_grad.
    """
    _validate(img, tile, overlap)
    if not isinstance(multiple, int) or multiple < 1:
        raise RestoreLabError(f"tile multiple must be a positive whole number, got {multiple!r}")
    if not isinstance(batch, int) or batch < 1:
        raise RestoreLabError(f"tile batch must be a positive whole number, got {batch!r}")
    height, width = img.shape[-2:]
    (ys, th), (xs, tw) = _axis(height, tile, overlap, multiple), _axis(width, tile, overlap, multiple)
    wy, wx = _ramp(th, overlap, img.device), _ramp(tw, overlap, img.device)
    # float64 accumulation makes the blend exact after the final cast: a pointwise
    # fn (identity included) returns bit-identical float32 values.
    acc = torch.zeros(img.shape, dtype=torch.float64, device=img.device)
    window = (wy[:, None] * wx[None, :]).to(acc.dtype)
    corners = [(y, x) for y in ys for x in xs]
    with torch.no_grad():
        for start in range(0, len(corners), batch):
            group = corners[start : start + batch]
            crops = torch.cat([img[..., y : y + th, x : x + tw] for y, x in group]).contiguous()
            outs = _checked(fn(crops), crops)
            for (y, x), out in zip(group, outs):
                acc[..., y : y + th, x : x + tw] += out.to(acc) * window
            if progress is not None:
                progress(start + len(group), len(corners))
    # The window is separable and tiles form a grid, so the per-pixel weight sum is
    # the outer product of two 1-D sums: no H x W weight buffer needed.
    acc /= _coverage(ys, wy, height, acc)[:, None] * _coverage(xs, wx, width, acc)[None, :]
    return acc.to(img.dtype)


def _validate(img: torch.Tensor, tile: int, overlap: int) -> None:
    """Refuse bad tiling parameters and inputs with a one-line message."""
    if not isinstance(img, torch.Tensor) or img.ndim != 4 or img.shape[0] != 1:
        shape = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
        raise RestoreLabError(f"restore_tiled expects a (1, 3, H, W) tensor, got {shape}")
    if img.shape[-1] == 0 or img.shape[-2] == 0:
        raise RestoreLabError(f"cannot restore an empty image of shape {tuple(img.shape)}")
    if not img.is_floating_point():
        raise RestoreLabError(f"restore_tiled expects a float tensor, got {img.dtype}")
    whole = all(isinstance(v, int) and not isinstance(v, bool) for v in (tile, overlap))
    if not (whole and tile > overlap >= 0):
        raise RestoreLabError(
            f"tiling needs whole numbers with tile > overlap >= 0, got tile={tile}, overlap={overlap}"
        )


def _checked(out: object, crop: torch.Tensor) -> torch.Tensor:
    """Make sure ``fn`` kept the tile's shape; blending a mis-sized tile would misplace pixels."""
    if not isinstance(out, torch.Tensor) or out.shape != crop.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise RestoreLabError(f"model returned {got} for a tile of shape {tuple(crop.shape)}")
    return out


def _axis(length: int, tile: int, overlap: int, multiple: int = 1) -> tuple[list[int], int]:
    """(tile start offsets, tile side) along one axis: the fewest tiles of side <= ``tile`` that
    overlap by >= ``overlap``, the first at 0 and the last ending at the border, evenly spaced.
    (Full ``tile``-sized tiles with the last one pushed back to the border computed up to a third
    more pixels on a 12 MP photo.)"""
    if length <= tile:
        return [0], length
    n = -(-(length - overlap) // (tile - overlap))  # n tiles of side s cover length iff n s - (n-1) overlap >= length
    side = -(-(length + (n - 1) * overlap) // n)
    rounded = -(-side // multiple) * multiple
    side = rounded if rounded <= min(tile, length) else side
    # consecutive starts differ by at most ceil((length - side) / (n - 1)) <= side - overlap
    return [round(i * (length - side) / (n - 1)) for i in range(n)], side


def _ramp(size: int, overlap: int, device: torch.device) -> torch.Tensor:
    """1-D blend weights: a raised-cosine rise over ``overlap`` pixels at each end, 1 in between.

    Where two tiles overlap by exactly ``overlap`` pixels their weights sum to 1
    (sin^2 + cos^2), and a tile's outermost pixels, the ones spoilt by its own
    padding, get the least say. The smallest weight, sin^2(pi / (2 (overlap+1))),
    is never 0, so pixels covered by a single tile (image borders) stay defined.
    """
    idx = torch.arange(size, dtype=torch.float64, device=device)
    linear = (torch.minimum(idx + 1, size - idx) / (overlap + 1)).clamp(max=1.0)
    return torch.sin(linear * (torch.pi / 2)) ** 2


def _coverage(starts: list[int], ramp: torch.Tensor, length: int, like: torch.Tensor) -> torch.Tensor:
    """Sum of the 1-D ramps of all tiles covering each position of one axis."""
    total = torch.zeros(length, dtype=like.dtype, device=like.device)
    for s in starts:
        total[s : s + ramp.numel()] += ramp.to(total)
    return total
