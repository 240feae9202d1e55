"""OES mask files: one bit per masked weight, in a safetensors file with its provenance.

Tensor ``mask_bits`` (uint8) is ``np.packbits`` of the masks concatenated in ``names`` order
(row-major). Metadata (all strings, JSON where structured)::

    format     restorelab-oes-mask-v1
    preset     generator preset name;  generator: its GeneratorConfig (JSON)
    names      masked tensors (JSON list);  shapes: their shapes (JSON list)
    density    kept / total over the masked tensors;  kept, total: counts
    seed       init seed of the generator the mask was learned on (transfer rebuilds it)
    source     where it was learned (image name / crop), + any extra keys given

A ``lean`` mask at 5% is ~30 kB. Shipped masks live in ``weights/`` (``resolve_mask``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from restorelab.errors import RestoreLabError
from restorelab.io import atomic_write
from restorelab.pruning import Masks, kept_count, total_count

FORMAT = "restorelab-oes-mask-v1"


def save_mask(masks: Masks, path: str | Path, *, preset: str, generator: dict, seed: int, source: str,
              extra: dict | None = None) -> dict:
    """Write ``masks`` bit-packed to ``path`` atomically; return the metadata written."""
    from safetensors.torch import save_file

    names = list(masks)
    flat = torch.cat([masks[n].detach().flatten() > 0 for n in names]).numpy()
    meta = {"format": FORMAT, "preset": preset, "generator": json.dumps(generator),
            "names": json.dumps(names), "shapes": json.dumps([list(masks[n].shape) for n in names]),
            "density": repr(kept_count(masks) / total_count(masks)), "kept": str(kept_count(masks)),
            "total": str(total_count(masks)), "seed": str(int(seed)), "source": str(source)}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (extra or {}).items()})
    atomic_write(path, lambda tmp: save_file({"mask_bits": torch.from_numpy(np.packbits(flat))}, str(tmp),
                                             metadata=meta))
    return meta


def load_mask(path: str | Path) -> tuple[Masks, dict]:
    """(masks as float32 0/1 tensors, metadata with ``density``/``seed``/``generator`` parsed)."""
    from safetensors.torch import load_file

    from restorelab.inference.weights import read_metadata

    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise RestoreLabError(f"{path}: not an OES mask file (format {meta.get('format')!r})")
    names, shapes = json.loads(meta["names"]), json.loads(meta["shapes"])
    sizes = [int(np.prod(s)) for s in shapes]
    bits = np.unpackbits(load_file(str(path))["mask_bits"].numpy(), count=sum(sizes)).astype(np.float32)
    masks, off = {}, 0
    for n, shape, size in zip(names, shapes, sizes):
        masks[n] = torch.from_numpy(bits[off:off + size].copy()).reshape(shape)
        off += size
    parsed = dict(meta, density=float(meta["density"]), seed=int(meta["seed"]),
                  generator=json.loads(meta["generator"]), kept=int(meta["kept"]), total=int(meta["total"]))
    return masks, parsed


def mask_name(preset: str, density: float) -> str:
    """The shipped-mask naming rule: ``oes-<preset>-d<percent, 2 digits>`` (``oes-lean-d05``)."""
    return f"oes-{preset}-d{round(density * 100):02d}"


def shipped_masks(weights_dir: str | Path | None = None) -> list[str]:
    from restorelab.paths import default_weights_dir

    d = Path(weights_dir or default_weights_dir())
    return sorted(p.stem for p in d.glob("oes-*.safetensors")) if d.is_dir() else []


def resolve_mask(name: str, weights_dir: str | Path | None = None) -> Path:
    """A path to an existing mask file, or the shipped mask ``weights/NAME.safetensors``."""
    from restorelab.paths import default_weights_dir

    if name.endswith(".safetensors") or os.sep in name:
        if not Path(name).is_file():
            raise RestoreLabError(f"mask file not found: {name}")
        return Path(name)
    path = Path(weights_dir or default_weights_dir()) / f"{name}.safetensors"
    if path.is_file():
        return path
    have = shipped_masks(weights_dir)
    raise RestoreLabError(f"no shipped mask {name!r}; available: {', '.join(have) if have else '(none)'}")
