"""Tiny GRIDS artefacts for tests: synthetic photos, a 1-block descriptor and its similarity cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from restorelab.grids import similarity
from restorelab.grids.descriptor import DescriptorConfig
from restorelab.grids.srresnet import SRResNet, SRResNetConfig, save_descriptor

CFG = DescriptorConfig(patch_size=8, n_patches=24, n_components=16, batch_size=24)


def photo(seed: int, h: int = 40, w: int = 48, vary_rows: bool = False) -> np.ndarray:
    """A smooth textured photo; ``vary_rows``: its vertical frequency changes with the seed too."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.5 + 0.25 * np.sin(x / (3 + seed))[..., None] * np.cos(y / (4.0 + (seed % 3 if vary_rows else 0)))[..., None]
    return np.clip(img + 0.03 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def tiny_grids(root: Path, n_photos: int, limit: int | None = None, vary_rows: bool = False) -> Path:
    """``root/photos`` (n PNGs) and ``root/weights/grids`` (descriptor + similarity.json); returns root."""
    from PIL import Image

    photos = root / "photos"
    photos.mkdir()
    for i in range(n_photos):
        Image.fromarray((photo(i, vary_rows=vary_rows) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    grids = root / "weights" / "grids"
    grids.mkdir(parents=True)
    torch.manual_seed(0)
    save_descriptor(SRResNet(SRResNetConfig(nf=4, n_blocks=1)), grids / "descriptor.safetensors")
    kw = {"limit": limit} if limit is not None else {}
    similarity.compute(grids / "descriptor.safetensors", photos, grids / "similarity.json", CFG, **kw)
    return root
