import pytest
import torch

from restorelab import RestoreLabError
from restorelab.models import count_params, create_model, get_preset, preset_names

SMALL = [n for n in preset_names() if n != "promptir-paper"]


@pytest.mark.parametrize("name", SMALL)
def test_every_preset_forward_backward_odd_size(name):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.rand(1, 3, 37, 29)
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.abs().mean().backward()
    # every parameter gets a gradient (no dead layers in our presets)
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_paper_preset_matches_paper_count():
    total, _ = count_params(create_model("promptir-paper"))
    assert total == 35_592_263  # the count of the official code, incl. its unused 1x1 convs


def test_paper_preset_without_unused_layers():
    total, _ = count_params(create_model("promptir-paper", official_unused_layers=False))
    assert total == 35_592_263 - 215_296


def test_channels_last_and_fast_layernorm_agree_with_reference():
    torch.manual_seed(0)
    ref = create_model("promptir-test", layernorm="reference").eval()
    fast = create_model("promptir-test").eval()
    fast.load_state_dict(ref.state_dict())
    fast = fast.to(memory_format=torch.channels_last)
    x = torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        a = ref(x)
        b = fast(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(a, b, atol=1e-5)


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
