"""Every shipped weights file with a card loads through its normal loader, matches its card and runs."""

import json
from pathlib import Path

import pytest
import torch

from restorelab.inference.weights import load_weights
from restorelab.models import count_params, get_preset
from restorelab.paths import WEIGHTS_DIR

SHIPPED = sorted(p for p in Path(WEIGHTS_DIR).rglob("*.safetensors") if p.with_suffix(".json").exists())


def _id(path: Path) -> str:
    return str(path.relative_to(WEIGHTS_DIR).with_suffix(""))


def test_weights_are_shipped():
    assert len(SHIPPED) >= 20, SHIPPED  # the folder really was found


def _check_model(path: Path, card: dict) -> None:
    torch.manual_seed(0)
    model = load_weights(path)
    total, nonzero = count_params(model)
    assert total == card["params"]
    if "nonzero_params" in card:
        assert nonzero == card["nonzero_params"]
    if "preset" in card:  # built from a registered preset
        assert model.family == get_preset(card["preset"]).family
    with torch.no_grad():
        y = model(torch.rand(1, 3, 19, 23))
    scale = getattr(model.config, "scale", 1)
    assert y.shape == (1, 3, 19 * scale, 23 * scale) and torch.isfinite(y).all()


def _check_oes_mask(path: Path, card: dict) -> None:
    from restorelab.models.dip import build_generator, crop, get_config, noise_input
    from restorelab.oes.maskfile import load_mask
    from restorelab.pruning import apply_masks

    masks, meta = load_mask(path)
    assert (meta["kept"], meta["total"]) == (card["kept"], card["total"])
    assert sum(int(m.sum()) for m in masks.values()) == card["kept"]
    net = build_generator(get_config(card["preset"]), seed=meta["seed"])
    params = dict(net.named_parameters())
    assert all(params[n].shape == m.shape for n, m in masks.items())
    apply_masks(net, masks)
    with torch.no_grad():
        y = crop(net(noise_input(net.config, 19, 23)), 19, 23)
    assert y.shape == (1, 3, 19, 23) and torch.isfinite(y).all()


CHECKS = {"oes-mask": _check_oes_mask}  # card kind -> check; any other kind is a model


@pytest.mark.parametrize("path", SHIPPED, ids=_id)
def test_shipped_file_loads_matches_its_card_and_runs(path):
    card = json.loads(path.with_suffix(".json").read_text())
    CHECKS.get(card.get("kind"), _check_model)(path, card)
