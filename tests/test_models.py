import pytest
import torch

from restorelab import RestoreLabError
from restorelab.models import FAMILIES, build_from_config, count_params, create_model, get_preset, preset_names
from restorelab.models.dip import noise_input, padded_size


def _image(h, w):
    return torch.rand(1, 3, h, w)


# family -> (input for an h x w image, the output's shape). A new family must say how it is fed.
FAMILY_IO = {
    "promptir": (lambda m, h, w: _image(h, w), lambda m, h, w: (1, 3, h, w)),
    "dncnn": (lambda m, h, w: _image(h, w), lambda m, h, w: (1, 3, h, w)),
    "srresnet": (lambda m, h, w: _image(h, w), lambda m, h, w: (1, 3, h * m.config.scale, w * m.config.scale)),
    # the generator runs at the padded size of the image and the centre is cropped (see models.dip)
    "dip": (lambda m, h, w: noise_input(m.config, h, w, seed=0), lambda m, h, w: (1, 3, *padded_size(m.config, h, w))),
}


def test_every_family_has_a_test_input():
    assert set(FAMILY_IO) == set(FAMILIES)
    assert {get_preset(n).family for n in preset_names()} == set(FAMILIES)


@pytest.mark.parametrize("name", preset_names())
def test_every_registered_model_forward_backward_odd_size(name):
    torch.manual_seed(0)
    model = create_model(name)
    assert model.family == get_preset(name).family
    make_input, out_shape = FAMILY_IO[model.family]
    x = make_input(model, 37, 45)
    y = model(x)
    assert tuple(y.shape) == out_shape(model, 37, 45) and torch.isfinite(y).all()
    y.abs().mean().backward()
    # every parameter gets a gradient, except the paper preset's documented never-called convs
    dead = {n for n, p in model.named_parameters() if p.grad is None}
    assert dead == {n for n, _ in model.named_parameters() if n.startswith("unused.")}
    assert bool(dead) == (name == "promptir-paper")


def test_unknown_family_lists_valid_names():
    with pytest.raises(RestoreLabError, match="srresnet"):
        build_from_config("nope", {})


def test_paper_preset_matches_paper_count():
    total, _ = count_params(create_model("promptir-paper"))
    assert total == 35_592_263  # the count of the official code, incl. its unused 1x1 convs


def test_paper_preset_without_unused_layers():
    total, _ = count_params(create_model("promptir-paper", official_unused_layers=False))
    assert total == 35_592_263 - 215_296


@pytest.mark.parametrize("impl", ["reference", "graph"])
@pytest.mark.parametrize("heads", [(1, 1, 1, 1), (1, 2, 4, 2)])
def test_impls_match_fast_outputs_and_gradients(impl, heads):
    """The official code's form and the form the exports trace (NCHW, no permutes) compute the fast
    form's maths, forward and backward; ``with_impl`` switches every block of a copy."""
    torch.manual_seed(0)
    fast = create_model("promptir-test", heads=heads).to(memory_format=torch.channels_last)
    other = fast.with_impl(impl).to(memory_format=torch.contiguous_format)
    assert other.config.impl == impl and fast.config.impl == "fast"
    assert {m.impl for m in other.modules() if hasattr(m, "impl")} == {impl}
    x = torch.rand(2, 3, 24, 40)
    a = fast(x.contiguous(memory_format=torch.channels_last))
    b = other(x)
    assert (a - x).abs().max() > 1e-3  # the network does something
    assert torch.allclose(a, b, atol=1e-5)
    a.square().mean().backward()
    b.square().mean().backward()
    grads = dict(other.named_parameters())
    for name, p in fast.named_parameters():
        assert torch.allclose(p.grad, grads[name].grad, rtol=1e-4, atol=1e-6), name


def _reference_channel_attention(qkv, temperature):
    """The official MDTA core, by autograd: per-head reshapes, F.normalize, softmax."""
    import torch.nn.functional as F

    n, hw, c3 = qkv.shape
    heads, c = temperature.numel(), c3 // 3
    q, k, v = (t.transpose(1, 2).reshape(n, heads, c // heads, hw) for t in qkv.split(c, -1))
    attn = (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1) * temperature).softmax(-1)
    return (attn @ v).reshape(n, c, hw).transpose(1, 2)


@pytest.mark.parametrize("heads", [1, 4])
def test_channel_attention_backward_is_the_chain_rule(heads):
    from restorelab.models.promptir import _ChannelAttention

    torch.manual_seed(0)
    c = 8
    temperature = (torch.rand(heads, 1, 1, dtype=torch.double) + 0.5).requires_grad_()
    head = torch.arange(c) // (c // heads)
    fn = lambda a, t: _ChannelAttention.apply(a, t, head[:, None] != head[None, :])  # noqa: E731
    qkv = torch.randn(2, 12, 3 * c, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (qkv, temperature))  # against finite differences
    # an all-zero query and key channel, as pruning leaves them: F.normalize's eps clamp is active
    # (not differentiable there), so compare with autograd of the reference form instead
    dead = qkv.detach().clone()
    dead[:, :, 1] = 0
    dead[:, :, c + 2] = 0
    dead.requires_grad_()
    g = torch.randn(2, 12, c, dtype=torch.double)
    ours = torch.autograd.grad(fn(dead, temperature), (dead, temperature), g)
    ref = torch.autograd.grad(_reference_channel_attention(dead, temperature), (dead, temperature), g)
    for a, b in zip(ours, ref):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9 * b.abs().max())


def test_fast_impl_keeps_channels_last():
    # the point of the fast form: no block hands an NCHW tensor to the next convolution
    model = create_model("promptir-test", heads=(1, 2, 4, 2)).to(memory_format=torch.channels_last)
    seen = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_pre_hook(lambda _, inp: seen.append(inp[0].is_contiguous(memory_format=torch.channels_last)))
    model(torch.rand(2, 3, 16, 16).contiguous(memory_format=torch.channels_last))
    assert seen and all(seen)


def test_weight_files_with_the_old_layernorm_key_still_load():
    from restorelab.models.registry import config_from_dict
    assert config_from_dict("promptir", {"layernorm": "reference"}).impl == "reference"


def test_tiny_inputs_are_padded():
    model = create_model("promptir-test").eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 3, 5)).shape == (1, 3, 3, 5)


def test_unknown_preset_lists_valid_names():
    with pytest.raises(RestoreLabError, match="promptir-cpu"):
        get_preset("nope")


def test_unknown_override_is_an_error():
    with pytest.raises(RestoreLabError, match="unknown"):
        create_model("promptir-test", dimm=4)


def test_heads_must_divide_channels():
    with pytest.raises(ValueError):
        create_model("promptir-test", heads=(3, 1, 1, 1))


def test_pointwise_conv_as_row_blocks_is_the_same_conv(monkeypatch):
    """On one thread a large channels_last image runs as 16 row blocks; same numbers, same layout."""
    import torch.nn.functional as F

    from restorelab.models.promptir import pointwise_conv

    seen = []
    conv2d = F.conv2d
    monkeypatch.setattr(F, "conv2d", lambda x, w, *a, **k: seen.append(tuple(x.shape)) or conv2d(x, w, *a, **k))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        cl = torch.channels_last
        # (input, conv batch expected): 16+ blocks of whole rows for channels_last at 64² and up, else plain
        cases = [(torch.rand(4, 5, 64, 72).contiguous(memory_format=cl), 16),
                 (torch.rand(3, 5, 64, 64).contiguous(memory_format=cl), 24),  # 6 blocks per image: 64 % 6
                 (torch.rand(1, 5, 64, 64), 1),  # NCHW
                 (torch.rand(1, 5, 32, 8).contiguous(memory_format=cl), 1),  # small
                 (torch.rand(1, 5, 2, 4096).contiguous(memory_format=cl), 1),  # too few rows to split
                 (torch.rand(0, 5, 64, 64).contiguous(memory_format=cl), 0)]
        for x, expected in cases:
            x.requires_grad_(True)
            w = torch.randn(7, 5, 1, 1, requires_grad=True)
            seen.clear()
            out = pointwise_conv(x, w)
            blocks = seen[0][0]
            ref = conv2d(x, w)
            assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-6)
            if len(x):
                g = torch.rand_like(ref)
                got = torch.autograd.grad(out, (x, w), g)
                want = torch.autograd.grad(ref, (x, w), g)
                assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(got, want))
            assert blocks == expected
            if len(x):  # (an empty tensor's layout is whatever conv2d returns)
                assert out.is_contiguous(memory_format=cl) == x.is_contiguous(memory_format=cl)
    finally:
        torch.set_num_threads(threads)
