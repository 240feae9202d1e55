"""GRIDS grouping search (Algorithm 1) on fake performance-drop functions."""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest

from restorelab.errors import RestoreLabError
from restorelab.grids import PAPER_GROUPS, TASKS
from restorelab.grids.search import DeltaCache, SearchConfig, group_key, rank_groups, search

BLOCK = {t: i for i, g in enumerate(PAPER_GROUPS) for t in g}


def block_matrix(noise=0.0, seed=0):
    """Small distances inside the paper's groups, large across, optional asymmetric noise."""
    rng = np.random.default_rng(seed)
    n = len(TASKS)
    m = np.empty((n, n))
    for i, a in enumerate(TASKS):
        for j, b in enumerate(TASKS):
            m[i, j] = 0.0 if i == j else (2.0 if BLOCK[a] == BLOCK[b] else 4.0) + noise * rng.uniform(-1, 1)
    return m


class FakeDrop:
    """dP = 0.2 per extra member inside a paper group, 2 dB for any mixed group; counts calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, group):
        self.calls.append(tuple(group))
        if len({BLOCK[t] for t in group}) > 1:
            return 2.0
        return 0.2 * (len(group) - 1)


def as_sets(groups):
    return sorted(sorted(g) for g in groups)


def test_rank_groups_orders_by_mean_then_variance():
    names = ["a", "b", "c", "d"]
    m = np.array([[0, 1, 3, 3], [1, 0, 3, 3], [3, 3, 0, 1.01], [3, 3, 1.01, 0]], float)
    pairs = rank_groups(names, m, 2, tie_tol=0.05)
    assert pairs[0] == ("a", "b") and pairs[1] == ("c", "d") and len(pairs) == 6
    # means 2.0 vs 2.02 tie within tol: lower variance first
    m2 = np.array([[0, 1, 3, 2], [1, 0, 2, 2], [3, 2, 0, 9], [2, 2, 9, 0]], float)
    trip = rank_groups(names, m2, 3, tie_tol=0.1)
    assert trip[0] == ("a", "b", "d")  # distances 1, 2, 2 (mean 1.67) before a,b,c (1, 3, 2 = 2.0)
    assert len(rank_groups(names, m2, 1)) == 4


def test_search_recovers_known_groups():
    fake = FakeDrop()
    res = search(TASKS, block_matrix(noise=0.2), fake, SearchConfig(delta=0.7))
    assert as_sets(res.groups) == as_sets(PAPER_GROUPS)
    assert res.l_max == 3 and len(res.groups) == 4
    assert all(len(g) > 1 for g in fake.calls), "singletons are never measured (dP = 0)"
    assert len(set(fake.calls)) == len(fake.calls), "each group is measured once"
    assert len(fake.calls) < 60


def test_cache_reused_and_persisted(tmp_path):
    path = tmp_path / "deltap.json"
    fake = FakeDrop()
    first = search(TASKS, block_matrix(), DeltaCache(path, fake, {"protocol": 1}), SearchConfig(0.7))
    n_calls = len(fake.calls)
    assert n_calls > 0 and len(first.measured_now) == n_calls
    again = FakeDrop()
    second = search(TASKS, block_matrix(), DeltaCache(path, again, {"protocol": 1}), SearchConfig(0.7))
    assert again.calls == [] and second.groups == first.groups and second.measured_now == []
    # cache only (the app's delta slider): instant and no measurement at all
    t = time.perf_counter()
    only = search(TASKS, block_matrix(), DeltaCache(path), SearchConfig(0.7))
    assert time.perf_counter() - t < 2.0 and only.groups == first.groups and only.unverified == []
    data = json.loads(path.read_text())
    assert data["meta"] == {"protocol": 1} and len(data["delta_p"]) == n_calls
    with pytest.raises(RestoreLabError):
        DeltaCache(path, fake, {"protocol": 2})


def test_new_delta_only_measures_new_groups(tmp_path):
    path = tmp_path / "deltap.json"
    fake = FakeDrop()
    search(TASKS, block_matrix(), DeltaCache(path, fake), SearchConfig(0.7))
    seen = set(fake.calls)
    fake2 = FakeDrop()
    search(TASKS, block_matrix(), DeltaCache(path, fake2), SearchConfig(0.3))
    assert not (set(fake2.calls) & seen)


def test_cache_only_unknown_groups_fail():
    res = search(TASKS, block_matrix(), None, SearchConfig(0.7))
    assert len(res.groups) == len(TASKS) and res.unverified  # only singletons verify


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_delta_monotone(noise):
    def drop(group):  # a smooth dP: grows with the group's largest pairwise distance and its size
        m = block_matrix(noise, seed=1)
        idx = [TASKS.index(t) for t in group]
        return max(m[i, j] for i, j in itertools.permutations(idx, 2)) / 4 + 0.1 * len(group)

    cache = DeltaCache(fn=drop)
    counts = [len(search(TASKS, block_matrix(noise, seed=1), cache, SearchConfig(d)).groups)
              for d in (0.0, 0.5, 0.8, 1.0, 1.5, 2.5)]
    assert counts == sorted(counts, reverse=True) and counts[0] == 11 and counts[-1] == 1


def test_solution_satisfies_constraint_and_partitions():
    fake = FakeDrop()
    for delta in (0.1, 0.3, 0.5, 3.0):
        cache = DeltaCache(fn=fake)
        res = search(TASKS, block_matrix(noise=0.3, seed=2), cache, SearchConfig(delta))
        flat = [t for g in res.groups for t in g]
        assert sorted(flat) == sorted(TASKS)
        assert all(cache.known(g) <= delta for g in res.groups)


def test_no_level_pruning_and_max_size():
    res = search(TASKS, block_matrix(), FakeDrop(), SearchConfig(0.7, prune_levels=False, max_size=3))
    assert as_sets(res.groups) == as_sets(PAPER_GROUPS)


def test_measurement_cap_still_returns_a_verified_partition(tmp_path):
    fake = FakeDrop()
    cache = DeltaCache(tmp_path / "dp.json", fake, max_measure=3)
    res = search(TASKS, block_matrix(), cache, SearchConfig(0.7))
    assert len(fake.calls) == 3 and cache.measured == [group_key(g) for g in fake.calls]
    assert sorted(t for g in res.groups for t in g) == sorted(TASKS)
    assert all(cache.known(g) is not None and cache.known(g) <= 0.7 for g in res.groups)
    assert res.unverified  # what the cap left unmeasured is reported


def test_bad_inputs():
    with pytest.raises(RestoreLabError):
        search(TASKS, np.zeros((3, 3)), FakeDrop())
    with pytest.raises(RestoreLabError):
        search(["a", "a"], np.zeros((2, 2)), FakeDrop())
    with pytest.raises(RestoreLabError):
        SearchConfig(tie_tol=0)
