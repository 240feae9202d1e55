"""Folders of real image pairs (any of the common layouts) and fixed-seed noisy folders.

Layouts understood by :func:`find_pairs` (``root`` is the folder holding the two sides):

* ``input/`` + ``target/`` — each input is matched, in this order, by
  1. the same stem (any image extension): ``001.png <-> 001.jpg``   (plain; RestoreLab's own)
  2. MIR-L suffixes: ``<base>_rainy.* / <base>_hazy.* <-> <base>_gt.*``
     (``rain-001_rainy.png <-> rain-001_gt.png``, ``0001_0.8_0.2_hazy.jpg <-> 0001_0.8_0.2_gt.png``)
  3. PromptIR SOTS test: the GT stem is the input stem before its first ``_``
     (``0001_0.8_0.2.jpg <-> 0001.png``)
* ``rainy/`` + ``gt/`` — PromptIR ``Derain``: ``rain-100.png <-> norain-100.png``
* ``synthetic/`` (with ``partN/`` subfolders, searched recursively) + ``original/`` —
  PromptIR ``Dehaze`` (RESIDE OTS): ``0025_0.8_0.04.jpg <-> 0025.*``
"""

from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from restorelab.data._imread import is_image, list_images, read_float
from restorelab.errors import RestoreLabError

Pair = Tuple[str, str]

_MIRL_SUFFIXES = ("_rainy", "_hazy")


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _index_by_stem(paths: Sequence[str]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for p in paths:
        out.setdefault(_stem(p), []).append(p)
    return out


def _unique(stem: str, index: Dict[str, List[str]], folder: str) -> Optional[str]:
    hits = index.get(stem)
    if not hits:
        return None
    if len(hits) > 1:
        names = ", ".join(os.path.basename(h) for h in hits)
        raise RestoreLabError(f"ambiguous target for '{stem}' in {folder}: {names}")
    return hits[0]


def _missing_error(root: str, what: str, names: List[str]) -> RestoreLabError:
    shown = ", ".join(names[:3]) + (f" (and {len(names) - 3} more)" if len(names) > 3 else "")
    return RestoreLabError(f"{root}: {len(names)} {what}: {shown}")


def _match_all(root: str, inputs: List[str], match: Callable[[str], Optional[str]], what: str,
               label: Callable[[str], str] = os.path.basename) -> List[Pair]:
    """``(input, match(input))`` for every input; one error naming the inputs without a match."""
    pairs, missing = [], []
    for p in inputs:
        t = match(p)
        if t is None:
            missing.append(label(p))
        else:
            pairs.append((p, t))
    if missing:
        raise _missing_error(root, what, missing)
    return pairs


def _pair_input_target(root: str, in_dir: str, tg_dir: str) -> List[Pair]:
    inputs = list_images(in_dir)
    targets = list_images(tg_dir)
    if not inputs and not targets:
        raise RestoreLabError(f"{root}: input/ and target/ hold no images")
    if not inputs:
        raise RestoreLabError(f"{root}: input/ holds no images")
    if not targets:
        raise RestoreLabError(f"{root}: target/ holds no images")
    index = _index_by_stem(targets)
    shared = []  # inputs matched by their prefix: many inputs may share one target

    def match(p: str) -> Optional[str]:
        s = _stem(p)
        t = _unique(s, index, tg_dir)
        if t is None:
            for suf in _MIRL_SUFFIXES:
                if s.endswith(suf):
                    t = _unique(s[: -len(suf)] + "_gt", index, tg_dir)
                    break
            if t is None and "_" in s:
                t = _unique(s.split("_", 1)[0], index, tg_dir)
                shared.append(t is not None)
        return t

    pairs = _match_all(root, inputs, match, "input image(s) without a matching target")
    if not any(shared):
        used = {t for _, t in pairs}
        extra = [os.path.basename(t) for t in targets if t not in used]
        if extra:
            raise _missing_error(root, "target image(s) without a matching input", extra)
    return pairs


def _pair_promptir_derain(root: str) -> List[Pair]:
    inputs = list_images(os.path.join(root, "rainy"))
    gt_dir = os.path.join(root, "gt")
    if not inputs:
        raise RestoreLabError(f"{root}: rainy/ holds no images")
    index = _index_by_stem(list_images(gt_dir))

    def match(p: str) -> Optional[str]:
        s = _stem(p)
        t = _unique(s, index, gt_dir)
        return _unique("no" + s, index, gt_dir) if t is None and s.startswith("rain-") else t

    return _match_all(root, inputs, match, "rainy image(s) without a gt/norain-* match")


def _pair_promptir_dehaze(root: str) -> List[Pair]:
    syn = os.path.join(root, "synthetic")
    gt_dir = os.path.join(root, "original")
    inputs = []
    for d, _, fs in os.walk(syn):
        inputs.extend(os.path.join(d, f) for f in fs if is_image(f))
    inputs.sort()
    if not inputs:
        raise RestoreLabError(f"{root}: synthetic/ holds no images")
    index = _index_by_stem(list_images(gt_dir))
    return _match_all(root, inputs, lambda p: _unique(_stem(p).split("_", 1)[0], index, gt_dir),
                      "hazy image(s) without an original/ match", label=lambda p: os.path.relpath(p, syn))


def find_pairs(root: str) -> List[Pair]:
    """Detect the layout under ``root`` and return sorted ``(input_path, target_path)`` pairs.

    See the module docstring for the layouts. Raises RestoreLabError when ``root`` is
    missing, holds none of the layouts, has a side without images, or has unmatched files
    (the message lists up to 3 of them).
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise RestoreLabError(f"paired folder not found: {root}")

    def has(*names: str) -> bool:
        return all(os.path.isdir(os.path.join(root, n)) for n in names)

    if has("input", "target"):
        return _pair_input_target(root, os.path.join(root, "input"), os.path.join(root, "target"))
    if has("rainy", "gt"):
        return _pair_promptir_derain(root)
    if has("synthetic", "original"):
        return _pair_promptir_dehaze(root)
    for side, other in (("input", "target"), ("target", "input"), ("rainy", "gt"),
                        ("gt", "rainy"), ("synthetic", "original"), ("original", "synthetic")):
        if has(side):
            raise RestoreLabError(f"{root}: has {side}/ but no {other}/ folder")
    raise RestoreLabError(
        f"{root}: no paired layout found; expected input/ + target/, "
        "rainy/ + gt/ (PromptIR Derain) or synthetic/ + original/ (PromptIR Dehaze)"
    )


# Where the official repos keep each task, relative to their data roots.
_OFFICIAL = {
    # MIR-L: ./datasets/{train,test}/...
    ("mirl", "train", "derain"): ["train/derain/Rain100L"],
    ("mirl", "train", "dehaze"): ["train/dehaze/OTS"],
    ("mirl", "train", "denoise"): ["train/denoise/BSD400", "train/denoise/WED"],
    ("mirl", "test", "derain"): ["test/derain/Rain100L"],
    ("mirl", "test", "dehaze"): ["test/dehaze/SOTS"],
    ("mirl", "test", "denoise"): ["test/denoise/BSD68"],
    # PromptIR: data/Train/{Denoise,Derain,Dehaze} and test/{denoise/bsd68,derain/Rain100L,dehaze}
    ("promptir", "train", "derain"): ["Train/Derain", "data/Train/Derain"],
    ("promptir", "train", "dehaze"): ["Train/Dehaze", "data/Train/Dehaze"],
    ("promptir", "train", "denoise"): ["Train/Denoise", "data/Train/Denoise"],
    ("promptir", "test", "derain"): ["test/derain/Rain100L", "data/test/derain/Rain100L"],
    ("promptir", "test", "dehaze"): ["test/dehaze", "data/test/dehaze"],
    ("promptir", "test", "denoise"): ["test/denoise/bsd68", "data/test/denoise/bsd68"],
}


def official_layout(root: str, task: str, split: str = "test") -> List[str]:
    """Folders for ``task`` inside a downloaded PromptIR or MIR-L data root.

    task: ``derain``, ``dehaze`` or a denoise task (``denoise_25`` ...; ``denoise`` also works).
    split: ``train`` or ``test``.
    Returns the existing folders (usually one; MIR-L denoise training has BSD400 and WED):
    paired folders for derain/dehaze (give them to :class:`PairedFolder` / :func:`find_pairs`,
    which understand the suffix and PromptIR naming), clean folders for denoise
    (give them to :class:`NoisyFolder` or ``SyntheticPairs``).
    """
    root = os.fspath(root)
    if split not in ("train", "test"):
        raise RestoreLabError(f"split must be 'train' or 'test', got '{split}'")
    kind = "denoise" if task.startswith("denoise") else task
    if kind not in ("derain", "dehaze", "denoise"):
        raise RestoreLabError(f"unknown task '{task}'; expected derain, dehaze or denoise_<sigma>")
    if not os.path.isdir(root):
        raise RestoreLabError(f"data root not found: {root}")
    tried = []
    for layout in ("mirl", "promptir"):
        rels = _OFFICIAL[(layout, split, kind)]
        found = [os.path.join(root, r) for r in rels if os.path.isdir(os.path.join(root, r))]
        tried.extend(rels)
        if found:
            return found
    raise RestoreLabError(
        f"{root}: no MIR-L or PromptIR {split} folder for {kind}; looked for {', '.join(tried)}"
    )


class PairedFolder:
    """Real degraded/clean pairs from a folder; items are ``(name, degraded, clean)``.

    ``degraded`` and ``clean`` are float32 H x W x 3 arrays in [0, 1], read on access.
    ``name`` is the input file's stem. If the two sides differ in size (a few benchmark
    pairs do by a row or column), both are cropped to the common top-left region.
    """

    def __init__(self, root: str):
        self.root = os.fspath(root)
        self.pairs: List[Pair] = find_pairs(self.root)
        self.names = [_stem(p) for p, _ in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        ip, tp = self.pairs[index]
        x, y = read_float(ip), read_float(tp)
        if x.shape != y.shape:
            h, w = min(x.shape[0], y.shape[0]), min(x.shape[1], y.shape[1])
            x, y = x[:h, :w], y[:h, :w]
        return self.names[index], x, y

    def __repr__(self) -> str:
        return f"PairedFolder({self.root!r}, {len(self)} pairs)"


class DegradedFolder:
    """Clean photos with a fixed synthetic degradation; items are ``(name, degraded, clean)``.

    Image ``i`` (in sorted file order) is degraded by ``degradations.get(degradation)`` with
    ``np.random.default_rng([seed, i])`` and ``params``, so every evaluation sees exactly the
    same inputs. ``degradation=None``: the clean photo itself (does a restorer leave it alone?).
    """

    def __init__(self, clean_dir: str, degradation: str | None, params: dict | None = None, seed: int = 0):
        from restorelab import degradations as D

        self.clean_dir = os.fspath(clean_dir)
        if not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise RestoreLabError(f"seed must be a non-negative integer, got {seed!r}")
        self.degradation, self.params, self.seed = degradation, dict(params or {}), int(seed)
        if degradation is not None:
            D.check_params(degradation, self.params)
            self._fn = D.get(degradation)
        self.files = list_images(self.clean_dir)
        if not self.files:
            raise RestoreLabError(f"no images in {self.clean_dir}")
        self.names = [_stem(p) for p in self.files]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(index)
        index %= n
        clean = read_float(self.files[index])
        if self.degradation is None:
            return self.names[index], clean.copy(), clean
        return self.names[index], self._fn(clean, np.random.default_rng([self.seed, index]), **self.params), clean

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.clean_dir!r}, {self.degradation}, {self.params}, {len(self)} images)"


class NoisyFolder(DegradedFolder):
    """Clean photos with fixed Gaussian noise (the papers' protocol): ``gaussian_noise(sigma,
    quantize=True)`` (clip + floor to uint8 levels, like PromptIR/MIR-L) with seed ``[seed, i]``."""

    def __init__(self, clean_dir: str, sigma: float, seed: int = 0):
        if not 0 <= float(sigma) <= 255:
            raise RestoreLabError(f"sigma must be in [0, 255], got {sigma!r}")
        self.sigma = sigma
        super().__init__(clean_dir, "gaussian_noise", {"sigma": sigma, "quantize": True}, seed)


_PAIRED_DIRS = ("input", "target", "rainy", "gt", "synthetic", "original")


def open_eval_folder(root: str, sigma: float | None = None, seed: int = 0):
    """Any folder as an evaluation set; items ``(name, degraded, clean)``.

    With ``sigma``: ``root`` holds clean images, noise is added as :class:`NoisyFolder` does
    (seed ``[seed, i]`` for image ``i`` in sorted order, so every run sees the same inputs).
    Without: ``root`` is a paired folder (``input/`` + ``target/`` with matching file names, or
    another layout of :func:`find_pairs`) as a :class:`PairedFolder`. Every problem (no such
    folder, no images, unmatched names, the wrong kind of folder for ``sigma``) is a one-line
    RestoreLabError."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        what = "is a file, not a folder" if os.path.exists(root) else "not found"
        raise RestoreLabError(f"evaluation folder {root}: {what}")
    paired = [d for d in _PAIRED_DIRS if os.path.isdir(os.path.join(root, d))]
    if sigma is not None:
        if paired and not list_images(root):
            raise RestoreLabError(f"{root} is a paired folder ({'/, '.join(paired)}/); --sigma adds noise to a "
                                  "folder of clean images: leave it out to score the pairs")
        return NoisyFolder(root, sigma, seed)
    if not paired and list_images(root):
        raise RestoreLabError(f"{root} holds images but no input/ + target/ subfolders: give --sigma S to add "
                              "Gaussian noise of std S (0-255) to these clean images, or put degraded images in "
                              "input/ and their clean versions (same file names) in target/")
    return PairedFolder(root)
