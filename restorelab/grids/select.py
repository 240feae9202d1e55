"""Adaptive model selection (GRIDS Sec. 5.2): image -> GGD -> distance to each group -> model.

A group's GGD is the mean of its members' GGD parameters (the paper's definition, rule ``"mean"``);
the distance is ``srga_score(KL(GGD(C) || GGD(image)))`` (Eq. 7: reference first, as SRGA's
``KL_GGD3``). Rule ``"nearest"`` instead takes a group's distance as that of its closest member: the
mean of unlike members' parameters (a noise and a blur) lies near neither. The chosen group is the
closest; the image is flagged out-of-distribution when even that distance is above a threshold
calibrated on held-out in-distribution images with the same rule (:func:`calibrate`).

Rule ``"feature"`` is not the paper's: it sends the image to the group of the nearest task Gaussian of
the OOD model below (richer statistics of the same features), ignoring the GGDs.

The out-of-distribution flag has two scores. The paper's (``ood_method="distance"``): the smallest
group distance above a threshold. The shipped one (``ood_method="feature"``, :mod:`restorelab.grids.ood`):
the nearest-task Mahalanobis distance of per-channel feature statistics from the same forward pass,
above the threshold stored with that model; it does not depend on the groups or the rule. Either way
``Selection.ood_score`` is the number compared with ``Selection.threshold``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from restorelab.errors import RestoreLabError
from restorelab.grids import ggd as G
from restorelab.grids.tasks import TASKS, check_tasks, degrade

RULES = ("mean", "nearest", "feature")


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
    ood_score: Optional[float] = None  # what ``threshold`` is compared with (None: no threshold)
    ood_method: str = "distance"  # "distance" (smallest group distance) | "feature" (see the module docstring)
    nearest_task: Optional[str] = None  # with an OOD model: the task whose Gaussian is nearest

    def to_dict(self) -> dict:
        return asdict(self)


def distances(image_ggd: G.GGD, groups: Groups, symmetric: bool = False) -> Dict[str, float]:
    """group name -> ``srga_score(KL(group || image))``, the group's GGD per ``groups.rule``."""
    if groups.rule == "nearest":
        return {n: min(G.distance(g, image_ggd, symmetric) for g in m)
                for n, m in zip(groups.names, groups.member_ggds)}
    return {n: G.distance(g, image_ggd, symmetric) for n, g in zip(groups.names, groups.ggds)}


def choose(image_ggd: G.GGD, groups: Groups, threshold: Optional[float] = None,
           symmetric: bool = False, vector: Optional[np.ndarray] = None, ood=None) -> Selection:
    """The group for an image's GGD. With ``ood`` (an :class:`ood.OODModel`) and the image's statistics
    ``vector``, the OOD flag is the feature score against ``ood.threshold`` (``threshold`` is then unused),
    and rule ``"feature"`` can pick the group."""
    d = distances(image_ggd, groups, symmetric)
    score, near = ood.score(vector) if ood is not None else (None, None)
    if groups.rule == "feature":
        if near is None:
            raise RestoreLabError("rule 'feature' needs the OOD model (weights/grids/ood.safetensors); "
                                  "run `restorelab grids calibrate` first")
        best = groups.of_task(near)
    else:
        best = min(d, key=d.get)
    i = groups.names.index(best)
    if ood is not None:
        threshold, method = ood.threshold, "feature"
    else:
        score, method = (d[best] if threshold is not None else None), "distance"
    return Selection(best, groups.members[i], d[best], d, threshold is not None and score > threshold,
                     threshold, image_ggd.to_dict(), groups.models[i] if groups.models else None, groups.rule,
                     None if score is None else float(score), method, near)


def select(img: np.ndarray, model, groups: Groups, cfg, threshold: Optional[float] = None,
           seed=0, symmetric: bool = False, ood=None) -> Selection:
    """Pick the group for one HxWx3 float image (``model``: the descriptor, ``cfg``: DescriptorConfig;
    ``ood``: an :class:`ood.OODModel`, whose score and threshold then make the OOD flag)."""
    if ood is None and groups.rule != "feature":
        from restorelab.grids.descriptor import ggd_of_images

        return choose(ggd_of_images(model, [img], cfg, seed=seed), groups, threshold, symmetric)
    from restorelab.grids.ood import describe

    g, v = describe(model, img, cfg, seed=seed)
    return choose(g, groups, threshold, symmetric, v, ood)


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
              task_ggds: Optional[Dict[str, G.GGD]] = None, ood=None) -> dict:
    """Selection on ``photos`` degraded with each task: ``counts[task][group]``, per-task accuracy
    (chosen group holds the task), overall accuracy, and how many were flagged OOD (``ood[task]``;
    ``false_alarm_rate`` over all cases, when a threshold or OOD model is given).

    ``task_ggds`` (every task's reference GGD) adds a diagnostic of the descriptor itself:
    ``task_accuracy[task]``, how often the image's GGD is nearest its own task's reference among
    all of them (group selection cannot separate what this cannot), and ``member_accuracy[task]``,
    how often that nearest reference lies in the task's group (what rule ``"nearest"`` selects).
    """
    counts = {t: {n: 0 for n in groups.names} for t in tasks}
    flagged = {t: 0 for t in tasks}
    own = {t: 0 for t in tasks}
    member = {t: 0 for t in tasks}
    feature_right = {t: 0 for t in tasks}
    scores = {t: [] for t in tasks}
    for t, i, img in _degraded_cases(photos, tasks, seed):
        s = select(img, model, groups, cfg, threshold, seed=[seed, i, TASKS.index(t)], symmetric=symmetric,
                   ood=ood)
        counts[t][s.group] += 1
        flagged[t] += int(s.ood)
        if s.ood_score is not None:
            scores[t].append(s.ood_score)
        if s.nearest_task is not None:
            feature_right[t] += int(groups.of_task(s.nearest_task) == groups.of_task(t))
        if task_ggds:
            g = G.GGD(s.ggd["sigma"], s.ggd["shape"])
            nearest = min(task_ggds, key=lambda r: G.distance(task_ggds[r], g, symmetric))
            own[t] += int(nearest == t)
            member[t] += int(nearest in groups.members[groups.names.index(groups.of_task(t))])
    n = {t: max(1, sum(counts[t].values())) for t in tasks}
    acc = {t: counts[t][groups.of_task(t)] / n[t] for t in tasks}
    res = {"groups": dict(zip(groups.names, groups.members)), "counts": counts, "accuracy": acc,
           "mean_accuracy": float(np.mean(list(acc.values()))), "min_accuracy": float(min(acc.values())),
           "ood": flagged, "n_photos": len(photos)}
    if threshold is not None or ood is not None:
        res["ood_method"] = "feature" if ood is not None else "distance"
        res["threshold"] = ood.threshold if ood is not None else threshold
        res["false_alarm_rate"] = sum(flagged.values()) / max(1, sum(n.values()))
        res["ood_scores"] = {t: [round(v, 4) for v in scores[t]] for t in tasks}
    if ood is not None:  # what rule "feature" (nearest task Gaussian) would select
        res["feature_accuracy"] = {t: feature_right[t] / n[t] for t in tasks}
        res["mean_feature_accuracy"] = float(np.mean(list(res["feature_accuracy"].values())))
    if task_ggds:
        res["task_accuracy"] = {t: own[t] / n[t] for t in tasks}
        res["mean_task_accuracy"] = float(np.mean(list(res["task_accuracy"].values())))
        res["member_accuracy"] = {t: member[t] / n[t] for t in tasks}
        res["mean_member_accuracy"] = float(np.mean(list(res["member_accuracy"].values())))
    return res


def ood_rate(model, photos: Sequence[np.ndarray], groups: Groups, cfg, threshold: Optional[float] = None,
             degradation: str = "haze", seed: int = 50_000, ood=None) -> dict:
    """How often photos degraded with a degradation outside the groups (e.g. the core ``haze`` or
    ``rain``, default parameters) are flagged out-of-distribution: ``{"rate", "scores", "distances",
    "groups", "n"}`` (``scores``: what was compared with the threshold; ``ood`` as in :func:`select`)."""
    from restorelab import degradations as D

    if threshold is None and ood is None:
        raise RestoreLabError("ood_rate needs a threshold or an OOD model")
    sel = []
    for i, p in enumerate(photos):
        img = D.apply(degradation, p, seed=[seed, i])
        sel.append(select(img, model, groups, cfg, threshold, seed=[seed, i], ood=ood))
    return {"rate": float(np.mean([s.ood for s in sel])), "scores": [s.ood_score for s in sel],
            "distances": [s.distance for s in sel], "groups": [s.group for s in sel], "n": len(sel),
            "threshold": sel[0].threshold if sel else None}
