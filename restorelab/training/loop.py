"""Iteration-based training: L1 loss, Adam(W), linear warm-up + cosine, exact resume, DDP.

A run directory holds:
  config.json          the TrainConfig
  theta0.safetensors   the weights before the first step (what lottery rewinding needs)
  checkpoint.pt        model + optimizer + scheduler + step, written atomically
  log.jsonl            one line per log interval (loss, lr, speed) and per validation
  final.safetensors    the trained weights (with their model config in the metadata)

Resuming is exact because every training sample is a pure function of (seed, index) and the
loop keeps no other randomness: a killed run restarted on the same directory ends with the
same weights as an uninterrupted one.
(With the same execution settings: ``batch_threads``, ``threads``, ``compile`` or ``device`` change how
sums are rounded, ``precision`` how finely activations and gradients are, so a resume with others
computes the same maths but not the same bits; log.jsonl records each such change.)

On CUDA (``device``) the weights are initialised on the CPU (the same θ0 as a CPU run), then the
model, masks and batches live on the GPU; checkpoints load onto whichever device resumes them.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.inference.weights import load_state, load_weights, resolve, save_weights
from restorelab.io import atomic_write
from restorelab.models import create_model
from restorelab.pruning import Masks, apply_masks
from restorelab.tensors import resolve_device
from restorelab.training.config import EXECUTION_FIELDS, TrainConfig
from restorelab.training.core import Step, fit
from restorelab.training.precision import native_bf16


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup_distributed() -> tuple[int, int]:
    """Join the process group torchrun describes (gloo on CPU, nccl on GPU); no-op alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return _dist_info()


def teardown_distributed(wait: bool = True) -> None:
    """Leave the process group explicitly (left to interpreter shutdown, Gloo's threads can outlive
    Python and abort the rank); ``wait`` first for every rank (not after a failure: they may be gone)."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def train_device(name: str, world: int) -> torch.device:
    """``TrainConfig.device`` resolved; under torchrun with CUDA each process takes the GPU of its
    ``LOCAL_RANK`` (one GPU per process, as nccl wants), made the current device."""
    device = resolve_device(name)
    if device.type == "cuda":
        if world > 1:
            device = resolve_device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}")
        torch.cuda.set_device(device)
    return device


def make_optimizer(model: nn.Module, cfg: TrainConfig, opt_state: dict | None = None):
    """Adam(W) + linear warm-up + cosine, per iteration; ``opt_state`` restores the moments."""
    params = [p for p in model.parameters() if p.requires_grad]
    # fused: one kernel for all parameters (the default on CPU loops over them in Python)
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    else:
        opt = torch.optim.Adam(params, lr=cfg.lr, fused=True)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
        for g in opt.param_groups:  # the schedulers below start from the base lr
            g["lr"] = cfg.lr
            g.pop("initial_lr", None)
    warm = max(1, min(cfg.warmup_steps, cfg.steps - 1))
    sched = torch.optim.lr_scheduler.SequentialLR(
        opt,
        [torch.optim.lr_scheduler.LinearLR(opt, start_factor=1e-3, end_factor=1.0, total_iters=warm),
         torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.steps - warm),
                                                    eta_min=cfg.lr * cfg.min_lr_ratio)],
        milestones=[warm],
    )
    return opt, sched


def _atomic_torch_save(obj, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


class Trainer:
    """Trains ``cfg.model`` in ``run_dir``; ``masks`` keep pruned weights at zero throughout."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, masks: Masks | None = None,
                 init_state: dict[str, torch.Tensor] | None = None, progress: bool = True,
                 dataset=None, val_set=None):
        self.cfg, self.run_dir, self.masks = cfg, Path(run_dir), masks
        self.rank, self.world = _dist_info()
        self.progress = progress and self.rank == 0
        self.device = train_device(cfg.device, self.world)
        threads = cfg.threads or max(1, (os.cpu_count() or 1) // self.world)
        torch.set_num_threads(threads)
        # automatic: one part per thread when alone (torchrun's ranks already split the batch; and
        # compiled graphs are not run from several threads). A GPU runs the whole batch as one graph.
        parts = cfg.batch_threads or (threads if self.world == 1 and not cfg.compile else 1)
        if self.device.type == "cuda":
            parts = 1
        if parts > 1 and self.world > 1:
            raise RestoreLabError("--batch-threads > 1 does not combine with torchrun's processes (their "
                                  "all-reduce needs one backward per process); leave it at 0 or 1")
        self.parts = min(parts, cfg.batch_size)
        torch.manual_seed(cfg.seed)  # same θ0 on every rank and on every resume
        self.model = create_model(cfg.model)
        if init_state is None and cfg.init:
            init_state = load_init_weights(cfg.init)
        if init_state is not None:
            load_into(self.model, init_state)
        apply_masks(self.model, masks)
        # on the device before the optimizer is built: its state lives beside the parameters
        self.model = self.model.to(self.device)
        if masks:
            self.masks = {n: m.to(self.device) for n, m in masks.items()}
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt, self.sched = make_optimizer(self.model, cfg)
        if cfg.precision == "bf16" and self.device.type == "cpu" and not native_bf16() and self.rank == 0:
            warnings.warn("--precision bf16 on a CPU without native bfloat16 (no AVX-512 BF16 / AMX): oneDNN "
                          "emulates it, measured ~11x SLOWER than fp32 on an AVX2 CPU; use --precision fp32")
        self.step = 0
        self.dataset = dataset
        self.val_set = val_set
        self.teacher = None
        if cfg.teacher:
            self.teacher = load_teacher(cfg.teacher).to(self.device)
            if cfg.channels_last:
                self.teacher = self.teacher.to(memory_format=torch.channels_last)

    # -- data ---------------------------------------------------------------------------
    def _data(self):
        if self.dataset is None:
            from restorelab.data import SyntheticPairs

            files = self.cfg.split_photos()[0]
            self.dataset = SyntheticPairs(self.cfg.data_dir, tasks=self.cfg.task_list,
                                          patch_size=self.cfg.patch_size, seed=self.cfg.seed, files=files,
                                          photo_augment=self.cfg.photo_augment)
        return self.dataset

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch of this rank at ``step``: indices are disjoint across ranks, fixed by step."""
        b = self.cfg.batch_size
        start = (step * self.world + self.rank) * b
        items = [self._data()[i] for i in range(start, start + b)]
        x = torch.stack([it[0] for it in items])
        y = torch.stack([it[1] for it in items])
        if self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
            y = y.contiguous(memory_format=torch.channels_last)
        x, y = x.to(self.device), y.to(self.device)
        if self.teacher is not None:  # a deterministic function of x: resumes stay exact
            # the teacher runs in the student's precision (bf16: fast, and within 0.03 dB of float32)
            bf16 = self.cfg.precision == "bf16"
            with torch.no_grad(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
                y = torch.lerp(y, self.teacher(x).float().clamp(0, 1), self.cfg.distill)
        return x, y

    # -- state --------------------------------------------------------------------------
    def _ckpt_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        _atomic_torch_save({"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                            "sched": self.sched.state_dict(), "step": self.step, "run_steps": self.cfg.steps},
                           self._ckpt_path())

    def _start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        cfg_path = self.run_dir / "config.json"
        new = self.cfg.to_dict()
        saved_steps = self.cfg.steps
        changed = {}  # execution settings this resume changes (config.json keeps only the latest)
        if cfg_path.exists():
            old = json.loads(cfg_path.read_text())
            saved_steps = old.get("steps", saved_steps)
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if set(diff) - {"steps", *EXECUTION_FIELDS}:
                raise RestoreLabError(f"{self.run_dir} holds a run with another config (differs in {diff}); "
                                      "use a new run directory")
            # a key missing from an older config.json held its default, the value it ran with
            changed = {k: [old[k], new[k]] for k in diff if k in EXECUTION_FIELDS and k in old}
            if diff and self.rank == 0:
                cfg_path.write_text(json.dumps(new, indent=2))
        elif self.rank == 0:
            cfg_path.write_text(json.dumps(new, indent=2))
        if self._ckpt_path().exists():
            ck = torch.load(self._ckpt_path(), map_location="cpu", weights_only=True)
            self.model.load_state_dict(ck["model"])
            self.opt.load_state_dict(ck["opt"])
            self.step = int(ck["step"])
            # the schedule in the checkpoint is for the length it was saved with (older checkpoints:
            # the config's), even if a resume with a new length was killed before checkpointing
            ck_steps = int(ck.get("run_steps", saved_steps))
            if ck_steps == self.cfg.steps:
                self.sched.load_state_dict(ck["sched"])
            else:
                self._reschedule(ck_steps)
        elif self.rank == 0:
            save_weights(self.model, self.run_dir / "theta0.safetensors")
        if changed:
            self._log({"event": "execution-change", "step": self.step, "changed": changed})

    def _reschedule(self, old_steps: int) -> None:
        """Resume with another ``steps``: warm-up + cosine for the new length, fast-forwarded."""
        if self.step >= self.cfg.steps:
            raise RestoreLabError(f"run is at step {self.step}; --steps {self.cfg.steps} would end before it")
        lr = [g["lr"] for g in self.opt.param_groups]
        self.opt, self.sched = make_optimizer(self.model, self.cfg, self.opt.state_dict())
        with warnings.catch_warnings():  # stepping the schedule without optimizer steps, on purpose
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(self.step):
                self.sched.step()
        self._log({"event": "reschedule", "step": self.step, "from_steps": old_steps,
                   "to_steps": self.cfg.steps, "lr_before": lr[0], "lr_after": self.sched.get_last_lr()[0]})

    def _log(self, rec: dict) -> None:
        if self.rank == 0:
            with open(self.run_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(rec) + "\n")

    # -- loop ---------------------------------------------------------------------------
    def _distribute(self, step: Step) -> nn.Module:
        """``step.net`` wrapped for torchrun's ranks (DDP) and ``cfg.compile``."""
        net = step.net
        if self.world > 1:
            if step.shadow:  # DDP's start-up broadcast below reaches only the bf16 copy: the weights too
                with torch.no_grad():
                    for p in self.model.parameters():
                        dist.broadcast(p, 0)
                step.shadow.sync()
            net = nn.parallel.DistributedDataParallel(
                net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if self.cfg.compile:
            net = torch.compile(net)
        return net

    def train(self, stop_after: int | None = None,
              on_step: Callable[[int, float], None] | None = None) -> nn.Module:
        """Run to ``cfg.steps`` (or ``stop_after`` more steps, to simulate a kill in tests)."""
        self._start()
        cfg = self.cfg
        # bf16: forward + backward on a bfloat16 copy, the update on self.model (float32)
        step = Step(self.model, self.opt, masks=self.masks, sched=self.sched, parts=self.parts,
                    precision=cfg.precision)
        step.net = self._distribute(step)
        end = cfg.steps if stop_after is None else min(cfg.steps, self.step + stop_after)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc=f"train {cfg.model}", dynamic_ncols=True)
        step.net.train()
        t0, losses, t_last = time.time(), [], time.time()

        def after(done: int, loss: torch.Tensor) -> None:
            nonlocal losses, t_last
            self.step = done
            losses.append(loss.item())
            if on_step:
                on_step(self.step, losses[-1])
            if bar:
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if self.step % 50 == 0 or self.step == end:
                now = time.time()
                self._log({"step": self.step, "loss": float(np.mean(losses)),
                           "lr": self.sched.get_last_lr()[0], "steps_per_s": len(losses) / max(now - t_last, 1e-9)})
                losses, t_last = [], now
            if self.step % cfg.ckpt_every == 0 or self.step == end:
                self.save_checkpoint()
            if self.step % cfg.val_every == 0 or self.step == cfg.steps:
                self.validate()

        try:
            fit(step, self.batch, end, start=self.step, callbacks=[after])
        finally:
            step.close()
            if bar:
                bar.close()
        final = self.model
        if self.step >= cfg.steps and self.rank == 0:
            save_weights(final, self.run_dir / "final.safetensors",
                         {"steps": self.step, "train_config": json.dumps(cfg.to_dict())})
        self._log({"event": "stopped", "step": self.step, "wall_s": time.time() - t0})
        return final

    def validate(self) -> dict:
        """Per-task PSNR/SSIM (RGB, [0,1]) on the held-out photos; logged, returned."""
        if self.rank != 0:
            return {}
        from restorelab.inference import run_model

        if self.val_set is None:
            self.val_set = build_val_set(self.cfg)
        model = self.model
        res = evaluate_pairs(lambda img: run_model(model, img), self.val_set)
        rec = {"step": self.step, "val": res,
               "val_mean_psnr": float(np.mean([r["psnr"] for r in res.values()])) if res else None}
        self._log(rec)
        model.train()
        return rec


def build_val_set(cfg: TrainConfig) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """task -> [(degraded, clean)] on centre crops of the held-out photos, fixed seeds."""
    from restorelab.data import synthesize
    from restorelab.io import load_image

    out: dict[str, list] = {t: [] for t in cfg.task_list}
    for i, path in enumerate(cfg.split_photos()[1]):
        img = _center_crop(load_image(path), cfg.val_size)
        for t in cfg.task_list:
            out[t].append((synthesize(t, img, seed=10_000 + i), img))
    return out


def _center_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[top:top + size, left:left + size]


def evaluate_pairs(restore: Callable[[np.ndarray], np.ndarray], sets: dict) -> dict:
    """name -> {'psnr', 'ssim'} means of ``restore(degraded)`` against clean over each set."""
    from restorelab.metrics import psnr, ssim

    res = {}
    for name, pairs in sets.items():
        ps, ss = [], []
        for degraded, clean in pairs:
            out = restore(degraded)
            ps.append(psnr(out, clean))
            ss.append(ssim(out, clean))
        res[name] = {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "n": len(pairs)}
    return res


def load_init_weights(init: str) -> dict[str, torch.Tensor]:
    """``TrainConfig.init``: a shipped name or .safetensors file, or a run directory (its final weights,
    else the model in its last checkpoint: a second training stage from a stopped first one)."""
    run = Path(init)
    if run.is_dir():
        if (run / "final.safetensors").exists():
            return load_state(run / "final.safetensors")
        if not (run / "checkpoint.pt").exists():
            raise RestoreLabError(f"--init {init}: a run directory without final.safetensors or checkpoint.pt")
        return torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
    return load_state(resolve(init))


def load_teacher(spec: str) -> nn.Module:
    """``TrainConfig.teacher``: a shipped name or .safetensors file, or a finished run directory; in eval mode."""
    run = Path(spec)
    if run.is_dir():
        model = create_model(TrainConfig.load(run / "config.json").model)
        return load_into(model, load_init_weights(spec)).eval()
    return load_weights(resolve(spec))


def load_into(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """Load ``state`` into ``model``, narrowing its layers first for a structured ticket's state."""
    fit = getattr(model, "fit_to_state", None)
    if fit is not None:
        fit(state)
    model.load_state_dict(state)
    return model


def load_init(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_state(Path(run_dir) / "theta0.safetensors")

