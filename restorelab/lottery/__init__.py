"""MIR-L: lottery-ticket pruning of the all-in-one restorer (issue 3).

* ``rounds``     one masked training round in a directory and the record it leaves
* ``imp``        iterative magnitude pruning with rewinding (Algorithm 1), resumable
* ``baselines``  one-shot magnitude / random (PIR-OSM, PIR-OSR) and the random re-init control
* ``export``     compact file + card into ``weights/``
* ``demo``       the classroom experiment, a generator of per-round results
* ``cli``        ``restorelab prune`` and ``restorelab export``

Masks, scores and pruning strategies live in ``restorelab.pruning`` (shared with OES); the
compact file format and dead-channel removal in ``restorelab.inference.compact`` / ``.shrink``.

``import restorelab.lottery`` loads torch (masks are tensors); training, data and the UI
import lazily inside the functions that need them.
"""

from restorelab.lottery.baselines import BaselineConfig, run_oneshot, run_reinit
from restorelab.lottery.demo import DemoConfig, run_demo
from restorelab.lottery.imp import IMP, LotteryConfig

__all__ = ["IMP", "BaselineConfig", "DemoConfig", "LotteryConfig", "run_demo", "run_oneshot", "run_reinit"]
