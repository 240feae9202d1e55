"""Which generator tensors OES masks, and the masks of the methods it compares, at an exact density.

Masked tensors (``masked_names``), by *scope*:

* ``"all"`` (the reference's): **every parameter**, BatchNorm γ/β, biases and the output 1x1 conv
  included. A zeroed BN γ or output-conv column silences a whole channel or colour, which is
  what makes the reference's random and magnitude 5% masks collapse, and what a learned mask
  must learn to avoid (``docs/oes.md``).
* ``"weights"``: every convolution weight except the final 1x1 output conv; biases and BN γ/β
  stay dense and trainable (0.2% of the parameters: 5,731 of 3,008,867 in ``paper``; 2,083 of
  245,155 in ``lean``). Here a random 5% mask does not collapse.

Density is measured over the masked tensors only. A mask's scope is read off its tensor names
(``scope_of``).

Masks, densities and the selection rules are ``restorelab.pruning``'s: the random and magnitude
baselines prune the all-ones mask at rate ``1 - density``; the OES top-k of the learned logits
is ``pruning.topk_mask``.
"""

from __future__ import annotations

from torch import nn

from restorelab.errors import RestoreLabError
from restorelab.oes._common import SCOPES
from restorelab.pruning import Masks, check_density, ones_masks, prune_global, prune_random
from restorelab.pruning import check_masks as check_binary_masks

OUTPUT_WEIGHT = "out.weight"


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise RestoreLabError(f"unknown mask scope {scope!r}; valid: {', '.join(SCOPES)}")
    return scope


def masked_names(net: nn.Module, scope: str = "weights") -> list[str]:
    """Names of the masked tensors of ``scope`` (module docstring), in parameter order."""
    if check_scope(scope) == "all":
        return [n for n, _ in net.named_parameters()]
    convs = {f"{n}.weight" for n, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    return [n for n, _ in net.named_parameters() if n in convs and n != OUTPUT_WEIGHT]


def magnitude_mask(net: nn.Module, density: float, scope: str = "weights") -> Masks:
    """Global magnitude pruning at init: keep the largest ``|w|`` over the masked tensors."""
    params = dict(net.named_parameters())
    names = masked_names(net, scope)
    return prune_global({n: params[n] for n in names}, ones_masks(net, names), 1.0 - check_density(density))


def random_mask(net: nn.Module, density: float, seed: int = 0, scope: str = "weights") -> Masks:
    """Uniformly random global mask (layer densities follow layer sizes), seeded."""
    return prune_random(None, ones_masks(net, masked_names(net, scope)), 1.0 - check_density(density), seed)


def scope_of(net: nn.Module, masks: Masks) -> str:
    """The scope whose tensors ``masks`` covers exactly; RestoreLabError if none."""
    for scope in SCOPES:
        if sorted(masks) == sorted(masked_names(net, scope)):
            return scope
    raise RestoreLabError(f"mask does not fit this generator: it has {len(masks)} tensors, the generator "
                          f"masks {' or '.join(str(len(masked_names(net, s))) for s in SCOPES)}")


def check_masks(net: nn.Module, masks: Masks) -> str:
    """The masks' scope; RestoreLabError unless they cover one scope's tensors exactly, with their shapes, 0/1."""
    scope = scope_of(net, masks)
    check_binary_masks(net, masks)
    return scope
