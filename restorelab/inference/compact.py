"""Sparse models stored sparsely: bit-packed masks + surviving values, in one safetensors file.

The dense safetensors of a 90%-sparse model is mostly zeros. Here the file holds three
tensors, whatever the model:

  mask_bits  uint8   ``np.packbits`` of the masks of the masked tensors, concatenated
  values     dtype   their surviving values, concatenated (state_dict order, row-major)
  dense      dtype   every other tensor, flattened and concatenated

and the metadata ``{"format": "restorelab-compact-v1", "family", "config", "masked": [names],
"dtype", "n_values"}`` (+ extra). Shapes and order come from the model the config builds, so
the header stays small. About 1 bit per prunable weight + 4 bytes per survivor: 90% sparse
float32 is ~13% of the dense file. Loading is bit-exact for every stored value; pruned
entries load as +0.0.

``restorelab.inference.weights.load_weights`` picks this loader by the file's ``format``
(its ``LOADERS`` table); pruning (``restorelab.lottery``) writes these files with ``save_compact``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.io import atomic_write
from restorelab.pruning.masks import Masks

FORMAT = "restorelab-compact-v1"


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().flatten()


def pack(model: nn.Module, masks: Masks | None = None) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(tensors, masked names). ``masks=None``: every ``*weight`` is masked by its non-zeros.

    Raises RestoreLabError if a masked-out entry is non-zero (it would be silently lost).
    """
    state = model.state_dict()
    if masks is None:
        masks = {n: (p.detach() != 0).float() for n, p in model.named_parameters() if n.endswith("weight")}
    dtypes = {v.dtype for v in state.values()}
    if len(dtypes) != 1:
        raise RestoreLabError(f"compact export needs one dtype, the model has {sorted(map(str, dtypes))}")
    masked = [n for n in state if n in masks]
    bits, values, dense = [], [], []
    for n, v in state.items():
        if n not in masks:
            dense.append(_flat(v))
            continue
        m = _flat(masks[n]) > 0
        if bool((_flat(v)[~m] != 0).any()):
            raise RestoreLabError(f"{n}: weights outside the mask are non-zero (apply the masks first)")
        bits.append(m)
        values.append(_flat(v)[m])
    cat = lambda xs, dt: torch.cat(xs) if xs else torch.zeros(0, dtype=dt)  # noqa: E731
    dtype = dtypes.pop()
    flat_bits = cat(bits, torch.bool).numpy()
    tensors = {"mask_bits": torch.from_numpy(np.packbits(flat_bits)), "values": cat(values, dtype),
               "dense": cat(dense, dtype)}
    return tensors, masked


def save_compact(model: nn.Module, masks: Masks | None, path: str | Path, extra_meta: dict | None = None) -> None:
    """Write ``model`` (masked entries zero) compactly to ``path``, atomically."""
    from safetensors.torch import save_file

    tensors, masked = pack(model, masks)
    meta = {"format": FORMAT, "family": "promptir", "config": json.dumps(model.config.to_dict()),
            "masked": json.dumps(masked), "dtype": str(tensors["values"].dtype).removeprefix("torch."),
            "n_values": str(tensors["values"].numel())}
    meta.update({k: str(v) for k, v in (extra_meta or {}).items()})
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def unpack(model: nn.Module, tensors: dict[str, torch.Tensor], masked: list[str]) -> tuple[dict, Masks]:
    """Inverse of ``pack`` for ``model``'s architecture: (state_dict, masks)."""
    state, masks = {}, {}
    shapes = {n: v.shape for n, v in model.state_dict().items()}
    unknown = set(masked) - set(shapes)
    if unknown:
        raise RestoreLabError(f"compact file masks unknown tensors {sorted(unknown)[:3]}")
    n_bits = sum(shapes[n].numel() for n in masked)
    bits = torch.from_numpy(np.unpackbits(tensors["mask_bits"].numpy(), count=n_bits).astype(bool))
    values, dense = tensors["values"], tensors["dense"]
    b_off = v_off = d_off = 0
    for n, shape in shapes.items():
        size = shape.numel()
        if n in masked:
            m = bits[b_off:b_off + size]
            k = int(m.sum())
            t = torch.zeros(size, dtype=values.dtype)
            t[m] = values[v_off:v_off + k]
            state[n], masks[n] = t.reshape(shape), m.reshape(shape).float()
            b_off, v_off = b_off + size, v_off + k
        else:
            state[n] = dense[d_off:d_off + size].reshape(shape).clone()
            d_off += size
    if v_off != values.numel() or d_off != dense.numel():
        raise RestoreLabError("compact file does not match its model config (value counts differ)")
    return state, masks


def is_compact(meta: dict) -> bool:
    return meta.get("format") == FORMAT


def load_compact(path: str | Path, with_masks: bool = False):
    """Model (eval mode) from a compact file; ``with_masks=True``: (model, masks)."""
    from safetensors.torch import load_file

    from restorelab.inference.weights import read_metadata
    from restorelab.models import build_from_config

    meta = read_metadata(path)
    if not is_compact(meta):
        raise RestoreLabError(f"{path}: not a {FORMAT} file (format {meta.get('format')!r})")
    model = build_from_config(meta.get("family", "promptir"), json.loads(meta["config"]))
    state, masks = unpack(model, load_file(str(path)), json.loads(meta["masked"]))
    model.load_state_dict(state)
    model.eval()
    return (model, masks) if with_masks else model
