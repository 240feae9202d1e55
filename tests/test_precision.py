"""bf16 mixed precision: a bfloat16 copy runs forward + backward, float32 weights take the update."""

import torch
import torch.nn.functional as F

from restorelab.models import create_model
from restorelab.models.promptir import ChannelLayerNorm
from restorelab.training.precision import Bf16Shadow, native_bf16
from restorelab.training.split import BatchSplit


def _batch(n=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g)
    y = (x + 0.1 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    return x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)


def test_bf16_layer_norm_matches_float32():
    ln = ChannelLayerNorm(12)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-0.5, 0.5)
    x = (torch.randn(2, 12, 8, 8) * 5 + 3).contiguous(memory_format=torch.channels_last)
    ref = ln(x)
    out = ln.to(torch.bfloat16)(x.bfloat16())
    assert out.dtype == torch.bfloat16 and out.is_contiguous(memory_format=torch.channels_last)
    # within a bf16 rounding (8 bits of mantissa) of the float32 result
    torch.testing.assert_close(out.float(), ref, atol=0.02, rtol=0.01)


def test_bf16_model_takes_and_returns_float32_images():
    torch.manual_seed(0)
    model = create_model("promptir-test").to(memory_format=torch.channels_last)
    x, _ = _batch()
    ref = model(x)
    out = Bf16Shadow(model).model(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert (out - ref).abs().max() < 0.05 and (out - ref).abs().mean() < 0.005


def test_shadow_gradients_reach_the_float32_weights():
    torch.manual_seed(0)
    model = create_model("promptir-test").to(memory_format=torch.channels_last)
    x, y = _batch()
    BatchSplit(1).backward(model, x, y)
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    shadow = Bf16Shadow(model)
    BatchSplit(2).backward(shadow.model, x, y)
    shadow.grads_to_master()
    assert all(s.grad is None for s in shadow.model.parameters())  # moved, not copied
    flat = torch.cat([ref[n].flatten() for n, _ in model.named_parameters()])
    got = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert F.cosine_similarity(flat, got, dim=0) > 0.999
    for n, p in model.named_parameters():
        # float32, laid out like the weight: what fused AdamW expects
        assert p.grad.dtype == torch.float32 and p.grad.stride() == p.stride(), n


def test_sync_rounds_the_updated_weights_into_the_copy():
    torch.manual_seed(0)
    model = create_model("promptir-test")
    shadow = Bf16Shadow(model)
    assert all(s.dtype == torch.bfloat16 for s in shadow.model.parameters())
    assert all(b.dtype == torch.bool for b in shadow.model.buffers())  # non-float buffers untouched
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.25)
    shadow.sync()
    for p, s in zip(model.parameters(), shadow.model.parameters()):
        assert torch.equal(s, p.bfloat16())


def test_native_bf16_reads_the_cpu_flags(tmp_path):
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/cpuinfo's format")
    for name, flags, expected in [("avx512", "fpu avx2 avx512f avx512_bf16 sha_ni", True),
                                  ("amx", "fpu avx2 amx_bf16 amx_tile", True),
                                  ("none", "fpu avx2 avx512f avx512_vnni", False)]:
        f = tmp_path / name
        f.write_text(f"processor\t: 0\nmodel name\t: x\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
        assert native_bf16(str(f)) is expected, name
    assert native_bf16(str(tmp_path / "missing")) is False


def test_bf16_is_never_the_default_and_warns_where_emulated(tmp_path, monkeypatch):
    """The AVX2-only CPUs emulate bf16 (~11x slower): no config picks it by itself, and asking warns."""
    import dataclasses

    import pytest

    from restorelab.grids.deltap import GroupTrainConfig
    from restorelab.training import loop
    from restorelab.training.config import TrainConfig

    assert TrainConfig().precision == "fp32"
    assert GroupTrainConfig().precision == "fp32"
    monkeypatch.setattr(loop, "native_bf16", lambda: False)
    cfg = dataclasses.replace(TrainConfig(), model="promptir-tiny", precision="bf16", steps=1)
    with pytest.warns(UserWarning, match="SLOWER"):
        loop.Trainer(cfg, tmp_path / "run")
