"""OES / Sparse-DIP: generator, masks, mask learning, masked training, live stream (tiny, CPU)."""

import numpy as np
import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.lottery.toydata import toy_images
from restorelab.oes._common import add_noise
from restorelab.models.dip import PRESETS, build_generator, crop, get_config, noise_input, padded_size
from restorelab.oes.learn import LearnConfig, MaskLearner, learn_mask
from restorelab.oes.mask import check_masks, magnitude_mask, masked_names, random_mask
from restorelab.oes.sparse_dip import Fitter, MaskPlan, fit, imp_mask, parse_mask_spec, prepare
from restorelab.pruning import density_of, n_keep, topk_mask

H, W = 37, 31


@pytest.fixture(scope="module")
def pair():
    clean = toy_images(1, 40, seed=3)[0][:H, :W].copy()
    return add_noise(clean, 25, seed=0), clean


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_any_size_shape_range_and_grads(preset):
    net = build_generator(preset, seed=0)
    z = noise_input(net.config, H, W, seed=0)
    assert z.shape[-2] % 2 ** net.config.depth == 0 and z.shape[-2] >= H and z.shape[-1] >= W
    out = crop(net(z), H, W)
    o = out.detach()
    assert o.shape == (1, 3, H, W) and torch.isfinite(o).all() and 0 < float(o.min()) and float(o.max()) < 1
    out.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_paper_preset_matches_the_reference_parameter_count():
    assert sum(p.numel() for p in build_generator("paper").parameters()) == 3_008_867


def test_unknown_preset_lists_the_valid_names():
    with pytest.raises(RestoreLabError, match="lean.*paper"):
        get_config("huge")


def test_padded_size_fits_the_deepest_reflection_pad():
    cfg = get_config("paper")  # 6 levels, 5x5: the deepest map needs >= 3 pixels
    assert padded_size(cfg, 256, 300) == (256, 320)
    assert padded_size(cfg, 37, 31) == (192, 192)


def test_same_seed_same_output_other_seed_differs(pair):
    noisy, _ = pair
    a = fit(noisy, steps=3, preset="tiny", seed=5).image
    b = fit(noisy, steps=3, preset="tiny", seed=5).image
    c = fit(noisy, steps=3, preset="tiny", seed=6).image
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_topk_density_exact_and_survivors_have_the_highest_logits():
    net = build_generator("tiny")
    gen = torch.Generator().manual_seed(0)
    logits = {n: torch.randn(p.shape, generator=gen) for n, p in net.named_parameters() if n in masked_names(net)}
    masks = topk_mask(logits, 0.05)
    total = sum(m.numel() for m in masks.values())
    assert int(sum(m.sum() for m in masks.values())) == n_keep(0.05, total)
    kept = torch.cat([logits[n][masks[n] > 0] for n in masks])
    pruned = torch.cat([logits[n][masks[n] == 0] for n in masks])
    assert float(kept.min()) >= float(pruned.max())


def test_masked_tensors_of_each_scope():
    net = build_generator("tiny")
    names = masked_names(net, "weights")
    assert names and all(n.endswith("weight") for n in names) and "out.weight" not in names
    assert len(names) == 3 * get_config("tiny").depth  # per scale: two down convs, one up conv
    assert masked_names(net, "all") == [n for n, _ in net.named_parameters()]  # the reference's: BN, biases too
    with pytest.raises(RestoreLabError, match="scope"):
        masked_names(net, "convs")


@pytest.mark.parametrize("scope", ["weights", "all"])
def test_a_mask_knows_its_scope_and_a_misfit_is_refused(scope):
    net = build_generator("tiny", seed=1)
    masks = random_mask(net, 0.2, seed=0, scope=scope)
    assert sorted(masks) == sorted(masked_names(net, scope)) and check_masks(net, masks) == scope
    with pytest.raises(RestoreLabError, match="does not fit"):
        check_masks(net, {n: m for n, m in list(masks.items())[1:]})


def test_scope_all_random_mask_silences_channels_the_weights_scope_keeps():
    """Why the reference's random 5% masks collapse: a pruned BN scale zeroes its whole channel."""
    net = build_generator("tiny", seed=1)
    bn = [f"{n}.weight" for n, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    masks = random_mask(net, 0.05, seed=0, scope="all")
    assert sum(int(masks[b].sum()) for b in bn) < 0.2 * sum(masks[b].numel() for b in bn)
    assert not set(bn) & set(random_mask(net, 0.05, seed=0, scope="weights"))


def test_random_and_magnitude_masks_exact_density():
    net = build_generator("tiny", seed=1)
    for m in (random_mask(net, 0.1, seed=2), magnitude_mask(net, 0.1)):
        total = sum(t.numel() for t in m.values())
        assert int(sum(t.sum() for t in m.values())) == n_keep(0.1, total)
    params = dict(net.named_parameters())
    mag = magnitude_mask(net, 0.1)
    kept = torch.cat([params[n].detach().abs()[mag[n] > 0] for n in mag])
    pruned = torch.cat([params[n].detach().abs()[mag[n] == 0] for n in mag])
    assert float(kept.min()) >= float(pruned.max())


def test_learning_moves_only_the_logits(pair):
    noisy, _ = pair
    learner = MaskLearner(noisy, LearnConfig(preset="tiny", steps=3, seed=0))
    before = {n: p.detach().clone() for n, p in learner.net.named_parameters()}
    for _ in range(3):
        learner.step()
    assert all(torch.equal(before[n], p) for n, p in learner.net.named_parameters())
    assert any(float(l.detach().abs().max()) > 0 for l in learner.logits.values())


@pytest.mark.parametrize("scope", ["weights", "all"])
def test_functional_call_matches_a_masked_module(pair, scope):
    noisy, _ = pair
    learner = MaskLearner(noisy, LearnConfig(preset="tiny", seed=0, scope=scope))
    masks = random_mask(learner.net, 0.3, seed=0, scope=scope)
    with torch.no_grad():
        functional = learner.forward(masks)
        net = build_generator("tiny", seed=0)
        for n, p in net.named_parameters():
            if n in masks:
                p.mul_(masks[n])
        module = crop(net(learner.z), H, W)
    torch.testing.assert_close(functional, module)


def test_learned_mask_has_the_target_density_and_kl_pulls_probabilities_down(pair):
    noisy, _ = pair
    res = learn_mask(noisy, LearnConfig(preset="tiny", density=0.2, steps=20, lr=0.05, kl_weight=1e-3))
    assert density_of(res.masks) == pytest.approx(0.2, abs=1e-3)
    assert res.mean_prob[-1] < res.mean_prob[0] < 0.5 + 1e-3


def test_sparse_dip_lowers_the_error_in_30_steps_and_pruned_weights_stay_zero(pair):
    noisy, clean = pair
    net = build_generator("tiny", seed=0)
    masks = random_mask(net, 0.3, seed=0)
    f = Fitter(noisy, preset="tiny", masks=masks, clean=clean, lr=0.01, seed=0)
    for _ in range(30):
        f.step()
    noisy_psnr = -10 * np.log10(np.mean((noisy - clean) ** 2))
    assert f.psnr_noisy[-1] > f.psnr_noisy[0] + 3
    assert f.psnr_clean[-1] > noisy_psnr
    params = dict(f.net.named_parameters())
    assert all(float(params[n].detach()[masks[n] == 0].abs().max()) == 0 for n in masks)


def test_imp_mask_density_exact(pair):
    noisy, _ = pair
    masks = imp_mask(noisy, preset="tiny", density=0.3, steps_per_round=2, rate=0.5)
    total = sum(m.numel() for m in masks.values())
    assert int(sum(m.sum() for m in masks.values())) == n_keep(0.3, total)


def test_mask_specs_dispatch_and_refuse_unknowns(pair):
    noisy, _ = pair
    assert parse_mask_spec("transfer:oes-lean-d05") == ("transfer", "oes-lean-d05")
    for bad in ("magic", "random:x"):
        with pytest.raises(RestoreLabError):
            parse_mask_spec(bad)
    p = prepare(MaskPlan(spec="magnitude", preset="tiny", density=0.1), noisy)
    assert density_of(p.masks) == pytest.approx(0.1, abs=1e-3) and p.preset == "tiny"
    assert prepare(MaskPlan(spec="dense", preset="tiny"), noisy).masks is None


def test_live_stream_yields_snapshots_and_stops_cleanly(pair):
    from restorelab.oes.live import LiveConfig, stream

    noisy, clean = pair
    threads_before = torch.get_num_threads()
    gen = stream(noisy, clean=clean, plan=MaskPlan(spec="random", preset="tiny", density=0.3),
                 config=LiveConfig(steps=40, every=5, dense=True, threads=1))
    snaps = []
    for snap in gen:
        snaps.append(snap)
        assert torch.get_num_threads() == threads_before  # restored while the consumer runs
        if len(snaps) == 2:
            break
    gen.close()
    a, b = snaps
    assert (a["step"], b["step"], b["done"]) == (5, 10, False)
    assert b["sparse"].shape == (H, W, 3) and b["dense"].shape == (H, W, 3)
    assert len(b["curves"]["sparse"]["noisy"]) == 10 and len(b["curves"]["dense"]["clean"]) == 10
    assert len(a["curves"]["sparse"]["noisy"]) == 5  # earlier snapshots are not mutated later
    last = list(stream(noisy, plan=MaskPlan(spec="dense", preset="tiny"), config=LiveConfig(steps=7, every=5,
                                                                                          dense=False)))
    assert [s["step"] for s in last] == [5, 7] and last[-1]["done"] and last[-1]["dense"] is None


def test_mask_learning_resumed_from_a_checkpoint_equals_one_run(pair, tmp_path):
    noisy, _ = pair
    cfg = dict(preset="tiny", density=0.2, lr=0.05, seed=1)
    whole = learn_mask(noisy, LearnConfig(steps=6, **cfg))
    ckpt = tmp_path / "learn.pt"
    learn_mask(noisy, LearnConfig(steps=4, **cfg), checkpoint=ckpt, every=3)  # saved at 3 and 4
    resumed = learn_mask(noisy, LearnConfig(steps=6, **cfg), checkpoint=ckpt, every=3)
    assert resumed.mse == whole.mse
    assert all(torch.equal(resumed.logits[n], whole.logits[n]) for n in whole.logits)
    with pytest.raises(RestoreLabError, match="other settings.*density"):
        learn_mask(noisy, LearnConfig(steps=8, **(cfg | {"density": 0.3})), checkpoint=ckpt)
