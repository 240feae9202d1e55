"""The degradation descriptor: weights, training and loading of the SRResNet in ``restorelab.models.srresnet``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restorelab.errors import RestoreLabError
from restorelab.io import atomic_write
from restorelab.tensors import dihedral
from restorelab.models.srresnet import FAMILY, LAYERS, SRResNet, SRResNetConfig  # noqa: F401 (re-exported)
from restorelab.training.config import PhotoTraining, option
from restorelab.training.core import Step, fit
from restorelab.training.split import l1_loss


def default_descriptor_path() -> Path:
    """``weights/grids/descriptor.safetensors`` (a sub-folder: not listed as a restorer)."""
    from restorelab.paths import default_weights_dir

    return default_weights_dir() / "grids" / "descriptor.safetensors"


# -- weights ----------------------------------------------------------------------------
def save_descriptor(model: SRResNet, path: str | Path, extra_meta: dict | None = None) -> None:
    """safetensors with metadata ``{"family": "srresnet", "config": json}`` (``save_weights``)."""
    from restorelab.inference.weights import save_weights

    save_weights(model, path, extra_meta)


def load_descriptor(path: str | Path) -> SRResNet:
    """Rebuild an SRResNet from a file written by :func:`save_descriptor` (eval mode)."""
    from restorelab.inference.weights import load_weights, read_metadata

    family = read_metadata(path).get("family")
    if family != FAMILY:
        raise RestoreLabError(f"{path}: not an SRResNet descriptor (family {family!r})")
    return load_weights(path)


# -- training ---------------------------------------------------------------------------
@dataclass
class DescriptorTrainConfig(PhotoTraining):
    """x4 bicubic SR on clean photos (the last ``val_count`` sorted photos are held out)."""

    nf: int = option(32, "feature channels of the SRResNet")
    n_blocks: int = option(6, "residual blocks of the SRResNet")
    hr_patch: int = option(64, "HR crop side (a multiple of 4); the LR input is hr_patch / 4")
    batch_size: int = option(16, "crops per step")
    steps: int = option(5000, "optimizer steps in all")

    label = "descriptor training config"

    def __post_init__(self):
        super().__post_init__()
        if self.hr_patch % 4 or self.hr_patch < 8:
            raise RestoreLabError("hr_patch must be a multiple of 4, at least 8")


def bicubic_down(hr: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """Anti-aliased bicubic down-sampling (as PIL / MATLAB imresize), values clipped to [0, 1]."""
    h, w = hr.shape[-2:]
    return F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


class _HRPatches:
    """HR crop ``i`` is a pure function of (seed, i): random photo, crop, dihedral transform."""

    def __init__(self, files, patch: int, seed: int):
        from restorelab.data._imread import read_uint8

        self.images = [read_uint8(f) for f in files]
        self.patch, self.seed = patch, seed
        small = [f for f, im in zip(files, self.images) if min(im.shape[:2]) < patch]
        if small:
            raise RestoreLabError(f"{len(small)} photo(s) smaller than hr_patch={patch}, e.g. {small[0]}")

    def batch(self, start: int, n: int) -> torch.Tensor:
        out = []
        for i in range(start, start + n):
            rng = np.random.default_rng([self.seed, i])
            img = self.images[int(rng.integers(len(self.images)))]
            p, (h, w) = self.patch, img.shape[:2]
            y, x = int(rng.integers(h - p + 1)), int(rng.integers(w - p + 1))
            k = int(rng.integers(8))
            c = img[y:y + p, x:x + p]
            c = dihedral(c, k)
            out.append(np.ascontiguousarray(c.transpose(2, 0, 1)))
        return torch.from_numpy(np.stack(out).astype(np.float32) / 255.0)


def _val_psnr(model: SRResNet, crops: list[torch.Tensor]) -> dict:
    """Mean PSNR (RGB, 4-px border shaved) of the model and of bilinear up-sampling."""
    ps, pb = [], []
    with torch.inference_mode():
        for hr in crops:
            lr = bicubic_down(hr)
            for out, acc in ((model(lr).clamp(0, 1), ps),
                             (F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1), pb)):
                mse = ((out - hr)[..., 4:-4, 4:-4] ** 2).mean().item()
                acc.append(10 * math.log10(1.0 / max(mse, 1e-12)))
    return {"psnr": float(np.mean(ps)), "bicubic_psnr": float(np.mean(pb))}


def train_descriptor(cfg: DescriptorTrainConfig, run_dir: str | Path, out: str | Path | None = None,
                     stop_after: int | None = None, log=print) -> dict:
    """Train (or resume) the descriptor in ``run_dir``; at the end write ``out`` (+ a JSON card).

    Resumable: ``run_dir/checkpoint.pt`` holds model, optimizer, scheduler and step; every batch
    is a pure function of (seed, step). Returns ``{"step", "val": {...}, "steps_per_s"}``.
    """
    from restorelab.io import load_image

    torch.set_num_threads(cfg.threads or max(1, os.cpu_count() or 1))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.json"
    if cfg_path.exists() and json.loads(cfg_path.read_text()) != asdict(cfg):
        raise RestoreLabError(f"{run_dir} holds a descriptor run with another config; use a new run directory")
    cfg_path.write_text(json.dumps(asdict(cfg), indent=2))
    train_files, val_files = cfg.split_photos()
    data = _HRPatches(train_files, cfg.hr_patch, cfg.seed)
    val = []
    for f in val_files:
        im = load_image(f)
        h, w = (im.shape[0] // 4) * 4, (im.shape[1] // 4) * 4
        val.append(torch.from_numpy(np.ascontiguousarray(im[:min(h, 128), :min(w, 128)].transpose(2, 0, 1)))[None])
    torch.manual_seed(cfg.seed)
    model = SRResNet(SRResNetConfig(nf=cfg.nf, n_blocks=cfg.n_blocks))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps, eta_min=cfg.lr * cfg.min_lr_ratio)
    step, ckpt = 0, run_dir / "checkpoint.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
    end = cfg.steps if stop_after is None else min(cfg.steps, step + stop_after)
    t0, first, res = time.time(), step, {}

    def batch(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        hr = data.batch(i * cfg.batch_size, cfg.batch_size)
        return bicubic_down(hr), hr

    def after(done: int, loss: torch.Tensor) -> None:
        nonlocal res
        if done % cfg.ckpt_every == 0 or done == end:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": done}
            atomic_write(ckpt, lambda tmp: torch.save(state, tmp))
        if done % cfg.val_every == 0 or done == cfg.steps:
            model.eval()
            res = _val_psnr(model, val)
            model.train()
            rec = {"step": done, "loss": float(loss.item()), **res,
                   "steps_per_s": (done - first) / max(time.time() - t0, 1e-9)}
            with open(run_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            log(json.dumps(rec))

    model.train()
    step = fit(Step(model, opt, l1_loss, sched=sched), batch, end, start=step, callbacks=[after])
    speed = (step - first) / max(time.time() - t0, 1e-9)
    if step >= cfg.steps and out is not None:
        model.eval()
        save_descriptor(model, out, {"steps": step, "train_config": json.dumps(asdict(cfg))})
        n_params = sum(p.numel() for p in model.parameters())
        card = {"name": Path(out).stem, "kind": "grids-descriptor", "family": FAMILY,
                "config": model.config.to_dict(), "params": n_params, "train_config": asdict(cfg), "steps": step,
                "val": res or _val_psnr(model, val), "task": "x4 bicubic SR on clean photos (L1)"}
        Path(out).with_suffix(".json").write_text(json.dumps(card, indent=2))
    return {"step": step, "val": res, "steps_per_s": speed}

