"""Adaptive model selection (GRIDS Sec. 5.2): image -> GGD -> distance to each group -> model.

A group's GGD is the mean of its members' GGD parameters (the paper's definition, rule ``"mean"``);
the distance is ``srga_score(KL(GGD(C) || GGD(image)))`` (Eq. 7: reference first, as SRGA's
``KL_GGD3``). Rule ``"nearest"`` instead takes a group's distance as that of its closest member: the
mean of unlike members' parameters (a noise and a blur) lies near neither. The chosen group is the
closest; the image is flagged out-of-distribution when even that distance is above a threshold
calibrated on held-out in-distribution images with the same rule (:func:`calibrate`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.grids import ggd as G
from restorelab.grids.tasks import TASKS, check_tasks, degrade

RULES = ("mean", "nearest")


def check_rule(rule: str) -> str:
    if rule not in RULES:
        raise RestoreLabError(f"unknown group distance rule {rule!r}; choose from {', '.join(RULES)}")
    return rule


@dataclass
class Groups:
    """Named groups of tasks with their reference GGDs (``names[i]`` holds ``members[i]``)."""

    names: List[str]
    members: List[List[str]]
    ggds: List[G.GGD]
    models: List[Optional[str]] = field(default_factory=list)  # restorer per group (name or path)
    member_ggds: List[List[G.GGD]] = field(default_factory=list)  # per group, its members' GGDs
    rule: str = "mean"  # how a group's distance is taken (see the module docstring)

    @classmethod
    def from_task_ggds(cls, groups: Sequence[Sequence[str]], task_ggds: Dict[str, G.GGD],
                       names: Optional[Sequence[str]] = None, models: Optional[Sequence[str]] = None,
                       rule: str = "mean") -> "Groups":
        members = [list(check_tasks(g)) for g in groups]
        missing = sorted({t for g in members for t in g} - set(task_ggds))
        if missing:
            raise RestoreLabError(f"no reference GGD for task(s) {', '.join(missing)}")
        names = list(names) if names else [f"G{i + 1}" for i in range(len(members))]
        if len(names) != len(members):
            raise RestoreLabError(f"{len(names)} group names for {len(members)} groups")
        member_ggds = [[task_ggds[t] for t in g] for g in members]
        return cls(names, members, [G.average(m) for m in member_ggds],
                   list(models) if models else [None] * len(members), member_ggds, check_rule(rule))

    def of_task(self, task: str) -> str:
        for n, m in zip(self.names, self.members):
            if task in m:
                return n
        raise RestoreLabError(f"task {task!r} is in no group")


@dataclass
class Selection:
    group: str
    tasks: List[str]
    distance: float
    distances: Dict[str, float]
    ood: bool
    threshold: Optional[float]
    ggd: Dict[str, float]
    model: Optional[str] = None
    rule: str = "mean"

    def to_dict(self) -> dict:
        return asdict(self)


def distances(image_ggd: G.GGD, groups: Groups, symmetric: bool = False) -> Dict[str, float]:
    """group name -> ``srga_score(KL(group || image))``, the group's GGD per ``groups.rule``."""
    if groups.rule == "nearest":
        return {n: min(G.distance(g, image_ggd, symmetric) for g in m)
                for n, m in zip(groups.names, groups.member_ggds)}
    return {n: G.distance(g, image_ggd, symmetric) for n, g in zip(groups.names, groups.ggds)}


def choose(image_ggd: G.GGD, groups: Groups, threshold: Optional[float] = None,
           symmetric: bool = False) -> Selection:
    d = distances(image_ggd, groups, symmetric)
    best = min(d, key=d.get)
    i = groups.names.index(best)
    return Selection(best, groups.members[i], d[best], d, threshold is not None and d[best] > threshold,
                     threshold, image_ggd.to_dict(), groups.models[i] if groups.models else None, groups.rule)


def select(img: np.ndarray, model, groups: Groups, cfg, threshold: Optional[float] = None,
           seed=0, symmetric: bool = False) -> Selection:
    """Pick the group for one HxWx3 float image (``model``: the descriptor, ``cfg``: DescriptorConfig)."""
    from restorelab.grids.descriptor import ggd_of_images

    return choose(ggd_of_images(model, [img], cfg, seed=seed), groups, threshold, symmetric)


def _degraded_cases(photos: Sequence[np.ndarray], tasks: Sequence[str], seed: int):
    for t in check_tasks(tasks):
        for i, p in enumerate(photos):
            yield t, i, degrade(t, p, seed=[seed, i, TASKS.index(t)])


def calibrate(model, photos: Sequence[np.ndarray], groups: Groups, cfg, quantile: float = 0.99,
              tasks: Sequence[str] = TASKS, seed: int = 20_000, symmetric: bool = False) -> dict:
    """OOD threshold: the ``quantile`` of the smallest group distance over held-out photos degraded
    with every in-distribution task. Returns ``{"threshold", "quantile", "min_distances", "n"}``."""
    if not 0 < quantile <= 1:
        raise RestoreLabError(f"quantile must be in (0, 1], got {quantile}")
    mins = [select(img, model, groups, cfg, seed=[seed, i, TASKS.index(t)], symmetric=symmetric).distance
            for t, i, img in _degraded_cases(photos, tasks, seed)]
    return {"threshold": float(np.quantile(mins, quantile)), "quantile": quantile,
            "min_distances": [float(v) for v in mins], "n": len(mins)}


def confusion(model, photos: Sequence[np.ndarray], groups: Groups, cfg, tasks: Sequence[str] = TASKS,
              seed: int = 30_000, threshold: Optional[float] = None, symmetric: bool = False,
              task_ggds: Optional[Dict[str, G.GGD]] = None) -> dict:
    """Selection on ``photos`` degraded with each task: ``counts[task][group]``, per-task accuracy
    (chosen group holds the task), overall accuracy, and how many were flagged OOD.

    ``task_ggds`` (every task's reference GGD) adds a diagnostic of the descriptor itself:
    ``task_accuracy[task]``, how often the image's GGD is nearest its own task's reference among
    all of them (group selection cannot separate what this cannot), and ``member_accuracy[task]``,
    how often that nearest reference lies in the task's group (what rule ``"nearest"`` selects).
    """
    counts = {t: {n: 0 for n in groups.names} for t in tasks}
    ood = {t: 0 for t in tasks}
    own = {t: 0 for t in tasks}
    member = {t: 0 for t in tasks}
    for t, i, img in _degraded_cases(photos, tasks, seed):
        s = select(img, model, groups, cfg, threshold, seed=[seed, i, TASKS.index(t)], symmetric=symmetric)
        counts[t][s.group] += 1
        ood[t] += int(s.ood)
        if task_ggds:
            g = G.GGD(s.ggd["sigma"], s.ggd["shape"])
            nearest = min(task_ggds, key=lambda r: G.distance(task_ggds[r], g, symmetric))
            own[t] += int(nearest == t)
            member[t] += int(nearest in groups.members[groups.names.index(groups.of_task(t))])
    n = {t: max(1, sum(counts[t].values())) for t in tasks}
    acc = {t: counts[t][groups.of_task(t)] / n[t] for t in tasks}
    res = {"groups": dict(zip(groups.names, groups.members)), "counts": counts, "accuracy": acc,
           "mean_accuracy": float(np.mean(list(acc.values()))), "min_accuracy": float(min(acc.values())),
           "ood": ood, "n_photos": len(photos)}
    if task_ggds:
        res["task_accuracy"] = {t: own[t] / n[t] for t in tasks}
        res["mean_task_accuracy"] = float(np.mean(list(res["task_accuracy"].values())))
        res["member_accuracy"] = {t: member[t] / n[t] for t in tasks}
        res["mean_member_accuracy"] = float(np.mean(list(res["member_accuracy"].values())))
    return res


def ood_rate(model, photos: Sequence[np.ndarray], groups: Groups, cfg, threshold: float, degradation: str = "haze",
             seed: int = 50_000) -> dict:
    """How often photos degraded with a degradation outside the groups (e.g. the core ``haze`` or
    ``rain``, default parameters) are flagged out-of-distribution: ``{"rate", "distances", "n"}``."""
    from restorelab import degradations as D

    dist = []
    for i, p in enumerate(photos):
        img = D.apply(degradation, p, seed=[seed, i])
        dist.append(select(img, model, groups, cfg, threshold, seed=[seed, i]).distance)
    return {"rate": float(np.mean([d > threshold for d in dist])), "distances": dist, "n": len(dist)}
