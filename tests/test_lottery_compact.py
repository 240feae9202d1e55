"""Real sparsity: compact files (bit-exact, small) and dead-structure removal (same outputs, fewer params)."""

import pytest
import torch

from restorelab.errors import RestoreLabError
from restorelab.inference.compact import FORMAT, load_compact, save_compact
from restorelab.inference.shrink import PrunedAttention, PrunedBlock, shrink
from restorelab.inference.weights import read_metadata, save_weights
from restorelab.models import count_params, create_model
from restorelab.pruning import apply_masks, ones_masks, prune, sparsity_of

torch.set_num_threads(1)


def _sparse(name, strategy, rate, seed=0):
    """A preset with random weights (non-trivial norms, biases, temperatures), pruned one-shot."""
    torch.manual_seed(seed)
    m = create_model(name).eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith("temperature"):
                p.uniform_(0.5, 2)
            elif n.endswith("bias"):
                p.normal_(0, 0.1)
            elif ".norm" in n:
                p.uniform_(0.5, 1.5)
    masks = prune(strategy, dict(m.named_parameters()), ones_masks(m), rate, seed)
    apply_masks(m, masks)
    return m, masks


def _all_rate(model, target=0.9):
    """The prunable rate that makes ``target`` of *all* parameters zero."""
    total = sum(p.numel() for p in model.parameters())
    p_total = sum(m.numel() for m in ones_masks(model).values())
    return 1 - ((1 - target) * total - (total - p_total)) / p_total


@pytest.mark.parametrize("name", ["promptir-test", "promptir-tiny"])
def test_compact_roundtrip_bit_exact_and_small(tmp_path, name):
    rate = _all_rate(create_model(name))
    model, masks = _sparse(name, "global", rate)
    assert sparsity_of(model, masks, "all") >= 0.9 - 1e-6
    dense, compact = tmp_path / "d.safetensors", tmp_path / "c.safetensors"
    save_weights(model, dense)
    save_compact(model, masks, compact, {"note": "x"})
    back, back_masks = load_compact(compact, with_masks=True)
    a, b = model.state_dict(), back.state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert all(torch.equal(masks[n], back_masks[n]) for n in masks)
    assert not back.training and count_params(back) == count_params(model)
    assert compact.stat().st_size <= 0.15 * dense.stat().st_size
    meta = read_metadata(compact)
    assert meta["format"] == FORMAT and meta["family"] == "promptir" and meta["note"] == "x"


def test_compact_without_masks_uses_nonzeros(tmp_path):
    model, _ = _sparse("promptir-test", "random", 0.8)
    save_compact(model, None, tmp_path / "c.safetensors")
    back = load_compact(tmp_path / "c.safetensors")
    assert all(torch.equal(v, back.state_dict()[n]) for n, v in model.state_dict().items())


def test_compact_refuses_values_outside_the_mask(tmp_path):
    model = create_model("promptir-test")
    masks = prune("random", None, ones_masks(model), 0.5)
    with pytest.raises(RestoreLabError, match="outside the mask"):
        save_compact(model, masks, tmp_path / "c.safetensors")
    save_weights(model, tmp_path / "dense.safetensors")
    with pytest.raises(RestoreLabError, match="not a restorelab-compact"):
        load_compact(tmp_path / "dense.safetensors")


@pytest.mark.parametrize("name,strategy,rate", [("promptir-test", "random", 0.9), ("promptir-test", "random", 0.97),
                                                ("promptir-tiny", "layerwise", 0.95), ("promptir-tiny", "random", 0.9)])
def test_shrink_same_outputs_fewer_params(name, strategy, rate):
    model, _ = _sparse(name, strategy, rate, seed=1)
    before = {n: v.clone() for n, v in model.state_dict().items()}
    small, report = shrink(model)
    x = torch.rand(2, 3, 37, 45, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref, out, graph = model(x), small(x), small.with_impl("graph")(x)
    assert (ref - x).abs().max() > 1e-3  # the network does something: not a trivial identity
    assert (ref - out).abs().max() <= 1e-4
    assert (ref - graph).abs().max() <= 1e-4  # the shrunk blocks' exported form too
    assert report["params_after"] == count_params(small)[0] < report["params_before"] == count_params(model)[0]
    assert report["ffn_kept"] < report["ffn_hidden"]
    assert any(isinstance(m, (PrunedAttention, PrunedBlock)) for m in small.modules())
    assert all(torch.equal(v, before[n]) for n, v in model.state_dict().items())  # the input is untouched


def test_shrink_of_dense_model_changes_nothing():
    model = create_model("promptir-test").eval()
    small, report = shrink(model)
    assert report["params_after"] == report["params_before"] and report["ffn_dead_fraction"] == 0
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), small(x))


def test_shrink_removes_whole_dead_branches():
    model, _ = _sparse("promptir-test", "random", 0.5)
    with torch.no_grad():
        model.encoder_level1[0].ffn.project_out.weight.zero_()
        model.encoder_level1[0].attn.project_out.weight.zero_()
    small, _ = shrink(model)
    block = small.encoder_level1[0]
    assert isinstance(block, PrunedBlock) and block.attn is None and block.ffn is None
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert (model(x) - small(x)).abs().max() <= 1e-5


def test_load_model_shrinks_pruned_files(tmp_path):
    from restorelab.inference import load_model, run_model

    model, masks = _sparse("promptir-test", "layerwise", 0.9)
    path = tmp_path / "c.safetensors"
    save_compact(model, masks, path)
    small, full = load_model(str(path)), load_model(str(path), shrink_pruned=False)
    assert count_params(small)[0] < count_params(full)[0]
    img = torch.rand(24, 40, 3).numpy()
    assert abs(run_model(small, img) - run_model(full, img)).max() < 1e-4
