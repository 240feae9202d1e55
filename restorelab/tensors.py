"""Small torch helpers every package shares: image <-> tensor, and a scoped torch thread count.

>>> x = to_tensor(np.zeros((5, 7, 3), np.float32))
>>> x.shape, to_image(x).shape
(torch.Size([1, 3, 5, 7]), (5, 7, 3))
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

import numpy as np
import torch

from restorelab.errors import RestoreLabError

T = TypeVar("T")


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """float ``(H, W, 3)`` in [0, 1] -> ``(1, 3, H, W)`` float32 (contiguous NCHW)."""
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise RestoreLabError(f"expected an H x W x 3 image, got shape {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]


def to_image(x: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` -> float32 ``(H, W, 3)``, clamped to [0, 1] (a copy)."""
    return x.detach()[0].clamp(0, 1).permute(1, 2, 0).numpy().astype(np.float32, copy=True)


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (n > 0; 0 leaves the count as is), restoring
    the previous count afterwards. Never hold it across a ``yield``: other requests share the process."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def with_threads(items: Iterable[T], n: int) -> Iterator[T]:
    """Yield from ``items``, computing each with ``n`` torch threads; between items (while the
    consumer holds one) the process-wide count is the caller's again."""
    it = iter(items)
    while True:
        with threads(n):
            try:
                item = next(it)
            except StopIteration:
                return
        yield item
