"""Data: task names, synthetic training pairs, real paired/noisy folders, evaluation sets.

Datasets return numpy/torch data without touching global random state; ``torch`` is only
imported when a ``SyntheticPairs`` item is fetched as tensors.
"""

from restorelab.data._imread import list_images
from restorelab.data.tasks import ALL_IN_ONE_TASKS, REAL_TASKS, parse_task, synthesize
from restorelab.data.folders import DegradedFolder, NoisyFolder, PairedFolder, find_pairs, official_layout
from restorelab.data.synthetic import DEFAULT_LENGTH, SyntheticPairs
from restorelab.data.evalsets import EvalSet, eval_sets, resolve_data_root

__all__ = [
    "ALL_IN_ONE_TASKS", "REAL_TASKS", "DegradedFolder", "list_images", "parse_task", "synthesize", "NoisyFolder", "PairedFolder", "find_pairs",
    "official_layout", "DEFAULT_LENGTH", "SyntheticPairs", "EvalSet", "eval_sets",
    "resolve_data_root",
]
