"""Seeded, deterministic image degradations behind a name -> function registry.

Convention: ``fn(img float32 HxWx3 in [0,1], rng: np.random.Generator, **params)``
returns float32 HxWx3 in [0,1]; a parameter left at ``None`` is sampled from ``rng`` in
its documented range; unknown parameters are errors.

>>> from restorelab import degradations as D
>>> D.names()  # doctest: +NORMALIZE_WHITESPACE
('camera_noise', 'color_noise', 'defocus_blur', 'downpour', 'gaussian_blur', 'gaussian_noise', 'haze',
 'heavy_rain', 'inpainting', 'jpeg', 'mild', 'motion_blur', 'noise_jpeg', 'poisson_noise', 'rain', 'richardson_lucy',
 'ringing', 'salt_pepper', 'sr', 'web_jpeg')
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

# Importing the modules registers their functions. Every degradation module is imported here, so
# the registry is the same whatever else was imported (nothing registers from outside this package).
from restorelab.degradations.noise import color_noise, gaussian_noise  # noqa: E402
from restorelab.degradations.streaks import downpour, heavy_rain, rain  # noqa: E402
from restorelab.degradations.scattering import haze  # noqa: E402
from restorelab.degradations.compression import jpeg, web_jpeg  # noqa: E402
from restorelab.degradations.camera import camera_noise  # noqa: E402
from restorelab.degradations.mixes import mild, noise_jpeg  # noqa: E402
from restorelab.degradations.grids import (  # noqa: E402  (the nine extra GRIDS degradations)
    defocus_blur,
    gaussian_blur,
    inpainting,
    motion_blur,
    poisson_noise,
    richardson_lucy,
    ringing,
    salt_pepper,
    sr,
)

__all__ = [
    "apply", "as_image", "check_params", "get", "names", "param_names", "register",
    "gaussian_noise", "rain", "haze", "jpeg",
    "camera_noise", "color_noise", "downpour", "heavy_rain", "mild", "noise_jpeg", "web_jpeg",
    "defocus_blur", "gaussian_blur", "inpainting", "motion_blur", "poisson_noise", "richardson_lucy",
    "ringing", "salt_pepper", "sr",
]
