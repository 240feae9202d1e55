"""Small helpers every package shares: image <-> tensor, the 8 flips/rotations of an image, a scoped
torch thread count, and
the device a command or a model runs on (the one place ``--device`` names are understood).

>>> x = to_tensor(np.zeros((5, 7, 3), np.float32))
>>> x.shape, to_image(x).shape
(torch.Size([1, 3, 5, 7]), (5, 7, 3))
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from itertools import chain
from typing import Iterable, Iterator, TypeVar

import numpy as np
import torch
from torch import nn

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
    return x.detach()[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32, copy=True)


#: What ``--device`` accepts: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda``, ``cuda:N``.
DEVICE_NAMES = "auto, cpu, cuda, cuda:N"
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """Transform ``k`` of the 8 flips/rotations of an H×W(×C) image: a horizontal flip if ``k & 4``,
    then ``k & 3`` quarter turns (a view; copy it where a contiguous array is needed)."""
    return np.rot90(img[:, ::-1] if k & 4 else img, k & 3)


def undo_dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """The inverse of ``dihedral(·, k)``."""
    out = np.rot90(img, -(k & 3))
    return out[:, ::-1] if k & 4 else out


def check_device_name(name: str) -> str:
    """``name`` if it is a device name ``resolve_device`` understands (no CUDA needed to check it)."""
    if not isinstance(name, str) or not _DEVICE.fullmatch(name):
        raise RestoreLabError(f"unknown device {name!r}; valid: {DEVICE_NAMES}")
    return name


def resolve_device(name: str = "auto") -> torch.device:
    """The ``torch.device`` for a device name: ``auto`` -> the current CUDA device when
    ``torch.cuda.is_available()``, else the CPU. A CUDA name on a machine without CUDA, or an index
    past the last GPU, is a ``RestoreLabError`` (never a silent fallback to the CPU)."""
    check_device_name(name)
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RestoreLabError(f"device {name!r}: CUDA is not available here (torch {torch.__version__}); "
                              "use --device cpu or auto")
    count = torch.cuda.device_count()
    index = int(name.split(":")[1]) if ":" in name else torch.cuda.current_device()
    if index >= count:
        raise RestoreLabError(f"device {name!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return torch.device("cuda", index)


def model_device(model: nn.Module) -> torch.device:
    """Where ``model`` runs: the device of its first parameter or buffer; the CPU when it has none
    (classical restorers, exported backends: they take CPU tensors)."""
    for t in chain(model.parameters(), model.buffers()):
        return t.device
    return torch.device("cpu")


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (n > 0; 0 leaves the count as is), restoring
    the previous count afterwards. Never hold it across a ``yield``: other requests share the process."""
    global _base, _depth
    before = torch.get_num_threads()
    with _threads_lock:
        if _depth == 0:
            _base = before
        _depth += 1
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        with _threads_lock:
            _depth -= 1


_threads_lock, _base, _depth = threading.Lock(), 0, 0


def base_threads() -> int:
    """The process's torch thread count outside any :func:`threads` block: what an object that
    outlives the block (an inference runtime's session) should be built with, even when it is built
    while another request's block (the app's lottery demo, one thread) holds the count."""
    with _threads_lock:
        return _base if _depth else torch.get_num_threads()


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
