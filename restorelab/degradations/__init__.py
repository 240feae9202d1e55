"""Seeded, deterministic image degradations behind a name -> function registry.

Convention: ``fn(img float32 HxWx3 in [0,1], rng: np.random.Generator, **params)``
returns float32 HxWx3 in [0,1]; a parameter left at ``None`` is sampled from ``rng`` in
its documented range; unknown parameters are errors.

>>> from restorelab import degradations as D
>>> D.names()
('gaussian_noise', 'haze', 'jpeg', 'rain')
>>> noisy = D.apply("gaussian_noise", img, seed=3, sigma=25)   # doctest: +SKIP
"""

from restorelab.degradations.registry import (
    apply,
    as_image,
    check_params,
    get,
    names,
    param_names,
    register,
)

# Importing the modules registers their functions.
from restorelab.degradations.noise import gaussian_noise  # noqa: E402
from restorelab.degradations.streaks import rain  # noqa: E402
from restorelab.degradations.scattering import haze  # noqa: E402
from restorelab.degradations.compression import jpeg  # noqa: E402

__all__ = [
    "apply", "as_image", "check_params", "get", "names", "param_names", "register",
    "gaussian_noise", "rain", "haze", "jpeg",
]
