"""Image(s) -> patches -> descriptor features -> PCA -> pooled scores -> GGD (SRGA's pipeline).

SRGA: flatten each patch's feature map, PCA (fit on this set alone), pool all scores, cut at
5 sigma, moment-match one GGD. The PCA here is exact (eigen-decomposition of the N x N Gram
matrix), so results are deterministic (SRGA's sklearn randomized SVD is not). The same
``n_patches`` and ``n_components`` must be used for every set that is compared: the GGD
summarises the top-k eigen-spectrum, which depends on both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch

from restorelab.errors import RestoreLabError
from restorelab.grids import ggd as G
from restorelab.grids.srresnet import LAYERS, SRResNet
from restorelab.tensors import dihedral
from restorelab.training.config import option


@dataclass(frozen=True)
class DescriptorConfig:
    """How a set of images becomes one GGD. SRGA used 800 patches of 32 px and 300 components."""

    layer: str = option("hr", "descriptor features: hr (SRGA's deepest features) | rb (DDR's last residual block)")
    patch_size: int = option(16, "input patch side in pixels (the network up-samples it x4 for hr)")
    n_patches: int = option(128, "patches sampled per image set")
    n_components: int = option(96, "PCA components of the features the GGD is fitted on")
    outlier_sigma: float = option(G.OUTLIER_SIGMA, "PCA scores beyond mean ± this many standard deviations "
                                                   "are dropped before the GGD fit")
    augment: bool = option(True, "random flip/rotation of every patch (self-augmentation)")
    batch_size: int = option(64, "patches per forward pass")

    def __post_init__(self):
        if self.layer not in LAYERS:
            raise RestoreLabError(f"unknown feature layer {self.layer!r}; valid: {', '.join(LAYERS)}")
        if not 1 <= self.n_components < self.n_patches:
            raise RestoreLabError("need 1 <= n_components < n_patches")
        if self.patch_size < 4 or self.batch_size < 1:
            raise RestoreLabError("patch_size must be >= 4 and batch_size >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


def sample_patches(images: Sequence[np.ndarray], n: int, size: int, rng: np.random.Generator,
                   augment: bool = True) -> np.ndarray:
    """(n, 3, size, size) float32: patch j from image ``j % len(images)``, a uniform random crop,
    then (if ``augment``) a random flip/rotation. Images smaller than ``size`` are mirror-padded."""
    if not images:
        raise RestoreLabError("no images to sample patches from")
    out = np.empty((n, 3, size, size), np.float32)
    for j in range(n):
        img = images[j % len(images)]
        h, w = img.shape[:2]
        if h < size or w < size:
            img = np.pad(img, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), mode="symmetric")
            h, w = img.shape[:2]
        y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        c = img[y:y + size, x:x + size]
        if augment:
            k = int(rng.integers(8))
            c = dihedral(c, k)
        out[j] = c.transpose(2, 0, 1)
    return out


def extract(model: SRResNet, patches: np.ndarray, layer: str = "hr", batch_size: int = 64) -> np.ndarray:
    """(N, D) float32 flattened features of (N, 3, P, P) patches."""
    return extract_layers(model, patches, (layer,), batch_size)[layer].reshape(len(patches), -1)


def extract_layers(model: SRResNet, patches: np.ndarray, layers: Sequence[str] = ("hr",),
                   batch_size: int = 64) -> dict:
    """layer -> (N, C, H, W) float32 features of (N, 3, P, P) patches, every layer from one forward pass
    (``hr`` is computed from ``rb``, see :meth:`SRResNet.features`)."""
    for layer in layers:
        if layer not in LAYERS:
            raise RestoreLabError(f"unknown feature layer {layer!r}; valid: {', '.join(LAYERS)}")
    feats = {k: [] for k in layers}
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(patches), batch_size):
            rb = model.features(torch.from_numpy(patches[i:i + batch_size]), "rb")
            if "rb" in feats:
                feats["rb"].append(rb.numpy())
            if "hr" in feats:
                feats["hr"].append(model._hr(rb).numpy())
    return {k: np.concatenate(v) for k, v in feats.items()}


def pca_scores(x: np.ndarray, k: int) -> np.ndarray:
    """(N, k) principal-component scores of the rows of ``x`` (centred; exact, via the Gram matrix)."""
    x = np.asarray(x, np.float32)
    x = x - x.mean(axis=0, keepdims=True)
    gram = (x @ x.T).astype(np.float64)  # float32 product (fast), float64 eigen-solve
    vals, vecs = np.linalg.eigh(gram)  # ascending
    vals, vecs = vals[::-1][:k], vecs[:, ::-1][:, :k]
    return vecs * np.sqrt(np.clip(vals, 0.0, None))[None, :]


def ggd_of_patches(model: SRResNet, patches: np.ndarray, cfg: DescriptorConfig) -> G.GGD:
    """Features -> PCA(n_components) -> pooled scores -> 5-sigma cut -> GGD."""
    if len(patches) != cfg.n_patches:
        raise RestoreLabError(f"expected {cfg.n_patches} patches, got {len(patches)}")
    scores = pca_scores(extract(model, patches, cfg.layer, cfg.batch_size), cfg.n_components)
    return G.fit(G.remove_outliers(scores, cfg.outlier_sigma))


def ggd_of_images(model: SRResNet, images: Sequence[np.ndarray], cfg: DescriptorConfig, seed=0) -> G.GGD:
    """One GGD for a set of (degraded) images, or for one image by self-augmentation."""
    rng = np.random.default_rng(seed)
    return ggd_of_patches(model, sample_patches(list(images), cfg.n_patches, cfg.patch_size, rng, cfg.augment), cfg)
