"""Iterative magnitude pruning and its baselines on promptir-test, tiny synthetic data (no files read).

Invariants: masks only shrink, pruned weights stay zero through training, survivors are
rewound to θ0, every round leaves its record, and a run killed anywhere resumes to the same
masks and weights.
"""

import json

import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.inference.weights import load_state
from restorelab.lottery.baselines import BaselineConfig, run_oneshot, run_reinit
from restorelab.lottery.imp import IMP, LotteryConfig, rounds_needed
from restorelab.lottery.toydata import ToyPairs, toy_images, toy_val_set
from restorelab.models import create_model
from restorelab.pruning import kept_count, load_masks, prune
from restorelab.training import TrainConfig

DATA = ToyPairs(toy_images(8, 24, seed=0), patch=16)
VAL = toy_val_set(1, 16)
TRAIN = TrainConfig(model="promptir-test", tasks="denoise_25", patch_size=16, batch_size=2, steps=4,
                    warmup_steps=1, val_every=4, ckpt_every=2, threads=1)
LOTTERY = LotteryConfig(rate=0.5, target=0.7, target_over="prunable", steps_per_round=3)


def _imp(run_dir, lottery=LOTTERY, **kw):
    return IMP(lottery, run_dir, train=kw.pop("train", TRAIN), dataset=DATA, val_set=VAL, **kw)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("imp")
    recs = list(_imp(d).run())
    return d, recs


def _masks(d, r):
    return load_masks(d / f"round_{r:02d}" / "mask.safetensors")


def test_rounds_and_records(run):
    d, recs = run
    assert [r["round"] for r in recs] == [0, 1, 2]
    assert [r["prunable_sparsity"] for r in recs] == pytest.approx([0.0, 0.5, 0.75], abs=1e-4)
    for r in recs:
        on_disk = json.loads((d / f"round_{r['round']:02d}" / "sparsity.json").read_text())
        assert on_disk == r
        assert set(r["val"]) == {"denoise_25"} and r["val"]["denoise_25"]["psnr"] > 0
        assert r["nonzero_params"] <= r["total_params"] - (r["prunable_total"] - r["prunable_kept"])
        assert sum(layer["kept"] for layer in r["layers"]) == r["prunable_kept"]
    assert json.loads((d / "lottery.json").read_text())["lottery"] == LOTTERY.to_dict()


def test_masks_shrink_and_pruned_weights_stay_zero(run):
    d, _ = run
    for r in (1, 2):
        old, new = _masks(d, r - 1), _masks(d, r)
        assert all(bool((new[n] <= old[n]).all()) for n in new)
        final = load_state(d / f"round_{r:02d}" / "final.safetensors")
        assert all(bool((final[n][new[n] == 0] == 0).all()) for n in new)
        assert any(bool((final[n][new[n] > 0] != 0).any()) for n in new)  # it did train


def test_survivors_rewound_to_theta0(run):
    d, _ = run
    theta0 = load_state(d / "round_00" / "theta0.safetensors")
    for r in (1, 2):
        start, masks = load_state(d / f"round_{r:02d}" / "theta0.safetensors"), _masks(d, r)
        for n, v in start.items():
            expect = theta0[n] * masks[n] if n in masks else theta0[n]
            assert torch.equal(v, expect), n  # every tensor, prompts and temperatures too


def test_global_pruning_uses_previous_round_weights(run):
    d, _ = run
    final1, old, new = load_state(d / "round_01" / "final.safetensors"), _masks(d, 1), _masks(d, 2)
    kept = torch.cat([final1[n].abs()[new[n] > 0] for n in new])
    gone = torch.cat([final1[n].abs()[(old[n] > 0) & (new[n] == 0)] for n in new])
    assert kept.min() >= gone.max()


def test_resume_after_kills_gives_same_masks_and_weights(run, tmp_path):
    ref, _ = run
    calls = 0
    while True:  # a "process" that is killed after 3 training steps, again and again
        imp = _imp(tmp_path)
        list(imp.run(stop_after=3))
        calls += 1
        if not imp.stopped:
            break
    assert calls >= 4  # 4 + 3 + 3 steps: killed inside rounds 0, 1 and 2
    for r in (0, 1, 2):
        a, b = _masks(ref, r), _masks(tmp_path, r)
        assert all(torch.equal(a[n], b[n]) for n in a)
        fa = load_state(ref / f"round_{r:02d}" / "final.safetensors")
        fb = load_state(tmp_path / f"round_{r:02d}" / "final.safetensors")
        assert all(torch.equal(fa[n], fb[n]) for n in fa)


def test_other_config_in_same_dir_is_refused_but_target_may_grow(run):
    d, _ = run
    with pytest.raises(RestoreLabError, match="another config"):
        list(_imp(d, LotteryConfig(rate=0.3, target=0.7, target_over="prunable", steps_per_round=3)).run())
    grown = LotteryConfig(rate=0.5, target=0.7, target_over="prunable", steps_per_round=3, rounds=1)
    assert [r["round"] for r in _imp(d, grown).run()] == [0, 1]  # read back, nothing retrained


def test_official_rewinding_keeps_trained_prompts(run, tmp_path):
    ref, _ = run
    lottery = LotteryConfig(rate=0.5, rounds=1, steps_per_round=2, rewind_all=False)
    list(IMP(lottery, tmp_path, dense_run=ref / "round_00", dataset=DATA, val_set=VAL).run())
    theta0 = load_state(ref / "round_00" / "theta0.safetensors")
    dense = load_state(ref / "round_00" / "final.safetensors")
    start, masks = load_state(tmp_path / "round_01" / "theta0.safetensors"), _masks(tmp_path, 1)
    for n, v in start.items():
        if n in masks:
            assert torch.equal(v, theta0[n] * masks[n])
        elif n.endswith("bias"):
            assert torch.equal(v, theta0[n])
        else:  # prompt_param, temperature: the trained dense values
            assert torch.equal(v, dense[n]) and not torch.equal(v, theta0[n]), n
    assert not (tmp_path / "round_00" / "final.safetensors").exists()  # the dense run was reused


def test_late_rewinding(run, tmp_path):
    ref, _ = run
    lottery = LotteryConfig(rate=0.5, rounds=1, steps_per_round=2, rewind_step=2)
    list(IMP(lottery, tmp_path, dense_run=ref / "round_00", dataset=DATA, val_set=VAL).run())
    side = torch.load(tmp_path / "rewind_step2" / "checkpoint.pt", weights_only=True)
    assert side["step"] == 2
    start, masks = load_state(tmp_path / "round_01" / "theta0.safetensors"), _masks(tmp_path, 1)
    theta0 = load_state(ref / "round_00" / "theta0.safetensors")
    w = "encoder_level1.0.ffn.project_in.weight"
    assert torch.equal(start[w], side["model"][w] * masks[w]) and not torch.equal(start[w], theta0[w] * masks[w])


def test_rounds_needed_matches_paper_count():
    cpu = create_model("promptir-cpu")
    assert rounds_needed(cpu, LotteryConfig()) == 15  # 90% of all parameters: the paper's 15 steps
    assert rounds_needed(cpu, LotteryConfig(target_over="prunable")) == 11  # 0.8**11 < 0.1
    assert rounds_needed(cpu, LotteryConfig(rounds=3)) == 3
    with pytest.raises(RestoreLabError, match="not reachable"):
        rounds_needed(cpu, LotteryConfig(target=0.97))  # 6% of promptir-cpu is never pruned


def test_config_errors():
    with pytest.raises(RestoreLabError, match="global, layerwise, channels"):
        LotteryConfig(strategy="random")
    with pytest.raises(RestoreLabError, match="unknown lottery config keys"):
        LotteryConfig.from_dict({"rate": 0.2, "pruning_rate": 0.2})
    with pytest.raises(RestoreLabError, match="dense"):
        IMP(LOTTERY, "/nonexistent", train=None)


@pytest.mark.parametrize("kind", ["oneshot-magnitude", "oneshot-random"])
def test_oneshot_baselines(run, tmp_path, kind):
    ref, _ = run
    cfg = BaselineConfig(kind=kind, amount=0.7, seed=5)
    rec = run_oneshot(cfg, ref, tmp_path, dataset=DATA, val_set=VAL)  # the IMP dir resolves to round_00
    assert rec["prunable_sparsity"] == pytest.approx(0.7, abs=1e-4) and rec["steps"] == 1
    assert rec["name"] == ("PIR-OSM II" if kind == "oneshot-magnitude" else "PIR-OSR II")
    masks, dense = load_masks(tmp_path / "mask.safetensors"), load_state(ref / "round_00" / "final.safetensors")
    start = load_state(tmp_path / "theta0.safetensors")
    assert all(torch.equal(start[n], dense[n] * masks[n]) for n in masks)  # fine-tuned from the trained weights
    if kind == "oneshot-magnitude":
        kept = torch.cat([dense[n].abs()[masks[n] > 0] for n in masks])
        gone = torch.cat([dense[n].abs()[masks[n] == 0] for n in masks])
        assert kept.min() >= gone.max()


def test_reinit_control_uses_final_mask_and_fresh_init(run, tmp_path):
    ref, _ = run
    rec = run_reinit(BaselineConfig(kind="reinit", seed=7), ref, tmp_path, dataset=DATA, val_set=VAL)
    assert rec["ticket_round"] == 2 and rec["steps"] == LOTTERY.steps_per_round
    masks, ticket = load_masks(tmp_path / "mask.safetensors"), _masks(ref, 2)
    assert all(torch.equal(masks[n], ticket[n]) for n in masks)
    start, theta0 = load_state(tmp_path / "theta0.safetensors"), load_state(ref / "round_00" / "theta0.safetensors")
    w = "encoder_level1.0.attn.qkv.weight"
    assert bool((start[w][masks[w] == 0] == 0).all()) and kept_count({w: masks[w]}) > 0
    assert not torch.equal(start[w], theta0[w] * masks[w])
    with pytest.raises(RestoreLabError, match="seed"):
        run_reinit(BaselineConfig(kind="reinit", seed=TRAIN.seed), ref, tmp_path / "x", dataset=DATA, val_set=VAL)
    longer = run_reinit(BaselineConfig(kind="reinit", seed=7, reinit_steps=4), ref, tmp_path / "y", dataset=DATA,
                        val_set=VAL)
    assert longer["steps"] == 4 != LOTTERY.steps_per_round


def test_rewind_to_end_uses_dense_final_weights(run, tmp_path):
    ref, _ = run
    dense = ref / "round_00"
    steps = json.loads((dense / "config.json").read_text())["steps"]
    lottery = LotteryConfig(rate=0.5, rounds=1, steps_per_round=2, rewind_step=steps)
    list(IMP(lottery, tmp_path, dense_run=dense, dataset=DATA, val_set=VAL).run())
    assert not (tmp_path / f"rewind_step{steps}").exists()  # no replay
    start, masks = load_state(tmp_path / "round_01" / "theta0.safetensors"), _masks(tmp_path, 1)
    final = load_state(dense / "final.safetensors")
    w = "encoder_level1.0.ffn.project_in.weight"
    assert torch.equal(start[w], final[w] * masks[w])
    with pytest.raises(RestoreLabError, match="after the dense run's end"):
        IMP(LotteryConfig(rewind_step=steps + 1), tmp_path / "x", dense_run=dense)


def test_no_rewinding_continues_from_previous_round(run, tmp_path):
    ref, _ = run
    lottery = LotteryConfig(rate=0.5, rounds=2, steps_per_round=2, rewind_step=-1)
    list(IMP(lottery, tmp_path, dense_run=ref / "round_00", dataset=DATA, val_set=VAL).run())
    w = "encoder_level1.0.ffn.project_in.weight"
    for r in (1, 2):
        start = load_state(tmp_path / f"round_{r:02d}" / "theta0.safetensors")
        prev = load_state(ref / "round_00" / "final.safetensors") if r == 1 else \
            load_state(tmp_path / f"round_{r - 1:02d}" / "final.safetensors")
        assert torch.equal(start[w], prev[w] * _masks(tmp_path, r)[w])
    with pytest.raises(RestoreLabError, match="rewind_step"):
        LotteryConfig(rewind_step=-2)


def test_lamp_score_reaches_the_rounds(run, tmp_path):
    ref, _ = run
    lottery = LotteryConfig(rate=0.5, rounds=2, steps_per_round=2, rewind_step=-1, score="lamp")
    list(IMP(lottery, tmp_path, dense_run=ref / "round_00", dataset=DATA, val_set=VAL).run())
    for r in (1, 2):
        prev = load_state((ref / "round_00" if r == 1 else tmp_path / f"round_{r - 1:02d}") / "final.safetensors")
        want = prune("global", prev, _masks(tmp_path, r - 1) if r > 1 else _masks(ref, 0), 0.5, score="lamp")
        assert all(torch.equal(want[n], _masks(tmp_path, r)[n]) for n in want)
    assert json.loads((tmp_path / "lottery.json").read_text())["lottery"]["score"] == "lamp"


def test_final_round_budget_and_floor(run, tmp_path):
    ref, _ = run
    lottery = LotteryConfig(rate=0.5, rounds=2, steps_per_round=2, rewind_step=-1, final_steps=3, min_density=0.2)
    recs = list(IMP(lottery, tmp_path, dense_run=ref / "round_00", dataset=DATA, val_set=VAL).run())
    assert [r["steps"] for r in recs[1:]] == [2, 3]  # only the ticket's round trains longer
    masks, total = _masks(tmp_path, 2), sum(m.numel() for m in _masks(tmp_path, 2).values())
    assert all(kept_count({n: m}) >= 0.2 * m.numel() for n, m in masks.items())
    assert kept_count(masks) < total
    re = run_reinit(BaselineConfig(kind="reinit", seed=7), tmp_path, tmp_path / "re", dataset=DATA, val_set=VAL)
    assert re["steps"] == 3  # the control gets the ticket's final budget
    with pytest.raises(RestoreLabError, match="global strategy only"):
        LotteryConfig(strategy="layerwise", min_density=0.1)
    with pytest.raises(RestoreLabError, match="min_density"):
        LotteryConfig(min_density=1.0)
    with pytest.raises(RestoreLabError, match="final_steps"):
        LotteryConfig(final_steps=-1)
    with pytest.raises(RestoreLabError, match="global strategy only"):
        LotteryConfig(strategy="layerwise", score="lamp")
    with pytest.raises(RestoreLabError, match="magnitude, lamp"):
        LotteryConfig(score="taylor")


def test_run_dirs_from_before_new_fields_resume(run, tmp_path):
    ref, _ = run
    lottery = LotteryConfig(rate=0.5, rounds=1, steps_per_round=2, rewind_step=-1)
    list(IMP(lottery, tmp_path, dense_run=ref / "round_00", dataset=DATA, val_set=VAL).run())
    meta = json.loads((tmp_path / "lottery.json").read_text())
    del meta["lottery"]["min_density"], meta["lottery"]["final_steps"], meta["lottery"]["score"]  # an older version
    del meta["train"]["batch_threads"]
    (tmp_path / "lottery.json").write_text(json.dumps(meta))
    assert [r["round"] for r in IMP(lottery, tmp_path, dense_run=ref / "round_00", dataset=DATA,
                                     val_set=VAL).run()] == [0, 1]
    # how training runs may change on resume, as for a plain training run
    other = TrainConfig.from_dict({**meta["train"], "threads": 2, "batch_threads": 2})
    assert [r["round"] for r in IMP(lottery, tmp_path, train=other, dense_run=ref / "round_00", dataset=DATA,
                                     val_set=VAL).run()] == [0, 1]
