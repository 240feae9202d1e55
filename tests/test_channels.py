"""Structured (channel) pruning: groups cover PromptIR, slicing builds a smaller network that runs,
keeping every channel changes nothing, and channel IMP rounds train, resume and export."""

import json

import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.inference.weights import load_weights, save_weights
from restorelab.lottery.export import export
from restorelab.lottery.imp import IMP, LotteryConfig, rounds_needed
from restorelab.lottery.toydata import ToyPairs, toy_images, toy_val_set
from restorelab.models import count_params, create_model
from restorelab.pruning.channels import channel_groups, channel_scores, select_channels, slice_state
from restorelab.training import TrainConfig

PRESETS = ("promptir-test", "promptir-cpu")


def _sliced_model(name, keep, seed=0):
    torch.manual_seed(seed)
    full = create_model(name).eval()
    state = slice_state(full.state_dict(), select_channels(full.state_dict(), keep))
    small = create_model(name).fit_to_state(state)
    small.load_state_dict(state)
    return full, small.eval()


@pytest.mark.parametrize("name", PRESETS)
def test_every_channel_axis_is_covered(name):
    state = create_model(name).state_dict()
    groups, edges = channel_groups(state)
    indexed = {e.param for e in edges}
    # only per-head temperatures and the prompt weights' biases (one per prompt) are left alone
    assert all(n.endswith(("temperature", "linear_layer.bias")) for n in state if n not in indexed)
    widths = {}
    for e in edges:
        w = sum(groups[g].size for g in e.stream) * e.copies
        w = {"unshuffle": w // 4, "shuffle": 4 * w}.get(e.layout, w)
        assert state[e.param].shape[e.axis] == w, e
        widths[e.param] = True


@pytest.mark.parametrize("name", PRESETS)
def test_keeping_every_channel_changes_nothing(name):
    full, small = _sliced_model(name, 1.0)
    x = torch.rand(1, 3, 40, 48)
    with torch.no_grad():
        assert torch.equal(full(x), small(x))


@pytest.mark.parametrize("keep", [0.75, 0.5, 0.3])
def test_sliced_network_is_smaller_and_runs(keep):
    full, small = _sliced_model("promptir-cpu", keep)
    ratio = count_params(small)[0] / count_params(full)[0]
    assert ratio < keep  # most weights sit between two pruned groups: ~keep²
    x = torch.rand(1, 3, 33, 47)
    with torch.no_grad():
        y = small(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    # every attention keeps the same number of channels in each head
    for m in small.modules():
        if hasattr(m, "off_head"):
            assert m.project_out.in_channels % m.heads == 0


def test_pixel_unshuffle_streams_lose_whole_units():
    state = create_model("promptir-cpu").state_dict()
    keep = select_channels(state, 0.5)
    for g in ("S2", "S3", "S4"):
        k = keep[g].reshape(-1, 4)
        assert torch.equal(k - k[:, :1], torch.arange(4).expand_as(k))


def test_scores_prefer_strong_channels():
    state = create_model("promptir-cpu").state_dict()
    state["patch_embed.weight"][3] *= 100  # S1 channel 3 made much stronger
    assert int(channel_scores(state)["S1"].argmax()) == 3
    assert 3 in select_channels(state, 0.2)["S1"].tolist()


def test_saved_structured_model_loads_at_its_widths(tmp_path):
    _, small = _sliced_model("promptir-cpu", 0.5)
    save_weights(small, tmp_path / "s.safetensors")
    back = load_weights(tmp_path / "s.safetensors")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(small(x), back(x))


def test_bad_keep_fraction():
    with pytest.raises(RestoreLabError):
        select_channels(create_model("promptir-test").state_dict(), 0.0)


# -- channel IMP ------------------------------------------------------------------------------
DATA = ToyPairs(toy_images(8, 24, seed=0), patch=16)
VAL = toy_val_set(1, 16)
TRAIN = TrainConfig(model="promptir-test", tasks="denoise_25", patch_size=16, batch_size=2, steps=4,
                    warmup_steps=1, val_every=4, ckpt_every=2, threads=1)
LOTTERY = LotteryConfig(strategy="channels", rate=0.3, target=0.5, steps_per_round=3, rewind_step=-1)


@pytest.fixture(scope="module")
def channel_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("chan")
    return d, list(IMP(LOTTERY, d, train=TRAIN, dataset=DATA, val_set=VAL).run())


def test_channel_rounds_shrink_the_network_to_the_target(channel_run):
    d, recs = channel_run
    assert len(recs) == 1 + rounds_needed(create_model("promptir-test"), LOTTERY)
    totals = [r["total_params"] for r in recs]
    assert totals == sorted(totals, reverse=True) and len(set(totals)) == len(totals)
    last = recs[-1]
    assert last["structured"] and last["sparsity"] >= 0.5
    assert last["sparsity"] == pytest.approx(1 - last["total_params"] / last["dense_params"])
    assert last["nonzero_params"] == last["total_params"]  # dense: nothing masked
    assert json.loads((d / "round_01" / "channels.json").read_text())


def test_channel_round_starts_from_the_previous_weights_sliced(channel_run):
    d, _ = channel_run
    prev = load_weights(d / "round_00" / "final.safetensors").state_dict()
    keep = {g: torch.tensor(v) for g, v in json.loads((d / "round_01" / "channels.json").read_text()).items()}
    theta0 = load_weights(d / "round_01" / "theta0.safetensors").state_dict()
    for n, v in slice_state(prev, keep).items():
        assert torch.equal(theta0[n], v), n


def test_channel_run_resumes_to_the_same_weights(channel_run, tmp_path):
    d, recs = channel_run
    imp = IMP(LOTTERY, tmp_path, train=TRAIN, dataset=DATA, val_set=VAL)
    list(imp.run(stop_after=5))
    assert imp.stopped
    again = list(IMP(LOTTERY, tmp_path, train=TRAIN, dataset=DATA, val_set=VAL).run())
    assert [r["total_params"] for r in again] == [r["total_params"] for r in recs]
    a = load_weights(d / f"round_{len(recs) - 1:02d}" / "final.safetensors").state_dict()
    b = load_weights(tmp_path / f"round_{len(recs) - 1:02d}" / "final.safetensors").state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_export_structured_ticket(channel_run, tmp_path):
    d, recs = channel_run
    card = export(d, "chan-test", weights_dir=tmp_path)
    assert card["structured"] is True and card["format"] == "safetensors"
    assert card["params"] == recs[-1]["total_params"] < card["dense_params"]
    model = load_weights(tmp_path / "chan-test.safetensors")
    assert count_params(model)[0] == card["params"]
    from restorelab.inference.catalog import list_models

    row = next(r for r in list_models(tmp_path) if r["name"] == "chan-test")
    assert row["structured"] is True and row["sparsity"] == pytest.approx(recs[-1]["sparsity"])


def test_channels_config_errors():
    with pytest.raises(RestoreLabError):
        LotteryConfig(strategy="channels", target_over="prunable")


# -- zeros vs speed in the app ------------------------------------------------------------------
BENCH = {"models": ["d", "u", "s"], "backends": ["torch"], "size": 512, "threads": 2, "avx512f": True,
         "psnr_from": "r.json",
         "per_model": {"d": {"params": 100, "nonzero_params": 100, "file_bytes": 4_000_000, "seconds": {"torch": 0.6},
                             "speedup": {"torch": 1.0}},
                       "u": {"params": 100, "nonzero_params": 10, "file_bytes": 700_000, "seconds": {"torch": 0.5},
                             "speedup": {"torch": 1.2}},
                       "s": {"params": 20, "nonzero_params": 20, "file_bytes": 800_000, "seconds": {"torch": 0.2},
                             "speedup": {"torch": 3.0}, "structured": True}},
         "psnr": {"CBSD68-jpeg20": {"d": 28.7, "u": 27.0, "s": 28.5, "u gap": -1.7, "s gap": -0.2},
                  "Rain12": {"d": 30.0, "u": 29.0, "s": 29.6, "u gap": -1.0, "s gap": -0.4}}}


def test_tickets_table_and_lottery_section(tmp_path):
    from restorelab.reports import tickets_table
    from restorelab.ui.lottery_tab import zeros_vs_speed_markdown

    table = tickets_table(BENCH)
    assert "structured ticket" in table and "unstructured ticket" in table and "dense parent" in table
    assert "×3.00" in table and "10 non-zero of 100" in table
    assert "| -0.30 dB | Rain12 -0.40 dB |" in table and "| -1.35 dB | CBSD68-jpeg20 -1.70 dB |" in table
    path = tmp_path / "tickets.json"
    assert zeros_vs_speed_markdown(path) is None  # not benchmarked: no section
    path.write_text(json.dumps(BENCH))
    assert "Zeros vs speed" in zeros_vs_speed_markdown(path)
    path.write_text("{broken")
    assert zeros_vs_speed_markdown(path) is None


def test_bench_tickets_reads_psnr_from_a_real_eval_result():
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("bench_tickets", ROOT / "benchmarks" / "bench_tickets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    results = {"rows": [{"set": "A", "methods": {"d": {"psnr": 30.0}, "s": {"psnr": 29.5}}},
                        {"set": "B", "methods": {"d": {"psnr": 20.0}}}]}  # B: no ticket score, left out
    assert mod.psnr_rows(results, ["d", "s"]) == {"A": {"d": 30.0, "s": 29.5, "s gap": -0.5}}


def test_finetune_keeps_a_structured_ticket_small(channel_run, tmp_path, monkeypatch):
    from restorelab.lottery.baselines import BaselineConfig, run_finetune

    d, recs = channel_run
    cfg = BaselineConfig(kind="finetune")
    rec = run_finetune(cfg, d, tmp_path / "ft", dataset=DATA, val_set=VAL, overrides={"steps": 2})
    assert rec["structured"] and (rec["total_params"], rec["dense_params"]) == (recs[-1]["total_params"],
                                                                                recs[-1]["dense_params"])
    assert rec["sparsity"] == pytest.approx(recs[-1]["sparsity"]) and rec["strategy"] == "channels"
    # from the exported ticket, by name, and exported again: still the smaller plain network
    (tmp_path / "w").mkdir()
    export(d, "chan-test", weights_dir=tmp_path / "w")
    monkeypatch.setenv("RESTORELAB_WEIGHTS_DIR", str(tmp_path / "w"))
    run_finetune(cfg, "chan-test", tmp_path / "ft2", dataset=DATA, val_set=VAL, overrides={"steps": 2})
    card = export(tmp_path / "ft2", "chan-ft", weights_dir=tmp_path / "w")
    assert card["structured"] and card["format"] == "safetensors" and card["strategy"] == "channels"
    assert card["params"] == recs[-1]["total_params"] == count_params(load_weights(tmp_path / "w" / "chan-ft.safetensors"))[0]
