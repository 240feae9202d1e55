"""Name -> degradation function registry.

Every registered function follows one convention::

    fn(img, rng, **params) -> degraded

* ``img``: ``np.ndarray`` float32, H x W x 3, values in [0, 1] (any H, W >= 1).
* ``rng``: a ``np.random.Generator``; it is the *only* source of randomness, so the
  output is a pure function of (img, rng state, params).
* ``params``: explicit keyword parameters with documented defaults. A parameter left at
  ``None`` is sampled from ``rng`` in its documented range. There is no ``**kwargs``:
  an unknown parameter is an error.
* returns float32, H x W x 3, in [0, 1].

``apply(name, img, seed=0, **params)`` builds the generator from ``seed`` and checks
the image and the parameter names, raising :class:`RestoreLabError` with a one-line
message on any problem.
"""

from __future__ import annotations

import inspect
from typing import Callable, Dict, Tuple

import numpy as np

from restorelab.errors import RestoreLabError

_REGISTRY: Dict[str, Callable[..., np.ndarray]] = {}


def register(name: str) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Decorator: register ``fn`` under ``name`` (a name may be registered once)."""

    def deco(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise RestoreLabError(f"degradation '{name}' is already registered")
        sig = inspect.signature(fn)
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
            raise RestoreLabError(f"degradation '{name}' must not take **kwargs")
        _REGISTRY[name] = fn
        return fn

    return deco


def names() -> Tuple[str, ...]:
    """Registered degradation names, sorted."""
    return tuple(sorted(_REGISTRY))


def get(name: str) -> Callable[..., np.ndarray]:
    """The function registered as ``name``; RestoreLabError listing valid names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RestoreLabError(
            f"unknown degradation '{name}'; valid names: {', '.join(names())}"
        ) from None


def param_names(name: str) -> Tuple[str, ...]:
    """The keyword parameters ``name`` accepts (everything after ``img, rng``)."""
    params = list(inspect.signature(get(name)).parameters)
    return tuple(params[2:])


def check_params(name: str, params: dict) -> None:
    """Raise RestoreLabError if ``params`` has a key ``name`` does not accept."""
    valid = param_names(name)
    bad = sorted(k for k in params if k not in valid)
    if bad:
        raise RestoreLabError(
            f"degradation '{name}' has no parameter(s) {', '.join(bad)}; "
            f"valid parameters: {', '.join(valid) or '(none)'}"
        )


def as_image(img: np.ndarray) -> np.ndarray:
    """Validate and convert to a contiguous float32 H x W x 3 array."""
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise RestoreLabError(f"expected an H x W x 3 image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return np.ascontiguousarray(arr, dtype=np.float32)


def apply(name: str, img: np.ndarray, seed=0, **params) -> np.ndarray:
    """Apply degradation ``name`` to ``img`` with ``np.random.default_rng(seed)``.

    ``seed`` may be an int or anything ``default_rng`` accepts (e.g. ``[seed, index]``).
    A uint8 image is converted to float in [0, 1] first.
    """
    fn = get(name)
    check_params(name, params)
    return fn(as_image(img), np.random.default_rng(seed), **params)
