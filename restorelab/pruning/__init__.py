"""Pruning masks, scores and selection: the one home of what MIR-L (``lottery``) and OES (``oes``) share.

* ``masks``   the mask form (``dict[param name -> float32 0/1 tensor]``), which tensors are prunable,
              all-ones masks, counts, sparsity reports, mask files
* ``scores``  how survivors are ranked: magnitude, LAMP
* ``select``  new masks: global / layer-wise top-k by score, random, top-k at a density
* ``apply``   zero pruned weights and keep them zero through optimizer steps

Imports only ``models``, ``errors`` and ``io``; ``lottery`` and ``oes`` build on it.

>>> from restorelab.models import create_model
>>> net = create_model("dncnn-classroom", width=8, depth=3)
>>> masks = prune("global", dict(net.named_parameters()), ones_masks(net), 0.5)
>>> round(density_of(masks), 2)
0.5
"""

from restorelab.pruning.apply import apply_masks, masked_step
from restorelab.pruning.masks import (Masks, check_masks, density_of, kept_count, layer_report, load_masks,
                                      masks_from_weights, ones_masks, prunable_names, save_masks, sparsity_of,
                                      sparsity_report, total_count)
from restorelab.pruning.scores import SCORES, lamp_scores, magnitude_scores
from restorelab.pruning.select import (STRATEGIES, check_density, n_keep, n_to_prune, planned_kept, prune,
                                       prune_global, prune_layerwise, prune_random, topk_mask)

__all__ = ["SCORES", "STRATEGIES", "Masks", "apply_masks", "check_density", "check_masks", "density_of",
           "kept_count", "lamp_scores", "layer_report", "load_masks", "magnitude_scores", "masked_step",
           "masks_from_weights", "n_keep", "n_to_prune", "ones_masks", "planned_kept", "prunable_names", "prune",
           "prune_global", "prune_layerwise", "prune_random", "save_masks", "sparsity_of", "sparsity_report",
           "topk_mask", "total_count"]
