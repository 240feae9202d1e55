"""GRIDS (Cao, Liu et al., ECCV 2024): degradation similarity, grouping search, adaptive selection.

The 11 tasks are degradations of :mod:`restorelab.degradations` (the nine GRIDS-specific ones
live in ``restorelab.degradations.grids``, registered with the rest). Heavy parts (torch) live in
submodules that are imported on use: ``srresnet`` (the descriptor network), ``ggd`` (fit, KL,
score), ``descriptor`` (image -> patches -> features -> GGD), ``similarity`` (the 11 x 11 matrix),
``search`` (Algorithm 1), ``deltap`` (measured performance drops), ``select`` (adaptive model
selection) and ``cli``.

>>> from restorelab import grids
>>> len(grids.TASKS)
11
"""

from restorelab.grids.tasks import LABELS, PAPER_GROUPS, PARAMS, TASKS, GridsPairs, degrade, parse_tasks

__all__ = ["LABELS", "PAPER_GROUPS", "PARAMS", "TASKS", "GridsPairs", "degrade", "parse_tasks"]
