"""Degradation grouping search (GRIDS Algorithm 1) with a cache of measured performance drops.

Problem (Eq. 5): partition the n tasks into as few groups as possible with ``dP(C) <= delta`` for
every group, where ``dP(C) = max_{d in C} P(single-task model of d, d) - P(model trained on C, d)``.

1. **Ranking.** For each size L, every L-subset is scored by the mean and the variance of its
   pairwise distances in S (symmetrised); subsets are sorted by mean (smallest first), and means
   within ``tie_tol`` of each other by variance.
2. **L_max.** Binary search on L: verify the top-ranked subset of size L (measure its dP).
3. **Per-level pruning** (``prune_levels``): in each ranked level 2..L_max, binary search for the last
   subset with ``dP <= delta`` and drop everything after it.
4. **Binary search on m** with ``Solve(m)``: a depth-first search over partitions into exactly m
   groups drawn from the pruned levels (largest size first, then rank; each partition is visited
   once, as an increasing sequence in that order); a complete partition is accepted when every
   group verifies ``dP <= delta`` (measured on demand, cached).

``dP`` is a pluggable callable ``group (tuple of task names) -> float`` (dB); :class:`DeltaCache`
stores measured values in JSON, so re-running the search for another delta only measures groups it
has not seen, and with ``fn=None`` (cache only) it measures nothing: unmeasured groups count as
failing and are reported in ``SearchResult.unverified``. A single task has ``dP = 0`` by definition.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.io import atomic_write

Group = Tuple[str, ...]
DeltaFn = Callable[[Group], float]


@dataclass(frozen=True)
class SearchConfig:
    delta: float = 0.7  # dB (the paper's value)
    tie_tol: float = 0.05  # mean distances in the same tie_tol bin are ordered by variance
    prune_levels: bool = True  # the paper's per-level binary search (False: keep every level <= L_max)
    max_size: int = 0  # largest group size considered (0 = n)

    def __post_init__(self):
        if self.tie_tol <= 0:
            raise RestoreLabError("tie_tol must be positive")


def group_key(group: Sequence[str]) -> str:
    return "+".join(group)


class DeltaCache:
    """group -> dP (dB), persisted as JSON ``{"meta": ..., "delta_p": {key: value}}``.

    ``fn``: the measurement (called only for groups not in the cache; ``None`` = cache only).
    ``max_measure``: at most this many new measurements (each trains a model); later unknown groups
    count as failing, so the search still returns a verified partition, maybe not the smallest.
    ``meta``: what the values were measured with (e.g. the training protocol); a file holding other
    meta is refused, so values from different protocols are never mixed.
    """

    def __init__(self, path: str | Path | None = None, fn: Optional[DeltaFn] = None, meta: Optional[dict] = None,
                 max_measure: Optional[int] = None):
        self.path, self.fn, self.meta = (Path(path) if path else None), fn, dict(meta or {})
        self.max_measure = max_measure  # new measurements allowed (None = any); then cache-only
        self.values: Dict[str, float] = {}
        self.measured: List[str] = []  # groups measured by this object, in order
        if self.path and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
            except json.JSONDecodeError as err:
                raise RestoreLabError(f"{self.path}: not valid JSON ({err.msg})") from None
            if meta is not None and data.get("meta", {}) != self.meta:
                raise RestoreLabError(f"{self.path} holds dP values measured with another protocol "
                                      f"({data.get('meta')}); use another cache file")
            self.meta = data.get("meta", {})
            self.values = {k: float(v) for k, v in data.get("delta_p", {}).items()}

    def known(self, group: Group) -> Optional[float]:
        if len(group) == 1:
            return 0.0
        return self.values.get(group_key(group))

    def __call__(self, group: Group) -> Optional[float]:
        """dP of ``group``: cached, else measured (and saved), else None in cache-only mode."""
        v = self.known(group)
        if v is None and self.fn is not None and (self.max_measure is None or len(self.measured) < self.max_measure):
            v = float(self.fn(tuple(group)))
            self.values[group_key(group)] = v
            self.measured.append(group_key(group))
            self.save()
        return v

    def save(self) -> None:
        if self.path is None:
            return
        text = json.dumps({"meta": self.meta, "delta_p": self.values}, indent=1)
        atomic_write(self.path, lambda tmp: tmp.write_text(text))


def _sym(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise RestoreLabError(f"similarity matrix must be square, got shape {m.shape}")
    return 0.5 * (m + m.T)


def rank_groups(names: Sequence[str], matrix, size: int, tie_tol: float = 0.05) -> List[Group]:
    """All ``size``-subsets of ``names``, most similar first (mean distance, then variance)."""
    s = _sym(matrix)
    rows = []
    for combo in itertools.combinations(range(len(names)), size):
        d = [s[i, j] for i, j in itertools.combinations(combo, 2)] or [0.0]
        mean, var = float(np.mean(d)), float(np.var(d))
        rows.append((int(np.floor(mean / tie_tol + 1e-9)), var, mean, combo))
    rows.sort()
    return [tuple(names[i] for i in r[3]) for r in rows]


@dataclass
class SearchResult:
    groups: List[Group]
    delta: float
    l_max: int
    candidates: Dict[int, int]  # size -> number of candidate groups kept
    measured_now: List[str] = field(default_factory=list)
    unverified: List[str] = field(default_factory=list)
    log: List[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)  # the SearchConfig (re-running it on the cache reproduces it)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["groups"] = [list(g) for g in self.groups]
        d["m"] = len(self.groups)
        return d


class _Search:
    def __init__(self, names, matrix, cache, cfg: SearchConfig):
        self.names, self.cache, self.cfg = list(names), cache, cfg
        if len(set(self.names)) != len(self.names) or not self.names:
            raise RestoreLabError("task names must be unique and non-empty")
        if _sym(matrix).shape[0] != len(self.names):
            raise RestoreLabError(f"matrix is {_sym(matrix).shape[0]}x.., but {len(self.names)} names")
        self.n = len(self.names)
        self.max_size = min(cfg.max_size or self.n, self.n)
        self.levels = {L: rank_groups(self.names, matrix, L, cfg.tie_tol) for L in range(1, self.max_size + 1)}
        self.bit = {t: 1 << i for i, t in enumerate(self.names)}
        self.unverified: List[str] = []
        self.log: List[dict] = []

    def ok(self, group: Group, stage: str) -> bool:
        v = self.cache(group)
        if v is None:
            if group_key(group) not in self.unverified:
                self.unverified.append(group_key(group))
        self.log.append({"stage": stage, "group": list(group), "delta_p": v})
        return v is not None and v <= self.cfg.delta

    def known_fail(self, group: Group) -> bool:
        v = self.cache.known(group)
        return v is not None and v > self.cfg.delta

    def l_max(self) -> int:
        lo, hi = 1, self.max_size
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.ok(self.levels[mid][0], f"L_max probe L={mid}"):
                lo = mid
            else:
                hi = mid - 1
        return lo

    def prune(self, L: int) -> List[Group]:
        groups = self.levels[L]
        if L == 1 or not self.cfg.prune_levels:
            return groups
        lo, hi = -1, len(groups)  # groups[lo] passes, groups[hi] fails (virtual ends)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.ok(groups[mid], f"prune L={L}"):
                lo = mid
            else:
                hi = mid
        return groups[:lo + 1]

    def solve(self, m: int, order: List[Group]) -> Optional[List[Group]]:
        masks = [sum(self.bit[t] for t in g) for g in order]
        full = (1 << self.n) - 1

        def dfs(start: int, covered: int, chosen: List[int]) -> Optional[List[Group]]:
            if len(chosen) == m:
                if covered != full:
                    return None
                groups = [order[j] for j in chosen]
                return groups if all(self.ok(g, f"verify m={m}") for g in groups) else None
            remaining = self.n - bin(covered).count("1")
            slots = m - len(chosen)
            if remaining < slots:
                return None
            for j in range(start, len(order)):
                if remaining > slots * len(order[j]):  # later groups are no larger
                    return None
                if masks[j] & covered or self.known_fail(order[j]):
                    continue
                found = dfs(j + 1, covered | masks[j], chosen + [j])
                if found:
                    return found
            return None

        return dfs(0, 0, [])


def search(names: Sequence[str], matrix, delta_p: DeltaCache | DeltaFn | None = None,
           cfg: SearchConfig = SearchConfig()) -> SearchResult:
    """Run Algorithm 1. ``delta_p``: a :class:`DeltaCache`, a plain callable (wrapped in an
    in-memory cache), or None (nothing is known: only singletons verify)."""
    cache = delta_p if isinstance(delta_p, DeltaCache) else DeltaCache(fn=delta_p)
    before = len(cache.measured)
    s = _Search(names, matrix, cache, cfg)
    l_max = s.l_max()
    pruned = {L: s.prune(L) for L in range(1, l_max + 1)}
    order = [g for L in range(l_max, 0, -1) for g in pruned[L]]
    solutions: Dict[int, Optional[List[Group]]] = {}
    left, right = 1, s.n
    while left < right:
        mid = (left + right) // 2
        solutions[mid] = s.solve(mid, order)
        s.log.append({"stage": "solve", "m": mid, "found": solutions[mid] is not None})
        if solutions[mid]:
            right = mid
        else:
            left = mid + 1
    best = solutions.get(left) or s.solve(left, order)
    if best is None:  # only if even singletons fail, i.e. never with dP(single) = 0
        raise RestoreLabError(f"no partition into {left} groups verifies delta={cfg.delta}")
    return SearchResult(best, cfg.delta, l_max, {L: len(g) for L, g in pruned.items()},
                        cache.measured[before:], s.unverified, s.log, asdict(cfg))
