"""Hugging Face ZeroGPU: a GPU lent to one handler call at a time.

On a ZeroGPU Space the ``spaces`` package is installed and a handler gets a GPU only while a
function decorated with ``spaces.GPU`` runs (``duration``: the most seconds one call may hold it;
shorter calls queue ahead of longer ones). Everywhere else ``gpu_task`` leaves the handler as it
is. The handlers it wraps run their networks on ``tensors.resolve_device("auto")`` (see
``ui.pipeline``), so the same code restores on the GPU there and on the CPU here.

No torch import here: building the app must stay light (a test checks it).
"""

from __future__ import annotations

from typing import Callable, TypeVar, overload

F = TypeVar("F", bound=Callable)


@overload
def gpu_task(fn: F, *, duration: int = 60) -> F: ...


@overload
def gpu_task(fn: None = None, *, duration: int = 60) -> Callable[[F], F]: ...


def gpu_task(fn=None, *, duration: int = 60):
    """``spaces.GPU(duration=duration)(fn)`` when the ``spaces`` package is installed, else ``fn``
    itself; as ``@gpu_task`` or ``@gpu_task(duration=120)``. Plain functions and generators alike."""
    if fn is None:
        return lambda f: gpu_task(f, duration=duration)
    try:
        import spaces
    except ImportError:  # not on a ZeroGPU Space
        return fn
    return spaces.GPU(duration=duration)(fn)


__all__ = ["gpu_task"]
