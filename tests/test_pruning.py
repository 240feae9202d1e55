"""``restorelab.pruning``, shared by MIR-L and OES: the invariants (exact counts, masks shrink,
score order globally or per tensor, seeded randomness, pruned weights stay zero through steps)."""

import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.models import create_model
from restorelab.pruning import (
    apply_masks,
    check_density,
    check_masks,
    density_of,
    kept_count,
    lamp_scores,
    load_masks,
    masked_step,
    masks_from_weights,
    n_keep,
    n_to_prune,
    ones_masks,
    planned_kept,
    prunable_names,
    prune,
    prune_global,
    prune_layerwise,
    prune_random,
    save_masks,
    sparsity_of,
    sparsity_report,
    topk_mask,
    total_count,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = create_model("promptir-test")
    with torch.no_grad():  # LayerNorm weights start at 1: give them a spread like trained ones
        for n, p in m.named_parameters():
            if "norm" in n and n.endswith("weight"):
                p.uniform_(-1, 1)
    return m


def _weights(model):
    return {n: p.detach() for n, p in model.named_parameters()}


def test_prunable_set_matches_official_code(model):
    names = prunable_names(model)
    assert names == [n for n, _ in model.named_parameters() if n.endswith("weight")]
    assert "output.weight" in names and "encoder_level1.0.norm1.weight" in names
    assert not any(n.endswith(("bias", "prompt_param", "temperature")) for n in names)
    dense_norms = prunable_names(model, keep_norms_dense=True)
    assert not any(".norm" in n for n in dense_norms)
    assert set(names) - set(dense_norms) == {n for n in names if ".norm" in n}
    with_prompts = prunable_names(model, prune_prompts=True)  # not MIR-L's rule: the prompt banks too
    assert set(with_prompts) - set(names) == {n for n, _ in model.named_parameters() if n.endswith("prompt_param")}


def test_ones_masks_and_report(model):
    masks = ones_masks(model)
    check_masks(model, masks)
    rep = sparsity_report(model, masks)
    assert rep["prunable_sparsity"] == 0 and rep["prunable_kept"] == rep["prunable_total"]
    assert rep["total_params"] == sum(p.numel() for p in model.parameters())
    assert {r["name"] for r in rep["layers"]} == set(masks)


@pytest.mark.parametrize("strategy", ["global", "layerwise", "random"])
def test_pruned_count_exact_and_masks_shrink(model, strategy):
    masks = ones_masks(model)
    for _ in range(3):
        new = prune(strategy, _weights(model), masks, 0.2, seed=3)
        for n in masks:  # only shrink
            assert bool((new[n] <= masks[n]).all())
        removed = kept_count(masks) - kept_count(new)
        if strategy == "layerwise":
            expect = sum(n_to_prune(0.1 if n == "output.weight" else 0.2, int(masks[n].sum())) for n in masks)
        else:
            expect = n_to_prune(0.2, kept_count(masks))
        assert removed == expect
        masks = new
    assert kept_count(masks) == planned_kept(strategy, ones_masks(model), 0.2, 3)[-1]


def test_global_survivors_outrank_pruned(model):
    w = _weights(model)
    masks = prune("global", w, prune("global", w, ones_masks(model), 0.5), 0.5)
    kept = torch.cat([w[n].abs().flatten()[masks[n].flatten() > 0] for n in masks])
    gone = torch.cat([w[n].abs().flatten()[masks[n].flatten() == 0] for n in masks])
    assert kept.min() >= gone.max()
    assert sparsity_of(model, masks, "prunable") == pytest.approx(0.75, abs=1e-5)


def test_layerwise_per_tensor_order_and_half_rate_output(model):
    w = _weights(model)
    masks = prune("layerwise", w, ones_masks(model), 0.4)
    for n, m in masks.items():
        kept, gone = w[n].abs()[m > 0], w[n].abs()[m == 0]
        if gone.numel() and kept.numel():
            assert kept.min() >= gone.max(), n
        rate = 0.2 if n == "output.weight" else 0.4
        assert int((m == 0).sum()) == n_to_prune(rate, m.numel()), n


def test_ties_are_exact():
    w = {"a.weight": torch.ones(10), "b.weight": torch.zeros(7)}
    masks = {n: torch.ones_like(t) for n, t in w.items()}
    new = prune("global", w, masks, 0.5)  # 9 of 17: all 7 zeros + 2 of the tied ones
    assert kept_count(new) == 8 and int(new["b.weight"].sum()) == 0
    again = prune("global", w, masks, 0.5)
    assert all(torch.equal(new[n], again[n]) for n in new)  # deterministic
    assert new["a.weight"].tolist() == [0, 0] + [1] * 8  # ties: lowest index first


def test_random_is_seeded(model):
    a = prune("random", None, ones_masks(model), 0.3, seed=1)
    b = prune("random", None, ones_masks(model), 0.3, seed=1)
    c = prune("random", None, ones_masks(model), 0.3, seed=2)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not all(torch.equal(a[n], c[n]) for n in a)


def test_unknown_strategy_lists_valid():
    with pytest.raises(ValueError, match="global"):
        prune("magnitude", {}, {}, 0.2)


def test_apply_masks_and_mask_file_roundtrip(model, tmp_path):
    m = create_model("promptir-test")
    masks = prune("global", _weights(m), ones_masks(m), 0.8)
    apply_masks(m, masks)
    params = dict(m.named_parameters())
    assert all(bool((params[n][masks[n] == 0] == 0).all()) for n in masks)
    save_masks(masks, tmp_path / "m.safetensors")
    back = load_masks(tmp_path / "m.safetensors")
    assert set(back) == set(masks) and all(torch.equal(back[n], masks[n]) for n in masks)
    assert back[next(iter(back))].dtype == torch.float32


def test_global_floor_prevents_layer_collapse():
    # "small" has weights 100x below "big": plain global pruning at 90% empties it first
    gen = torch.Generator().manual_seed(0)
    w = {"big.weight": torch.randn(400, generator=gen), "small.weight": torch.randn(100, generator=gen) / 100}
    ones = {n: torch.ones_like(t) for n, t in w.items()}
    plain = prune("global", w, ones, 0.9)
    assert kept_count({"s": plain["small.weight"]}) == 0
    floored = prune("global", w, ones, 0.9, min_density=0.05)
    assert kept_count(floored) == 50  # the removed count is unchanged
    small = floored["small.weight"]
    assert int(small.sum()) == 5  # ceil(0.05 * 100), its largest
    assert w["small.weight"].abs()[small > 0].min() >= w["small.weight"].abs()[small == 0].max()
    big = floored["big.weight"]  # the threshold takes the rest from the big tensor
    assert int(big.sum()) == 45 and w["big.weight"].abs()[big > 0].min() >= w["big.weight"].abs()[big == 0].max()
    again = prune("global", w, floored, 0.9, min_density=0.05)  # the floor binds: fewer than 45 removed
    assert int(again["small.weight"].sum()) == 5 and int(again["big.weight"].sum()) == 20
    with pytest.raises(ValueError, match="global pruning only"):
        prune("layerwise", w, ones, 0.5, min_density=0.1)


def test_lamp_scores_by_hand():
    # sorted squares 0, 1, 4, 9: each over the sum of itself and the larger ones
    s = lamp_scores(torch.tensor([3.0, -1.0, 2.0, 0.0]))
    assert s.tolist() == pytest.approx([1.0, 1 / 14, 4 / 13, 0.0])
    assert lamp_scores(torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]  # no division by zero


def test_lamp_keeps_every_layer_and_magnitude_order_within_each(model):
    # the same scale gap that empties "small" under plain global pruning (test above)
    gen = torch.Generator().manual_seed(0)
    w = {"big.weight": torch.randn(400, generator=gen), "small.weight": torch.randn(100, generator=gen) / 100}
    masks = {n: torch.ones_like(t) for n, t in w.items()}
    for _ in range(10):
        masks = prune("global", w, masks, 0.3, score="lamp")
    assert kept_count(masks) == planned_kept("global", {n: torch.ones_like(t) for n, t in w.items()}, 0.3, 10)[-1]
    for n, m in masks.items():
        assert int(m.sum()) > 0, n
        kept, gone = w[n].abs()[m > 0], w[n].abs()[m == 0]
        assert kept.min() >= gone.max(), n  # within a tensor LAMP is magnitude order
    # on a real model too: no tensor emptied at 97% where magnitude empties some
    wm = _weights(model)
    lamp, mag = ones_masks(model), ones_masks(model)
    for _ in range(15):
        lamp = prune("global", wm, lamp, 0.2, score="lamp")
        mag = prune("global", wm, mag, 0.2)
    assert kept_count(lamp) == kept_count(mag)
    assert all(int(m.sum()) > 0 for m in lamp.values())
    assert any(int(m.sum()) == 0 for m in mag.values())


def test_score_only_for_global():
    with pytest.raises(ValueError, match="global pruning only"):
        prune("layerwise", {}, {}, 0.2, score="lamp")
    with pytest.raises(ValueError, match="lamp"):
        prune("global", {"a.weight": torch.ones(2)}, {"a.weight": torch.ones(2)}, 0.5, score="l1")


# -- the merged helpers (MIR-L and OES use the same ones) --------------------------------------

def _two_scales():
    """"a" holds 1..8, "b" holds 0.1..0.4: global magnitude takes from "b" first, layer-wise from both."""
    return {"a.weight": torch.arange(1.0, 9.0), "b.weight": torch.tensor([0.4, 0.1, 0.3, 0.2])}


def test_global_vs_layerwise_exact_counts_by_hand():
    w = _two_scales()
    ones = {n: torch.ones_like(t) for n, t in w.items()}
    g = prune_global(w, ones, 0.25)  # round(0.25 * 12) = 3: the three smallest overall, all in "b"
    assert g["a.weight"].tolist() == [1.0] * 8 and g["b.weight"].tolist() == [1, 0, 0, 0]
    lw = prune_layerwise(w, ones, 0.25)  # 2 of "a" and 1 of "b", each tensor's smallest
    assert lw["a.weight"].tolist() == [0, 0] + [1.0] * 6 and lw["b.weight"].tolist() == [1, 0, 1, 1]
    assert kept_count(g) == kept_count(lw) == 9
    assert list(g) == list(lw) == ["a.weight", "b.weight"]  # sorted names, whatever the input order
    rev = {n: ones[n] for n in reversed(list(ones))}
    assert all(torch.equal(prune_global(w, rev, 0.25)[n], g[n]) for n in g)


def test_lamp_global_order_by_hand():
    # a: squares 1, 4, 16 -> LAMP 1/21, 4/20, 1; b: squares 0.01, 0.09 -> 0.1, 1
    w = {"a.weight": torch.tensor([1.0, -2.0, 4.0]), "b.weight": torch.tensor([0.1, -0.3])}
    assert lamp_scores(w["a.weight"]).tolist() == pytest.approx([1 / 21, 4 / 20, 1.0])
    assert lamp_scores(w["b.weight"]).tolist() == pytest.approx([0.1, 1.0])
    ones = {n: torch.ones_like(t) for n, t in w.items()}
    # two removed: magnitude empties "b"; LAMP takes a's 1 (1/21) and b's 0.1 (0.1)
    assert prune_global(w, ones, 0.4)["b.weight"].tolist() == [0, 0]
    lamp = prune_global(w, ones, 0.4, score="lamp")
    assert lamp["a.weight"].tolist() == [0, 1, 1] and lamp["b.weight"].tolist() == [0, 1]
    # three removed: then a's 2 (0.2); each tensor keeps its largest (score 1)
    lamp3 = prune_global(w, ones, 0.6, score="lamp")
    assert lamp3["a.weight"].tolist() == [0, 0, 1] and lamp3["b.weight"].tolist() == [0, 1]


@pytest.mark.parametrize("density", [0.03, 0.1, 0.5, 1.0])
def test_random_mask_density_exact_and_seeded(model, density):
    ones = ones_masks(model)
    total = total_count(ones)
    a = prune_random(None, ones, 1 - density, seed=5)
    assert kept_count(a) == n_keep(density, total)
    assert density_of(a) == pytest.approx(density, abs=1 / total)
    b = prune_random(None, ones, 1 - density, seed=5)
    assert all(torch.equal(a[n], b[n]) for n in a)
    if density < 1:
        c = prune_random(None, ones, 1 - density, seed=6)
        assert not all(torch.equal(a[n], c[n]) for n in a)


def test_topk_mask_keeps_the_highest_scores():
    scores = {"b.weight": torch.tensor([[-3.0, 5.0], [0.5, -0.1]]), "a.weight": torch.tensor([2.0, -7.0, 1.0])}
    m = topk_mask(scores, 3 / 7)
    assert kept_count(m) == n_keep(3 / 7, 7) == 3
    assert m["a.weight"].tolist() == [1, 0, 1] and m["b.weight"].tolist() == [[0, 1], [0, 0]]  # 5, 2, 1
    assert list(m) == ["a.weight", "b.weight"] and m["b.weight"].dtype == torch.float32
    with pytest.raises(RestoreLabError, match="density"):
        topk_mask(scores, 0.0)


def test_density_helpers():
    assert check_density(1) == 1.0 and n_keep(0.05, 1000) == 50 and n_keep(1.0, 7) == 7
    for bad in (0, -0.1, 1.5):
        with pytest.raises(RestoreLabError, match="density"):
            check_density(bad)
    assert density_of({}) == 1.0
    with pytest.raises(ValueError, match="rate"):
        n_to_prune(1.5, 10)


def test_ones_and_weight_masks_take_names(model):
    names = prunable_names(model)[:3]
    ones = ones_masks(model, names)
    assert list(ones) == names and all(m.dtype == torch.float32 and bool((m == 1).all()) for m in ones.values())
    masks = prune("global", _weights(model), ones_masks(model), 0.6)
    m = create_model("promptir-test")
    m.load_state_dict(model.state_dict())
    apply_masks(m, masks)
    back = masks_from_weights(m)
    assert list(back) == prunable_names(model) and all(torch.equal(back[n], masks[n]) for n in masks)


@pytest.mark.parametrize("make_opt", [
    lambda p: torch.optim.Adam(p, lr=0.1),
    lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.5),
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
], ids=["adam", "adamw", "sgd-momentum"])
def test_mask_kept_through_optimizer_steps(make_opt):
    torch.manual_seed(0)
    net = create_model("dncnn-classroom", width=8, depth=3)
    opt = make_opt(net.parameters())
    x = torch.rand(2, 3, 12, 12)
    for _ in range(2):  # dense steps first: momentum now carries into weights that get pruned
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()
    masks = prune("global", dict(net.named_parameters()), ones_masks(net), 0.7)
    apply_masks(net, masks)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    for _ in range(3):
        opt.zero_grad()
        net(x).square().mean().backward()
        masked_step(net, masks, opt)
    params = dict(net.named_parameters())
    for n, m in masks.items():
        assert bool((params[n][m == 0] == 0).all()), n
        assert not torch.equal(params[n][m > 0], before[n][m > 0]), n  # survivors still train
    unmasked = [n for n in params if n not in masks]
    assert unmasked and all(not torch.equal(params[n], before[n]) for n in unmasked)  # biases train too


def test_masked_step_without_masks_is_a_plain_step():
    torch.manual_seed(0)
    a = create_model("dncnn-classroom", width=8, depth=3)
    b = create_model("dncnn-classroom", width=8, depth=3)
    b.load_state_dict(a.state_dict())
    oa, ob = torch.optim.Adam(a.parameters(), lr=0.1), torch.optim.Adam(b.parameters(), lr=0.1)
    x = torch.rand(1, 3, 9, 9)
    for net, opt in ((a, oa), (b, ob)):
        net(x).mean().backward()
    oa.step()
    masked_step(b, None, ob)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_check_masks_refuses_misfits(model):
    masks = ones_masks(model)
    name = next(iter(masks))
    with pytest.raises(RestoreLabError, match="unknown parameter"):
        check_masks(model, {"nope.weight": masks[name]})
    with pytest.raises(RestoreLabError, match="shape"):
        check_masks(model, {name: masks[name].flatten()})
    with pytest.raises(RestoreLabError, match="binary"):
        check_masks(model, {name: masks[name] * 0.5})
