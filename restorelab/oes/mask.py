"""Which generator tensors OES masks, and the masks of the methods it compares, at an exact density.

Masked tensors (``masked_names``): **every convolution weight except the final 1x1 output
conv**. Biases and BatchNorm γ/β stay dense and trainable. The reference masks all
parameters; we do not, because a zeroed BN γ or output-conv column silences a whole channel or
colour (a main cause of the "layer collapse" of its 5% baselines), and the unmasked tensors are
0.2% of the parameters (5,731 of 3,008,867 in ``paper``; 2,083 of 245,155 in ``lean``). Density
is measured over the masked tensors only.

Masks, densities and the selection rules are ``restorelab.pruning``'s: the random and magnitude
baselines prune the all-ones mask at rate ``1 - density``; the OES top-k of the learned logits
is ``pruning.topk_mask``.
"""

from __future__ import annotations

from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.pruning import Masks, check_density, ones_masks, prune_global, prune_random
from restorelab.pruning import check_masks as check_binary_masks

OUTPUT_WEIGHT = "out.weight"


def masked_names(net: nn.Module) -> list[str]:
    """Names of the masked tensors: conv weights except ``out.weight``, in parameter order."""
    convs = {f"{n}.weight" for n, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    return [n for n, _ in net.named_parameters() if n in convs and n != OUTPUT_WEIGHT]


def magnitude_mask(net: nn.Module, density: float) -> Masks:
    """Global magnitude pruning at init: keep the largest ``|w|`` over the masked tensors."""
    params = dict(net.named_parameters())
    names = masked_names(net)
    return prune_global({n: params[n] for n in names}, ones_masks(net, names), 1.0 - check_density(density))


def random_mask(net: nn.Module, density: float, seed: int = 0) -> Masks:
    """Uniformly random global mask (layer densities follow layer sizes), seeded."""
    return prune_random(None, ones_masks(net, masked_names(net)), 1.0 - check_density(density), seed)


def check_masks(net: nn.Module, masks: Masks) -> None:
    """RestoreLabError unless ``masks`` covers exactly the masked tensors, with their shapes, 0/1."""
    expected = masked_names(net)
    if sorted(masks) != sorted(expected):
        raise RestoreLabError(f"mask does not fit this generator: it has {len(masks)} tensors, "
                              f"the generator masks {len(expected)}")
    check_binary_masks(net, masks)
