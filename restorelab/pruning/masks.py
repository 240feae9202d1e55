"""Binary pruning masks: which tensors are prunable, all-ones masks, counts, sparsity reports, mask files.

A mask set is ``dict[param name -> float32 tensor of 0/1]`` with the parameter's shape; a
parameter without an entry is dense (never pruned). Dict order is kept wherever masks are
written (mask files, reports).

What is prunable by default (``prunable_names``, MIR-L's rule):

* ``keep_norms_dense=False``: every parameter whose name ends in ``weight``, as the MIR-L code
  does (``'weight' in name``): all convolutions (dense and depthwise), the prompt
  ``linear_layer`` weights **and the LayerNorm weights**. Biases, ``prompt_param`` and the
  attention ``temperature`` stay dense.
* ``keep_norms_dense=True``: the same minus the norm weights (a zeroed norm gain silences a
  whole channel of the residual stream, which is rarely what one wants).
* ``prune_prompts=True``: the ``prompt_param`` banks too (not MIR-L's rule). In ``promptir-cpu`` they
  are 6% of the parameters, but kept dense they are 60% of what a 90%-sparse ticket keeps.

Other users pick their own tensors and pass the names (OES: ``restorelab.oes.mask.masked_names``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.io import atomic_write

Masks = dict[str, torch.Tensor]


def _norm_param_names(model: nn.Module) -> set[str]:
    from restorelab.models.promptir import ChannelLayerNorm

    out = set()
    for mod_name, mod in model.named_modules():
        if isinstance(mod, (ChannelLayerNorm, nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)):
            out.add(f"{mod_name}.weight" if mod_name else "weight")
    return out


def prunable_names(model: nn.Module, keep_norms_dense: bool = False, prune_prompts: bool = False) -> list[str]:
    """Names of the prunable parameters, in ``named_parameters`` order (see the module doc)."""
    norms = _norm_param_names(model) if keep_norms_dense else set()
    return [n for n, _ in model.named_parameters()
            if (n.endswith("weight") and n not in norms) or (prune_prompts and n.endswith("prompt_param"))]


def ones_masks(model: nn.Module, names: list[str] | None = None) -> Masks:
    """An all-ones float32 mask for each of ``names`` (default: ``prunable_names(model)``), in that order."""
    params = dict(model.named_parameters())
    names = names if names is not None else prunable_names(model)
    return {n: torch.ones_like(params[n], dtype=torch.float32, memory_format=torch.contiguous_format)
            for n in names}


def masks_from_weights(model: nn.Module, names: list[str] | None = None) -> Masks:
    """Masks that keep exactly the non-zero entries of ``names`` (default: ``prunable_names(model)``)."""
    params = dict(model.named_parameters())
    names = names if names is not None else prunable_names(model)
    return {n: (params[n].detach() != 0).float().contiguous() for n in names}


def kept_count(masks: Masks) -> int:
    return int(sum(int(m.sum()) for m in masks.values()))


def total_count(masks: Masks) -> int:
    return int(sum(m.numel() for m in masks.values()))


def density_of(masks: Masks) -> float:
    """Kept / total over the masked tensors (1.0 for no masks)."""
    total = total_count(masks)
    return kept_count(masks) / total if total else 1.0


@dataclass(frozen=True)
class LayerSparsity:
    name: str
    shape: tuple[int, ...]
    total: int
    kept: int  # mask ones
    sparsity: float  # 1 - kept / total


def layer_report(masks: Masks) -> list[LayerSparsity]:
    out = []
    for name, m in masks.items():
        total, kept = m.numel(), int(m.sum())
        out.append(LayerSparsity(name, tuple(m.shape), total, kept, 1.0 - kept / total if total else 0.0))
    return out


def sparsity_of(model: nn.Module, masks: Masks, over: str = "all") -> float:
    """Mask sparsity over the masked tensors (``over='prunable'``) or all parameters (``'all'``).

    Over all parameters the dense tensors count as kept, so this is the paper's "trainable
    parameters removed" fraction (10% kept after 15 rounds of 20% on the paper model).
    """
    if over == "prunable":
        return 1.0 - density_of(masks)
    if over == "all":
        kept, total = kept_count(masks), total_count(masks)
        all_total = sum(p.numel() for p in model.parameters())
        return 1.0 - (kept + all_total - total) / all_total
    raise ValueError(f"sparsity over must be 'all' or 'prunable', not {over!r}")


def sparsity_report(model: nn.Module, masks: Masks) -> dict:
    """JSON-ready report: per tensor (name, shape, total, kept, sparsity) and overall counts.

    ``total_params``/``nonzero_params`` count every parameter of ``model`` (non-zero values, as
    ``count_params``); ``prunable_*`` count mask entries; ``sparsity`` is over all parameters.
    """
    from restorelab.models import count_params

    total, nonzero = count_params(model)
    p_total, p_kept = total_count(masks), kept_count(masks)
    return {
        "total_params": total,
        "nonzero_params": nonzero,
        "prunable_total": p_total,
        "prunable_kept": p_kept,
        "prunable_sparsity": sparsity_of(model, masks, "prunable"),
        "sparsity": sparsity_of(model, masks, "all"),
        "layers": [asdict(r) | {"shape": list(r.shape)} for r in layer_report(masks)],
    }


def check_masks(model: nn.Module, masks: Masks) -> None:
    """Raise RestoreLabError unless every mask names a parameter, has its shape, and is 0/1."""
    params = dict(model.named_parameters())
    for name, m in masks.items():
        if name not in params:
            raise RestoreLabError(f"mask for unknown parameter {name!r}")
        if tuple(m.shape) != tuple(params[name].shape):
            raise RestoreLabError(f"mask {name!r} has shape {tuple(m.shape)}, parameter {tuple(params[name].shape)}")
        if not bool(((m == 0) | (m == 1)).all()):
            raise RestoreLabError(f"mask {name!r} is not binary")


def save_masks(masks: Masks, path: str | Path, meta: dict | None = None) -> None:
    """Write masks as uint8 safetensors, atomically."""
    from safetensors.torch import save_file

    tensors = {n: m.to(torch.uint8).contiguous() for n, m in masks.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={k: json.dumps(v) for k, v in
                                                                          (meta or {}).items()}))


def load_masks(path: str | Path) -> Masks:
    """Read a mask file written by ``save_masks`` (float32 0/1 tensors, file order kept)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {n: f.get_tensor(n).float() for n in f.keys()}
    except FileNotFoundError:
        raise RestoreLabError(f"mask file not found: {path}") from None
