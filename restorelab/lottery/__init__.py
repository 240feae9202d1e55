"""MIR-L: lottery-ticket pruning of the all-in-one restorer (issue 3).

* ``masks``      which tensors are prunable, all-ones masks, sparsity reports, mask files
* ``pruning``    global / layer-wise magnitude and random pruning at a rate of the survivors
* ``rounds``     one masked training round in a directory and the record it leaves
* ``imp``        iterative magnitude pruning with rewinding (Algorithm 1), resumable
* ``baselines``  one-shot magnitude / random (PIR-OSM, PIR-OSR) and the random re-init control
* ``compact``    bit-packed masks + surviving values in one safetensors file (the format lives
                 with the other weight loaders in ``restorelab.inference.compact``)
* ``shrink``     remove dead channels: a smaller, faster module with the same outputs (lives in
                 ``restorelab.inference.shrink``, which loading a pruned model uses)
* ``export``     compact file + card into ``weights/``
* ``demo``       the classroom experiment, a generator of per-round results
* ``cli``        ``restorelab prune`` and ``restorelab export``

``import restorelab.lottery`` loads torch (masks are tensors); training, data and the UI
import lazily inside the functions that need them.
"""

from restorelab.lottery.baselines import BaselineConfig, run_oneshot, run_reinit
from restorelab.lottery.compact import load_compact, save_compact  # from restorelab.inference.compact
from restorelab.lottery.demo import DemoConfig, run_demo
from restorelab.lottery.imp import IMP, LotteryConfig

from restorelab.lottery.masks import (
    Masks,
    load_masks,
    ones_masks,
    prunable_names,
    save_masks,
    sparsity_of,
    sparsity_report,
)
from restorelab.lottery.pruning import prune, prune_global, prune_layerwise, prune_random
from restorelab.lottery.shrink import shrink  # from restorelab.inference.shrink

__all__ = ["IMP", "BaselineConfig", "DemoConfig", "LotteryConfig", "Masks", "load_compact", "load_masks",
           "ones_masks", "prunable_names", "prune", "prune_global", "prune_layerwise", "prune_random", "run_demo",
           "run_oneshot", "run_reinit", "save_compact", "save_masks", "shrink", "sparsity_of", "sparsity_report"]
