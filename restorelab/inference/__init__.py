"""Running restorers on images: the fast CPU path, tiling for big images, loading weights.

A model runs on the device its weights are on (``load_model(..., device=...)``); images go in and
come out as CPU arrays, and a tiled image's accumulator stays on the CPU (memory stays bounded).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.inference.classical import CLASSICAL, ClassicalRestorer, is_classical
from restorelab.inference.compact import is_compact
from restorelab.inference.tiling import restore_tiled
from restorelab.tensors import dihedral, model_device, resolve_device, to_image, to_tensor, undo_dihedral
from restorelab.inference.weights import (
    WEIGHTS_DIR,
    load_weights,
    read_card,
    read_metadata,
    resolve,
    save_weights,
    shipped_names,
)

# Above this many pixels the image is restored in tiles, so memory stays bounded.
TILE_THRESHOLD = 768 * 768
#: Largest tile side of a big photo (tiles are then sized to cover it evenly, ``tiling``): on 2 cores
#: 512 beat 256 by 12% on a 12 MP photo (fewer pixels computed twice; benchmarks/bench_backends.py --big)
DEFAULT_TILE = 512


def prepare(model: nn.Module) -> nn.Module:
    """Eval mode, channels_last (faster convs on CPU; see benchmarks)."""
    return model.eval().to(memory_format=torch.channels_last)


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return to_tensor(img).contiguous(memory_format=torch.channels_last)


def run_model(model: nn.Module, img: np.ndarray) -> np.ndarray:
    """HxWx3 float [0,1] → HxWx3 float [0,1], whole image in one pass on the model's device."""
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        out = model(_to_tensor(img).to(model_device(model)))
    model.train(was_training)
    return to_image(out)


JPEG_BLOCK = 8  # side of a JPEG's DCT blocks, whose grid starts at the top-left corner
ENSEMBLES = {1: (0,), 4: (0, 2, 4, 6), 8: tuple(range(8))}  # transforms (see tensors.dihedral) per size


def restore(model: nn.Module, img: np.ndarray, tile: int = DEFAULT_TILE, overlap: int = 32,
            threshold: int = TILE_THRESHOLD, progress: Callable[[int, int], None] | None = None,
            self_ensemble: int = 1) -> np.ndarray:
    """Restore an image of any size; above ``threshold`` pixels it goes in overlapping tiles.

    ``self_ensemble``: 8 = the mean of the outputs for the 8 flips/rotations of the image, each
    transformed back (EDSR's "+" results); 4 = only the flips and the half turn, which keep
    vertical lines vertical; 1 = off. N times the time. 8 helps denoising most but hurts tasks
    whose training data has an orientation (our rain streaks are near-vertical; see docs/mirl.md); 4 helps
    every task we score. The transforms act on the image padded to a multiple of 8 (reflected), so
    that each keeps a JPEG's block grid where the network saw it in training.
    """
    if isinstance(self_ensemble, bool) or self_ensemble not in ENSEMBLES:
        raise RestoreLabError(f"self-ensemble size must be one of {', '.join(map(str, ENSEMBLES))}, "
                              f"not {self_ensemble!r}")
    if isinstance(model, ClassicalRestorer):
        if self_ensemble != 1:
            raise RestoreLabError(f"self-ensemble applies to our networks, not to {model.method.name}")
        if model.sigma is None:  # the noise level of the whole photo, then tiles like a network
            with model.fixed_sigma(img):
                return restore(model, img, tile, overlap, threshold, progress)
    ks = ENSEMBLES[self_ensemble]
    if len(ks) > 1:
        # A flip of a side that is not a multiple of 8 would move a JPEG's 8x8 block grid: pad first
        h, w = img.shape[:2]
        padded = np.pad(img, ((0, -h % JPEG_BLOCK), (0, -w % JPEG_BLOCK), (0, 0)), mode="reflect")
        outs = []
        for i, k in enumerate(ks):
            outs.append(undo_dihedral(restore(model, np.ascontiguousarray(dihedral(padded, k)), tile, overlap, threshold), k))
            if progress:
                progress(i + 1, len(ks))
        return np.mean(outs, axis=0, dtype=np.float32)[:h, :w]
    h, w = img.shape[:2]
    if h * w <= threshold:
        out = run_model(model, img)
        if progress:
            progress(1, 1)
        return out
    model.eval()
    device = model_device(model)
    # CPU tiles and accumulator; on a GPU only one tile at a time is there
    fn = model if device.type == "cpu" else (lambda crop: model(crop.to(device)).to(crop.device))
    with torch.inference_mode():
        out = restore_tiled(fn, _to_tensor(img), tile=tile, overlap=overlap, progress=progress, multiple=8,
                            batch=getattr(model, "tile_batch", 1))
    return to_image(out)


PREVIEW_SIDE = 512  # long side of the quick look at a big photo (~1 s for promptir-cpu on 2 cores)


def preview(model: nn.Module, img: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    """A quick look at what ``model`` makes of a big photo: the model on a copy whose long side is
    ``side`` (area-averaged, so a few seconds become one), resized back to the photo's size (bicubic).
    Only a preview: downscaling also averages noise and compression blocks away."""
    import cv2

    h, w = img.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return restore(model, img)
    small = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    out = cv2.resize(restore(model, small), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0)


def load_model(name_or_path: str, shrink_pruned: bool = True, device: str = "cpu") -> nn.Module:
    """A shipped model name (``weights/NAME.safetensors``, or the Hub if configured), a path, or
    a classical method (``nlm``, ``bm3d``: see ``inference.classical``; they run on the CPU
    whatever ``device`` says)."""
    if is_classical(name_or_path):
        return ClassicalRestorer(name_or_path)
    return load_for_inference(resolve(name_or_path), shrink_pruned, device)


def load_for_inference(path, shrink_pruned: bool = True, device: str = "cpu") -> nn.Module:
    """The model in a weights file, ready to run on ``device`` (see ``tensors.resolve_device``). A
    pruned (compact) model loses the structure its pruning made dead (``shrink_pruned``): same
    outputs (to 1e-4), less work per image."""
    target = resolve_device(device)  # a bad device fails before the file is read
    model = load_weights(path)
    if shrink_pruned and is_compact(read_metadata(path)):
        from restorelab.inference.shrink import shrink

        model, _ = shrink(model)
    return prepare(model).to(target)


__all__ = ["CLASSICAL", "ClassicalRestorer", "is_classical", "TILE_THRESHOLD", "WEIGHTS_DIR", "load_for_inference", "load_model", "load_weights", "prepare", "read_card",
           "resolve", "restore", "restore_tiled", "run_model", "save_weights", "shipped_names"]
