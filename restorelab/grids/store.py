"""Where GRIDS keeps its shipped artefacts: ``weights/grids/`` (not listed as restorers).

* ``descriptor.safetensors`` (+ ``descriptor.json``): the SRResNet descriptor.
* ``similarity.json``: task GGDs and the 11 x 11 matrix (:mod:`restorelab.grids.similarity`).
* ``deltap.json``: measured dP per group (:class:`restorelab.grids.search.DeltaCache`).
* ``groups.json``: the chosen partition, its model names, the OOD threshold (:class:`GroupsFile`).
* ``ood.safetensors``: the out-of-distribution model and its threshold (:mod:`restorelab.grids.ood`),
  used when ``groups.json``'s calibration says ``"score": "feature"``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional

from restorelab.errors import RestoreLabError
from restorelab.grids.tasks import PAPER_GROUPS, check_tasks
from restorelab.io import atomic_write


def grids_dir() -> Path:
    from restorelab.paths import default_weights_dir

    return default_weights_dir() / "grids"


def path(name: str) -> Path:
    files = {"descriptor": "descriptor.safetensors", "similarity": "similarity.json", "deltap": "deltap.json",
             "groups": "groups.json", "search": "search.json", "ood": "ood.safetensors"}
    if name not in files:
        raise RestoreLabError(f"unknown GRIDS artefact {name!r}; valid: {', '.join(files)}")
    return grids_dir() / files[name]


@dataclass
class GroupsFile:
    """The partition used at inference: groups, their names and restorers, the OOD threshold."""

    groups: List[List[str]]
    names: List[str] = field(default_factory=list)
    models: List[Optional[str]] = field(default_factory=list)
    threshold: Optional[float] = None
    source: str = "paper"  # "paper" | "search <result file>"
    calibration: dict = field(default_factory=dict)
    search: dict = field(default_factory=dict)  # the SearchConfig that found the groups (the app's δ slider reuses it)
    rule: str = "mean"  # group distance: "mean" (the paper's averaged GGD) | "nearest" (closest member); see select

    def __post_init__(self):
        self.groups = [list(check_tasks(g)) for g in self.groups]
        flat = [t for g in self.groups for t in g]
        if len(set(flat)) != len(flat):
            raise RestoreLabError("a task appears in two groups")
        self.names = self.names or [f"G{i + 1}" for i in range(len(self.groups))]
        self.models = self.models or [None] * len(self.groups)
        from restorelab.grids.select import check_rule

        check_rule(self.rule)
        if not (len(self.names) == len(self.models) == len(self.groups)):
            raise RestoreLabError("groups, names and models must have the same length")

    def set_rule(self, rule: Optional[str]) -> None:
        """Switch the group distance rule (None keeps it); a threshold calibrated with another rule
        does not apply, so it is dropped."""
        from restorelab.grids.select import check_rule

        if rule is not None and check_rule(rule) != self.rule:
            self.rule = rule
            if not self.feature_ood:  # the feature score does not depend on the rule
                self.threshold, self.calibration = None, {}

    @property
    def feature_ood(self) -> bool:
        """Whether the OOD flag is the feature score of ``ood.safetensors`` (else the smallest distance)."""
        return self.threshold is not None and self.calibration.get("score") == "feature"

    def save(self, p: Path) -> None:
        text = json.dumps(asdict(self), indent=1)
        atomic_write(p, lambda tmp: tmp.write_text(text))

    @classmethod
    def load(cls, p: Path) -> "GroupsFile":
        try:
            d = json.loads(Path(p).read_text())
            return cls(**d)
        except FileNotFoundError:
            raise RestoreLabError(f"no groups file at {p}") from None
        except (json.JSONDecodeError, TypeError) as err:
            raise RestoreLabError(f"{p}: not a GRIDS groups file ({err})") from None


def load_groups(p: Optional[Path] = None) -> GroupsFile:
    """The groups file, or the paper's 4 groups (no models, no threshold) when there is none."""
    if p is not None:
        return GroupsFile.load(Path(p))
    if not path("groups").exists():
        return GroupsFile([list(g) for g in PAPER_GROUPS])
    return GroupsFile.load(path("groups"))


def search_config(delta: Optional[float] = None):
    """The SearchConfig of the shipped groups (defaults when they are not from a search), at ``delta``."""
    from restorelab.grids.search import SearchConfig

    cfg = dict(load_groups().search)
    if delta is not None:
        cfg["delta"] = float(delta)
    return SearchConfig(**cfg)


# -- what selection needs, loaded the same way by the CLI and the app ----------------------------
def load_similarity(p: Optional[Path] = None):
    """The similarity cache (``weights/grids/similarity.json`` unless ``p``); raises when absent."""
    from restorelab.grids import similarity

    return similarity.load(p or path("similarity"))


def pipeline_config(sim):
    """The descriptor pipeline the similarity cache was computed with (selection must match it)."""
    from restorelab.grids.descriptor import DescriptorConfig

    return DescriptorConfig(**sim.key.get("config", {}))


def load_descriptor_for(sim, p: Optional[Path] = None):
    """The descriptor (``weights/grids/descriptor.safetensors`` unless ``p``), checked to be the one
    the similarity cache was computed with. A missing file raises: there is no untrained fallback,
    since distances to references made by another network mean nothing."""
    from restorelab.grids.similarity import file_hash
    from restorelab.grids.srresnet import load_descriptor

    p = p or path("descriptor")
    if sim.key.get("descriptor") not in (None, file_hash(p)):
        raise RestoreLabError(f"{p} is not the descriptor the similarity cache was computed with; "
                              "recompute it with `restorelab grids similarity`")
    return load_descriptor(p)


def selection_groups(sim, p: Optional[Path] = None, rule: Optional[str] = None):
    """``(GroupsFile, select.Groups)``: the groups file (or the paper's groups) with the similarity
    cache's reference GGDs. ``rule`` overrides the file's distance rule; the file's OOD threshold
    was calibrated with its own rule, so it is dropped when the rule changes."""
    from restorelab.grids.select import Groups

    gf = load_groups(p)
    gf.set_rule(rule)
    return gf, Groups.from_task_ggds(gf.groups, sim.reference_ggds, gf.names, gf.models, gf.rule)


def ood_path(groups: Optional[Path] = None, gf: Optional[GroupsFile] = None) -> Path:
    """Where the OOD model of a groups file lives: beside it (``calibration["file"]``, default
    ``ood.safetensors``), so ``weights/grids/ood.safetensors`` for the shipped groups."""
    name = (gf.calibration.get("file") if gf is not None else None) or path("ood").name
    return Path(groups or path("groups")).parent / name


def load_ood(gf: GroupsFile, sim, groups: Optional[Path] = None, descriptor: Optional[Path] = None):
    """The OOD model when the groups file's calibration (or rule ``"feature"``) uses it, else None;
    ``groups``: the groups file's path (the model lies beside it, :func:`ood_path`). Checked to be
    made with the descriptor and pipeline of the similarity cache; a missing or foreign file raises."""
    if not gf.feature_ood and gf.rule != "feature":
        return None
    from restorelab.grids.ood import OODModel
    from restorelab.grids.similarity import file_hash

    p = ood_path(groups, gf)
    if not p.exists():
        raise RestoreLabError(f"the groups file's OOD flag needs {p}; run `restorelab grids calibrate`")
    m = OODModel.load(p)
    want = sim.key.get("descriptor")
    have = m.meta.get("descriptor")
    if want is not None and have is not None and want != have:
        raise RestoreLabError(f"{p} was calibrated with another descriptor; run `restorelab grids calibrate`")
    if descriptor is not None and have is not None and file_hash(descriptor) != have:
        raise RestoreLabError(f"{p} was calibrated with another descriptor than {descriptor}")
    if m.meta.get("config") not in (None, pipeline_config(sim).to_dict()):
        raise RestoreLabError(f"{p} was calibrated with another descriptor pipeline; run `restorelab grids calibrate`")
    if gf.feature_ood and m.threshold is not None and abs(m.threshold - gf.threshold) > 1e-6 * max(1.0, abs(m.threshold)):
        raise RestoreLabError(f"{p} (threshold {m.threshold:.4f}) does not match the groups file's "
                              f"({gf.threshold:.4f}); run `restorelab grids calibrate`")
    return m


@dataclass
class Selector:
    """Everything adaptive selection needs, from the shipped artefacts (see :func:`load_selector`)."""

    groups_file: GroupsFile
    groups: object  # select.Groups
    similarity: object  # similarity.Similarity
    descriptor: object  # srresnet.SRResNet
    config: object  # descriptor.DescriptorConfig
    ood: object = None  # ood.OODModel, when the groups file's OOD flag uses it

    def select(self, img, seed=0):
        """The :class:`select.Selection` for one HxWx3 float image (threshold from the groups file)."""
        from restorelab.grids.select import select

        return select(img, self.descriptor, self.groups, self.config, self.groups_file.threshold, seed=seed,
                      ood=self.ood)


def load_selector(similarity: Optional[Path] = None, groups: Optional[Path] = None,
                  descriptor: Optional[Path] = None) -> Selector:
    """Similarity cache + groups file (or the paper's groups) + the matching descriptor; each path
    defaults to its file in ``weights/grids/``. Raises a one-line error naming what is missing."""
    sim = load_similarity(similarity)
    gf, grp = selection_groups(sim, groups)
    return Selector(gf, grp, sim, load_descriptor_for(sim, descriptor), pipeline_config(sim),
                    load_ood(gf, sim, groups, descriptor))
