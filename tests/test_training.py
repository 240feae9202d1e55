import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from restorelab import RestoreLabError
from restorelab.inference import load_weights
from restorelab.io import save_png
from restorelab.training import TrainConfig, Trainer

from conftest import ROOT


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "clean"
    for i in range(4):
        yy, xx = np.mgrid[0:48, 0:40] / 48.0
        img = np.stack([yy, xx, (yy + xx) / 2], -1) * 0.6 + rng.random((48, 40, 3)) * 0.2
        save_png(d / f"p{i}.png", img)
    return d


def cfg_for(photos, **kw):
    base = dict(model="promptir-test", data_dir=str(photos), val_count=1, patch_size=16, batch_size=2,
                steps=6, warmup_steps=2, val_every=3, ckpt_every=1, val_size=32, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("batch_threads,precision", [(1, "fp32"), (2, "fp32"), (2, "bf16")])
def test_resume_after_kill_is_exact(photos, tmp_path, batch_threads, precision):
    cfg = cfg_for(photos, batch_threads=batch_threads, precision=precision)
    full = Trainer(cfg, tmp_path / "a", progress=False).train()
    Trainer(cfg, tmp_path / "b", progress=False).train(stop_after=4)  # "killed" at step 4
    resumed = Trainer(cfg, tmp_path / "b", progress=False)
    out = resumed.train()
    assert resumed.step == 6
    for k, v in state(full).items():
        assert torch.equal(v, out.state_dict()[k]), k


def test_run_dir_records(photos, tmp_path):
    Trainer(cfg_for(photos), tmp_path / "r", progress=False).train()
    run = tmp_path / "r"
    for f in ("config.json", "theta0.safetensors", "checkpoint.pt", "log.jsonl", "final.safetensors"):
        assert (run / f).exists(), f
    lines = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    vals = [l for l in lines if "val" in l]
    assert [v["step"] for v in vals] == [3, 6]
    assert set(vals[0]["val"]) == {"denoise_15", "denoise_25", "denoise_50", "derain", "dehaze"}
    assert all(np.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1 for r in vals[0]["val"].values())
    model = load_weights(run / "final.safetensors")  # config travels with the weights
    assert model.config.dim == 8


def test_theta0_is_the_untrained_init(photos, tmp_path):
    Trainer(cfg_for(photos), tmp_path / "r", progress=False).train()
    theta0 = load_weights(tmp_path / "r" / "theta0.safetensors").state_dict()
    torch.manual_seed(0)
    from restorelab.models import create_model

    fresh = create_model("promptir-test").state_dict()
    assert all(torch.equal(fresh[k], theta0[k]) for k in fresh)
    final = load_weights(tmp_path / "r" / "final.safetensors").state_dict()
    assert not all(torch.equal(final[k], theta0[k]) for k in final)


@pytest.mark.parametrize("batch_threads,precision", [(1, "fp32"), (2, "fp32"), (2, "bf16")])
def test_masks_keep_pruned_weights_at_zero(photos, tmp_path, batch_threads, precision):
    from restorelab.models import create_model

    model = create_model("promptir-test")
    g = torch.Generator().manual_seed(1)
    masks = {n: (torch.rand(p.shape, generator=g) > 0.5).float()
             for n, p in model.named_parameters() if n.endswith("weight")}
    trainer = Trainer(cfg_for(photos, batch_threads=batch_threads, precision=precision), tmp_path / "m",
                      masks=masks, progress=False)
    out = trainer.train()
    params = dict(out.named_parameters())
    assert all(p.dtype == torch.float32 for p in params.values())  # bf16 runs keep float32 weights
    for n, m in masks.items():
        assert torch.all(params[n][m == 0] == 0), n
        # masked gradients: the optimizer never saw a pruned weight move
        assert torch.all(trainer.opt.state[params[n]]["exp_avg"][m == 0] == 0), n
    assert any(torch.any(params[n][m == 1] != 0) for n, m in masks.items())


def test_other_config_in_same_run_dir_is_refused(photos, tmp_path):
    Trainer(cfg_for(photos), tmp_path / "r", progress=False).train(stop_after=1)
    with pytest.raises(RestoreLabError, match="another config"):
        Trainer(cfg_for(photos, lr=1e-3), tmp_path / "r", progress=False).train()


def test_resume_may_change_how_it_runs_not_what_it_computes(photos, tmp_path):
    Trainer(cfg_for(photos, threads=2), tmp_path / "r", progress=False).train(stop_after=1)
    t = Trainer(cfg_for(photos, threads=1, channels_last=False, precision="bf16"), tmp_path / "r", progress=False)
    out = t.train(stop_after=1)
    assert t.step == 2  # resumed from step 1
    assert all(p.dtype == torch.float32 for p in out.parameters())
    log = [json.loads(l) for l in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    (change,) = [r for r in log if r.get("event") == "execution-change"]
    assert change == {"event": "execution-change", "step": 1,
                      "changed": {"channels_last": [True, False], "precision": ["fp32", "bf16"], "threads": [2, 1]}}
    Trainer(cfg_for(photos, threads=1, channels_last=False, precision="bf16"), tmp_path / "r", progress=False).train(
        stop_after=1)  # the same settings again: nothing new to record
    log = [json.loads(l) for l in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert len([r for r in log if r.get("event") == "execution-change"]) == 1


def test_device_is_checked_by_name_where_the_config_is_written():
    assert TrainConfig().device == "auto"
    for name in ("auto", "cpu", "cuda", "cuda:3"):  # no GPU needed to write a GPU config
        assert TrainConfig(device=name).device == name
    for bad in ("gpu", "CUDA", "cuda:", "cuda:x", ""):
        with pytest.raises(RestoreLabError, match="unknown device"):
            TrainConfig(device=bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_run_without_cuda_is_refused_clearly(photos, tmp_path):
    with pytest.raises(RestoreLabError, match="CUDA is not available"):
        Trainer(cfg_for(photos, device="cuda"), tmp_path / "r", progress=False)


def test_runs_from_before_the_device_field_resume_and_may_change_it(photos, tmp_path):
    full = Trainer(cfg_for(photos), tmp_path / "a", progress=False).train()
    run = tmp_path / "b"
    Trainer(cfg_for(photos), run, progress=False).train(stop_after=2)
    old = json.loads((run / "config.json").read_text())
    del old["device"]  # as config.json was written before the field existed
    (run / "config.json").write_text(json.dumps(old))
    assert TrainConfig.load(run / "config.json").device == "auto"
    Trainer(cfg_for(photos, device="cpu"), run, progress=False).train(stop_after=2)
    assert json.loads((run / "config.json").read_text())["device"] == "cpu"
    resumed = Trainer(cfg_for(photos, device="auto"), run, progress=False)
    out = resumed.train()
    assert resumed.step == 6 and resumed.device == torch.device("cpu")
    log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    # the key missing from the old config held the default: only cpu -> auto is a change
    assert [r["changed"] for r in log if r.get("event") == "execution-change"] == [{"device": ["cpu", "auto"]}]
    for k, v in state(full).items():
        assert torch.equal(v, out.state_dict()[k]), k


def test_batch_split_gives_the_whole_batch_gradients():
    from restorelab.models import create_model
    from restorelab.training.split import BatchSplit

    torch.manual_seed(0)
    model = create_model("promptir-test").to(memory_format=torch.channels_last)
    x, y = (torch.rand(3, 3, 16, 24).contiguous(memory_format=torch.channels_last) for _ in range(2))
    runs = []
    for parts in (1, 2, 2):
        model.zero_grad(set_to_none=True)
        split = BatchSplit(parts)
        threads = torch.get_num_threads()
        loss = split.backward(model, x, y)  # 3 samples: parts of 2 and 1, weighted by size
        split.close()
        assert torch.get_num_threads() == threads
        runs.append((loss, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (whole, g1), (split_loss, g2), (again, g3) = runs
    assert torch.allclose(whole, split_loss, rtol=1e-6)
    assert all(torch.allclose(g1[n], g2[n], rtol=1e-4, atol=1e-7) for n in g1)
    assert torch.equal(split_loss, again) and all(torch.equal(g2[n], g3[n]) for n in g2)  # order-independent
    with pytest.raises(ValueError):
        BatchSplit(0)


def test_batch_split_grads_keep_the_parameter_layout_for_fused_adamw():
    """autograd.grad may return another layout than the parameter's; fused AdamW reads .grad raw."""
    import copy

    from restorelab.models import create_model
    from restorelab.training.split import BatchSplit

    torch.manual_seed(0)
    model = create_model("promptir-test").to(memory_format=torch.channels_last)
    x, y = (torch.rand(4, 3, 16, 16).contiguous(memory_format=torch.channels_last) for _ in range(2))
    BatchSplit(2).backward(model, x, y)
    for n, p in model.named_parameters():  # same memory layout (strides of size-1 dims are free)
        assert all(a == b for a, b, size in zip(p.grad.stride(), p.stride(), p.shape) if size > 1), n
    twin = copy.deepcopy(model)  # same weights (deepcopy leaves .grad behind) and the same gradients
    for p, q in zip(model.parameters(), twin.parameters()):
        q.grad = p.grad.clone()
    torch.optim.AdamW(model.parameters(), lr=1e-2, fused=True).step()
    torch.optim.AdamW(twin.parameters(), lr=1e-2, foreach=False).step()  # the per-tensor reference
    fused, plain = dict(model.named_parameters()), dict(twin.named_parameters())
    assert all(torch.allclose(fused[n], plain[n], atol=1e-6) for n in fused)


def test_batch_split_errors_propagate_and_refuse_ddp(tmp_path):
    import torch.distributed as dist
    from torch import nn

    from restorelab.training.split import BatchSplit

    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, x):
            if len(x) == 1:
                raise RuntimeError("part failed")
            return x * self.w

    threads = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="part failed"):
        BatchSplit(2).backward(Fails(), torch.rand(3, 2), torch.rand(3, 2))  # parts of 2 and 1
    assert torch.get_num_threads() == threads
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        ddp = nn.parallel.DistributedDataParallel(Fails())
        with pytest.raises(ValueError, match="DistributedDataParallel"):
            BatchSplit(2).backward(ddp, torch.rand(4, 2), torch.rand(4, 2))
    finally:
        dist.destroy_process_group()


def _masked_conv(seed=0):
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))
    g = torch.Generator().manual_seed(1)
    masks = {n: (torch.rand(p.shape, generator=g) > 0.5).float() for n, p in model.named_parameters()
             if n.endswith("weight")}
    return model, masks


def _toy_batches(i):  # the batch source: a pure function of the step index
    g = torch.Generator().manual_seed(100 + i)
    return torch.rand(4, 3, 9, 7, generator=g), torch.rand(4, 3, 9, 7, generator=g)


@pytest.mark.parametrize("parts,precision", [(1, "fp32"), (2, "fp32"), (2, "bf16")])
def test_the_one_step_takes_any_loss_and_batch_source_and_keeps_masks(parts, precision):
    from restorelab.pruning import apply_masks, masked_step
    from restorelab.training import Step, fit

    def mse(out, y):
        return ((out.float() - y) ** 2).mean()

    model, masks = _masked_conv()
    apply_masks(model, masks)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 / (1 + i))
    seen = []
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32  # this toy net does not cast its input

    def batches(i):
        x, y = _toy_batches(i)
        return x.to(dtype), y

    with Step(model, opt, mse, masks=masks, sched=sched, parts=parts, precision=precision) as step:
        assert fit(step, batches, 5, start=2, callbacks=[lambda done, loss: seen.append((done, loss))]) == 5
    assert [d for d, _ in seen] == [3, 4, 5] and opt.param_groups[0]["lr"] == pytest.approx(1e-2 / 4)
    params = dict(model.named_parameters())
    for n, m in masks.items():
        assert torch.all(params[n][m == 0] == 0) and torch.all(opt.state[params[n]]["exp_avg"][m == 0] == 0), n
    if parts == 1 and precision == "fp32":  # bit for bit the hand-written step
        ref, _ = _masked_conv()
        apply_masks(ref, masks)
        ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2)
        ref_sched = torch.optim.lr_scheduler.LambdaLR(ref_opt, lambda i: 1.0 / (1 + i))
        for i in range(2, 5):
            x, y = _toy_batches(i)
            ref_opt.zero_grad(set_to_none=True)
            loss = mse(ref(x), y)
            loss.backward()
            masked_step(ref, masks, ref_opt)
            ref_sched.step()
            assert torch.equal(loss.detach(), seen[i - 2][1])
        assert all(torch.equal(p, q) for p, q in zip(model.parameters(), ref.parameters()))


def test_trainer_is_the_core_loop_plus_bookkeeping(photos, tmp_path):
    """Trainer's losses are those of Step + fit on the same model, optimizer and batches."""
    from restorelab.models import create_model
    from restorelab.training import Step, fit, make_optimizer

    cfg = cfg_for(photos, steps=3, batch_threads=1)
    trainer = Trainer(cfg, tmp_path / "r", progress=False)
    logged = []
    trainer.train(on_step=lambda i, loss: logged.append(loss))
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model)
    opt, sched = make_optimizer(model, cfg)
    plain = []
    fit(Step(model, opt, sched=sched), trainer.batch, cfg.steps, callbacks=[lambda i, loss: plain.append(loss.item())])
    assert plain == logged
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), trainer.model.parameters()))


def test_no_training_loop_outside_the_core():
    """Optimizer updates happen in ``training/core.py`` only (``masked_step`` is defined in ``pruning``)."""
    import re

    allowed = {"restorelab/training/core.py", "restorelab/pruning/apply.py"}
    update = re.compile(r"\.zero_grad\(|\b\w*opt\w*\.step\(|\bmasked_step\(")
    found = [f"{p.relative_to(ROOT)}:{i}" for d in ("restorelab", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if update.search(line) and str(p.relative_to(ROOT)) not in allowed]
    assert found == []


def test_bad_config_values():
    with pytest.raises(RestoreLabError, match="batch_threads"):
        TrainConfig(batch_threads=-1)
    with pytest.raises(RestoreLabError):
        TrainConfig(patch_size=60)
    with pytest.raises(RestoreLabError):
        TrainConfig(optimizer="sgd")
    with pytest.raises(RestoreLabError, match="precision"):
        TrainConfig(precision="fp16")
    with pytest.raises(RestoreLabError, match="unknown"):
        TrainConfig.from_dict({"stepz": 3})


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_ddp_two_gloo_ranks_end_identical(photos, tmp_path, precision):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "restorelab", "train", "--model", "promptir-test", "--data-dir", str(photos),
           "--val-count", "1", "--patch-size", "16", "--batch-size", "2", "--steps", "3", "--warmup-steps", "1",
           "--val-every", "100", "--ckpt-every", "100", "--val-size", "32", "--threads", "1",
           "--run-dir", str(run), "--rank-weights", "--json", "--precision", precision]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = load_weights(run / "rank0.safetensors").state_dict()
    b = load_weights(run / "rank1.safetensors").state_dict()
    theta0 = load_weights(run / "theta0.safetensors").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], theta0[k]) for k in a)


def test_resume_with_a_new_length_rebuilds_the_schedule(photos, tmp_path):
    Trainer(cfg_for(photos, steps=10), tmp_path / "r", progress=False).train(stop_after=3)
    t = Trainer(cfg_for(photos, steps=6), tmp_path / "r", progress=False)
    lrs = []
    t.train(on_step=lambda step, loss: lrs.append(t.sched.get_last_lr()[0]))
    assert t.step == 6
    fresh = Trainer(cfg_for(photos, steps=6), tmp_path / "f", progress=False)
    ref = []
    fresh.train(on_step=lambda step, loss: ref.append(fresh.sched.get_last_lr()[0]))
    assert lrs == pytest.approx(ref[3:])
    log = (tmp_path / "r" / "log.jsonl").read_text()
    assert '"event": "reschedule"' in log
    assert json.loads((tmp_path / "r" / "config.json").read_text())["steps"] == 6


def test_new_length_survives_a_kill_before_the_next_checkpoint(photos, tmp_path):
    """A resume with a new --steps rewrites config.json at once; if it is killed before its first
    checkpoint, the next resume must still rebuild the checkpoint's old-length schedule."""
    Trainer(cfg_for(photos, steps=10), tmp_path / "r", progress=False).train(stop_after=3)
    Trainer(cfg_for(photos, steps=6), tmp_path / "r", progress=False)._start()  # config rewritten, then "killed"
    assert json.loads((tmp_path / "r" / "config.json").read_text())["steps"] == 6
    t = Trainer(cfg_for(photos, steps=6), tmp_path / "r", progress=False)
    lrs = []
    t.train(on_step=lambda step, loss: lrs.append(t.sched.get_last_lr()[0]))
    fresh = Trainer(cfg_for(photos, steps=6), tmp_path / "f", progress=False)
    ref = []
    fresh.train(on_step=lambda step, loss: ref.append(fresh.sched.get_last_lr()[0]))
    assert lrs == pytest.approx(ref[3:])


def test_ship_writes_weights_theta0_and_card(photos, tmp_path):
    from restorelab.inference import load_model, shipped_names
    from restorelab.training.export import ship_dense

    Trainer(cfg_for(photos), tmp_path / "r", progress=False).train(stop_after=3)
    Trainer(cfg_for(photos, precision="bf16"), tmp_path / "r", progress=False).train()  # resumed in bf16
    card = ship_dense(tmp_path / "r", "toy", ["python -m restorelab train ..."], weights_dir=tmp_path / "w")
    assert [r["changed"] for r in card["train"]["execution_changes"]] == [{"precision": ["fp32", "bf16"]}]
    assert card["train"]["config"]["precision"] == "bf16"
    assert shipped_names(tmp_path / "w") == ["toy"]  # θ0 has no card, so it is not a model
    assert (tmp_path / "w" / "toy.theta0.safetensors").exists()
    assert card["preset"] == "promptir-test" and card["train"]["steps"] == 6
    assert card["train"]["train_seconds"] >= 0 and card["train"]["last_validation"]["step"] == 6
    assert load_model(str(tmp_path / "w" / "toy.safetensors")).config.dim == 8


def _ship_then_continue(photos, tmp_path):
    """Train and ship ``toy`` from run r, then continue a copy of r (r2) to 8 steps."""
    import shutil

    from restorelab.training.export import ship_dense

    Trainer(cfg_for(photos), tmp_path / "r", progress=False).train()
    ship_dense(tmp_path / "r", "toy", [], weights_dir=tmp_path / "w")
    shutil.copytree(tmp_path / "r", tmp_path / "r2")
    (tmp_path / "r2" / "final.safetensors").unlink()
    Trainer(cfg_for(photos, steps=8), tmp_path / "r2", progress=False).train()


def test_ship_of_a_continued_run_points_at_the_shipped_theta0(photos, tmp_path):
    from restorelab.training.export import ship_dense

    _ship_then_continue(photos, tmp_path)
    card = ship_dense(tmp_path / "r2", "toy-long", [], weights_dir=tmp_path / "w")
    assert card["theta0"] == "toy.theta0.safetensors"
    assert not (tmp_path / "w" / "toy-long.theta0.safetensors").exists()
    assert ship_dense(tmp_path / "r", "toy", [], weights_dir=tmp_path / "w")["theta0"] == "toy.theta0.safetensors"


def test_ship_refuses_unfinished_runs(photos, tmp_path):
    from restorelab.training.export import ship_dense

    Trainer(cfg_for(photos), tmp_path / "r", progress=False).train(stop_after=2)
    with pytest.raises(RestoreLabError, match="not finished"):
        ship_dense(tmp_path / "r", "toy", [], weights_dir=tmp_path / "w")


def test_ship_average_with_ships_the_mean_of_the_weights_and_says_so(photos, tmp_path):
    from restorelab.inference.weights import load_weights
    from restorelab.training.export import ship_dense

    _ship_then_continue(photos, tmp_path)
    before = load_weights(tmp_path / "w" / "toy.safetensors").state_dict()
    after = load_weights(tmp_path / "r2" / "final.safetensors").state_dict()
    # shipped under the same name it averages with: the old weights are read before they are replaced
    card = ship_dense(tmp_path / "r2", "toy", [], weights_dir=tmp_path / "w", average_with=("toy",))
    soup = load_weights(tmp_path / "w" / "toy.safetensors").state_dict()
    assert card["train"]["averaged_with"] == ["toy"]
    assert any(not torch.equal(before[k], after[k]) for k in soup)
    for k in soup:
        torch.testing.assert_close(soup[k], (before[k] + after[k]) / 2)
    with pytest.raises(RestoreLabError, match="not finished"):
        ship_dense(tmp_path / "r2", "toy2", [], weights_dir=tmp_path / "w", average_with=(str(tmp_path / "w"),))


def test_teacher_blends_its_output_into_the_target(photos, tmp_path):
    teacher_run = tmp_path / "teacher"
    Trainer(cfg_for(photos, steps=2), teacher_run, progress=False).train()
    plain = Trainer(cfg_for(photos, seed=1), tmp_path / "s0", progress=False)
    x, y = plain.batch(3)
    for distill in (1.0, 0.25):
        t = Trainer(cfg_for(photos, seed=1, teacher=str(teacher_run), distill=distill), tmp_path / f"s{distill}",
                    progress=False)
        assert not t.teacher.training
        x2, y2 = t.batch(3)
        with torch.no_grad():
            out = t.teacher(x).clamp(0, 1)
        assert torch.equal(x2, x)
        torch.testing.assert_close(y2, (1 - distill) * y + distill * out, atol=1e-6, rtol=0)
    # a run with a teacher resumes exactly like any other
    cfg = cfg_for(photos, teacher=str(teacher_run))
    full = Trainer(cfg, tmp_path / "a", progress=False).train()
    Trainer(cfg, tmp_path / "b", progress=False).train(stop_after=3)
    resumed = Trainer(cfg, tmp_path / "b", progress=False).train()
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in full.state_dict().items())
    with pytest.raises(RestoreLabError, match="distill"):
        cfg_for(photos, distill=1.5)
