"""PromptIR (Potlapalli et al., NeurIPS 2023), the all-in-one restorer MIR-L prunes.

A Restormer-style 4-level U-Net (MDTA attention + GDFN feed-forward) with three prompt
blocks in the decoder. Written from the paper and the facts in
``shared/reference/mirl_promptir.md``; parameter names differ from the official code but
the structure and the parameter count (35,592,263 for ``promptir-paper`` with the official
unused layers kept) are the same.

Input: float tensor (N, 3, H, W) in [0, 1], any H and W (padded to a multiple of 8 inside,
cropped back). Output: same shape (a global residual is added, so values may leave [0, 1]).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

IMPLS = ("fast", "reference", "graph")


@dataclass(frozen=True)
class PromptIRConfig:
    """Architecture hyper-parameters. Defaults are the paper's (``promptir-paper``)."""

    dim: int = 48
    num_blocks: tuple[int, int, int, int] = (4, 6, 6, 8)
    num_refinement_blocks: int = 4
    heads: tuple[int, int, int, int] = (1, 2, 4, 8)
    ffn_expansion_factor: float = 2.66
    prompt_len: int = 5
    prompt_dims: tuple[int, int, int] = (64, 128, 320)  # prompt1 (H/2), prompt2 (H/4), prompt3 (H/8)
    prompt_sizes: tuple[int, int, int] = (64, 32, 16)
    # The official code builds six 1x1 convs it never calls (215,296 params); kept only so
    # the paper preset's parameter count matches the paper.
    official_unused_layers: bool = False
    # How the blocks are computed; all three give the same outputs (to float rounding).
    # "fast": written for channels_last CPU tensors (see ChannelLayerNorm, Attention, FeedForward);
    # "reference": the official code's form (to_3d/to_4d LayerNorm, per-head reshapes, chunk);
    # "graph": NCHW throughout, no layout permutes (an exported graph runs them as real copies);
    # what OpenVINO's export traces (``PromptIR.with_impl``): x1.07-1.11 there (docs/backends.md).
    impl: str = "fast"
    in_channels: int = 3
    out_channels: int = 3

    def __post_init__(self):
        for name in ("num_blocks", "heads", "prompt_dims", "prompt_sizes"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if self.impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, not {self.impl!r}")
        for level, h in enumerate(self.heads):
            if (self.dim * 2**level) % h:
                raise ValueError(f"level {level}: {self.dim * 2**level} channels not divisible by {h} heads")

    def to_dict(self) -> dict:
        return asdict(self)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over channels of an (N, C, H, W) tensor (Restormer's 'WithBias' form)."""

    def __init__(self, channels: int, impl: str = "fast"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.impl = impl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "fast":
            # permute is a free view for channels_last tensors; layer_norm is one fused kernel.
            # A bfloat16 model (mixed-precision training) normalises in float32: torch's bf16 CPU
            # kernel is 3-5x slower forward + backward at our 12-24 channels (the casts cost ~10%).
            v = x.permute(0, 2, 3, 1)
            if v.dtype == torch.bfloat16:
                y = F.layer_norm(v.float(), v.shape[-1:], self.weight.float(), self.bias.float(), 1e-5).to(v.dtype)
            else:
                y = F.layer_norm(v, v.shape[-1:], self.weight, self.bias, 1e-5)
            return y.permute(0, 3, 1, 2)
        if self.impl == "graph":  # a reduction over dim 1: no NHWC view to copy to
            mu = x.mean(1, keepdim=True)
            d = x - mu
            var = (d * d).mean(1, keepdim=True)
            return d * torch.rsqrt(var + 1e-5) * self.weight[:, None, None] + self.bias[:, None, None]
        n, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # the official to_3d: (N, HW, C)
        mu = t.mean(-1, keepdim=True)
        var = t.var(-1, keepdim=True, unbiased=False)
        t = (t - mu) / torch.sqrt(var + 1e-5) * self.weight + self.bias
        return t.transpose(1, 2).reshape(n, c, h, w)


def pointwise_conv(x: torch.Tensor, weight: torch.Tensor, min_pixels: int = 64 * 64) -> torch.Tensor:
    """Bias-free 1x1 convolution; on one thread, large channels_last images run as 16+ row blocks.

    PyTorch runs a 1x1 conv on mkldnn only with more than one intra-op thread or a batch of 16+,
    else on its fallback GEMM path, which is ~1.5x slower (forward + backward) on 64² images
    (``benchmarks/bench_layout.py``; at 32² mkldnn gains for some channel counts and loses for
    others, at 16² it is slower: hence the size bound). A 1x1 conv acts on each pixel alone, and a
    channels_last (N, C, H, W) tensor is (N, H, W, C) in memory, so the same memory viewed as
    (N*k, C, H/k, W) gives the same output, with no copy either way. Training split over threads of
    one intra-op thread each (``restorelab.training``) hits this. Callers pass only the weight: the
    blocks' 1x1 convs are built without bias.
    """
    n, c, h, w = x.shape
    if (torch.compiler.is_compiling()  # inductor picks its own conv path
            or not 0 < n < 16 or h * w < min_pixels or torch.get_num_threads() > 1
            or not x.is_contiguous(memory_format=torch.channels_last)):
        return F.conv2d(x, weight)
    k = next((k for k in range(-(-16 // n), h + 1) if h % k == 0), None)  # 16+ blocks of whole rows
    if k is None:
        return F.conv2d(x, weight)
    rows = x.permute(0, 2, 3, 1).reshape(n * k, h // k, w, c).permute(0, 3, 1, 2)
    return F.conv2d(rows, weight).permute(0, 2, 3, 1).reshape(n, h, w, -1).permute(0, 3, 1, 2)


_NORM_EPS = 1e-12  # F.normalize's


def channel_attention(q, k, v, t, off_head=None, v_cols=None, layout="nhwc"):
    """MDTA's core: softmax(q̂ᵀk̂ · t) applied to v. Returns (out, saved).

    ``layout`` "nhwc": q, k, v are (N, HW, ·) views of channels_last tensors, and ``out`` is
    (N, HW, Q), channels_last once viewed as (N, Q, H, W); "nchw": they are (N, ·, HW) views of
    NCHW tensors, and ``out`` is (N, Q, HW). q̂, k̂ are q, k L2-normalised over pixels (as
    F.normalize). Nothing pixel-sized is normalised: qᵀk (Q x K) is divided by |q_i| |k_j|. ``t``
    holds each query row's temperature. Heads are one block-diagonal attention: ``off_head``
    (Q x K, bool) marks the logits set to -inf (weight exactly 0). ``v_cols``: the key column of
    each value, when only some values are kept (shrunk tickets). ``saved`` is what the backward of
    ``_ChannelAttention`` reuses.
    """
    px = 1 if layout == "nhwc" else 2
    qn = torch.linalg.vector_norm(q, dim=px).clamp_min(_NORM_EPS)
    kn = torch.linalg.vector_norm(k, dim=px).clamp_min(_NORM_EPS)
    gram = torch.bmm(q.transpose(1, 2), k) if px == 1 else torch.bmm(q, k.transpose(1, 2))
    gram = gram.div(qn.unsqueeze(-1) * kn.unsqueeze(1))  # q̂ᵀk̂
    logits = gram * t.unsqueeze(-1)
    if off_head is not None:
        logits = logits.masked_fill(off_head, float("-inf"))
    attn = logits.softmax(dim=-1)
    weights = attn if v_cols is None else attn[..., v_cols]
    out = torch.bmm(v, weights.transpose(1, 2)) if px == 1 else torch.bmm(weights, v)
    return out, (qn, kn, gram, attn)


class _ChannelAttention(torch.autograd.Function):
    """``channel_attention`` on a (N, HW, 3C) qkv view, with a hand-written backward.

    The backward is the chain rule of exactly that maths (tested against finite differences and
    against autograd of the reference form): GEMMs for the pixel-sized products (the
    normalisation terms of q and k ride along as ``baddbmm``'s added input), concatenated into one
    (N, HW, 3C) gradient, so it reaches the convolutions channels_last. Forward + backward are
    1.25-1.5x faster than autograd through ``channel_attention`` (``benchmarks/bench_layout.py``:
    its strided norm backward makes extra passes); a small part of a training step.
    """

    @staticmethod
    def forward(ctx, qkv, temperature, off_head):
        c = qkv.shape[-1] // 3
        t = temperature.reshape(-1).repeat_interleave(c // temperature.numel())
        out, (qn, kn, gram, attn) = channel_attention(*qkv.split(c, dim=-1), t,
                                                      off_head if temperature.numel() > 1 else None)
        ctx.save_for_backward(qkv, qn, kn, t, gram, attn)
        ctx.temperature_shape = temperature.shape
        return out

    @staticmethod
    def backward(ctx, grad_out):
        qkv, qn, kn, t, gram, attn = ctx.saved_tensors
        c = qkv.shape[-1] // 3
        q, k, v = qkv.split(c, dim=-1)
        grad_attn = torch.bmm(grad_out.transpose(1, 2), v)
        grad_logits = attn * (grad_attn - (grad_attn * attn).sum(-1, keepdim=True))  # softmax backward
        per_t = grad_logits * gram
        grad_t = per_t.sum(-1)  # d/dt_i, per sample
        # d loss/d |q_i| = -sum_j grad_logits_ij logits_ij / |q_i|, then d|q_i|/dq = q/|q_i| (none if clamped)
        q_scale = torch.where(qn > _NORM_EPS, -(grad_t * t) / (qn * qn), 0.0)
        k_scale = torch.where(kn > _NORM_EPS, -(per_t * t.unsqueeze(-1)).sum(-2) / (kn * kn), 0.0)
        grad_gram = grad_logits * (t / qn).unsqueeze(-1) / kn.unsqueeze(1)  # d/d(qᵀk)
        grad_q = torch.baddbmm(q * q_scale.unsqueeze(1), k, grad_gram.transpose(1, 2))
        grad_k = torch.baddbmm(k * k_scale.unsqueeze(1), q, grad_gram)
        grad_v = torch.bmm(grad_out, attn)
        grad_temperature = grad_t.sum(0).reshape(ctx.temperature_shape[0], -1).sum(-1).reshape(ctx.temperature_shape)
        return torch.cat([grad_q, grad_k, grad_v], dim=-1), grad_temperature, None


class Attention(nn.Module):
    """MDTA: attention across channels (C/heads x C/heads per head), linear in pixels.

    The "fast" form computes the same maths on the (N, HW, C) view of a channels_last tensor
    (``_ChannelAttention``): no copies, and its output and gradients stay channels_last. The
    reference form's per-head reshapes copy to NCHW and hand the convolutions NCHW gradients,
    which mkldnn runs 2-4x slower than channels_last ones (benchmarks/bench_layout.py).
    """

    def __init__(self, dim: int, heads: int, impl: str = "fast"):
        super().__init__()
        self.heads = heads
        self.impl = impl
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)
        self.set_inner(dim)

    def set_inner(self, inner: int) -> None:
        """Attention over ``inner`` channels (= dim unless a structured ticket narrowed it)."""
        head = torch.arange(inner) // (inner // self.heads)
        self.register_buffer("off_head", head[:, None] != head[None, :], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "reference":
            return self._reference(x)
        n, _, h, w = x.shape
        c = self.project_out.in_channels  # the attention's width, not the input's (structured tickets)
        if self.impl == "graph":
            q, k, v = self.qkv_dwconv(self.qkv(x)).reshape(n, 3 * c, h * w).split(c, dim=1)
            t = self.temperature.reshape(-1).repeat_interleave(c // self.heads)
            out, _ = channel_attention(q, k, v, t, self.off_head if self.heads > 1 else None, layout="nchw")
            return self.project_out(out.reshape(n, c, h, w))
        qkv = self.qkv_dwconv(pointwise_conv(x, self.qkv.weight)).permute(0, 2, 3, 1).reshape(n, h * w, 3 * c)
        out = _ChannelAttention.apply(qkv, self.temperature, self.off_head)  # (N, HW, C)
        return pointwise_conv(out.reshape(n, h, w, c).permute(0, 3, 1, 2), self.project_out.weight)

    def _reference(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        c = self.project_out.in_channels
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(n, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        out = (attn @ v).reshape(n, c, h, w)
        return self.project_out(out)


class FeedForward(nn.Module):
    """GDFN: 1x1 expand, 3x3 depthwise, GELU gate, 1x1 project.

    The "fast" form runs the two halves (gate and value) as separate convolutions with the
    halves of the same weights (depthwise and 1x1 convs act per output channel, so this is the
    same maths): each half is then a contiguous channels_last tensor, where GELU and its
    backward run 2.3-3.9x faster than on the strided ``chunk`` views of the reference form.
    """

    def __init__(self, dim: int, expansion: float, impl: str = "fast"):
        super().__init__()
        hidden = int(dim * expansion)
        self.impl = impl
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=False)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=False)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "reference":
            x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
            return self.project_out(F.gelu(x1) * x2)
        h = self.project_out.in_channels  # not the config's: shrink() removes hidden channels
        w_in, w_dw = self.project_in.weight, self.dwconv.weight
        x1 = F.conv2d(pointwise_conv(x, w_in[:h]), w_dw[:h], padding=1, groups=h)
        x2 = F.conv2d(pointwise_conv(x, w_in[h:]), w_dw[h:], padding=1, groups=h)
        return pointwise_conv(F.gelu(x1) * x2, self.project_out.weight)


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, expansion: float, impl: str):
        super().__init__()
        self.norm1 = ChannelLayerNorm(dim, impl)
        self.attn = Attention(dim, heads, impl)
        self.norm2 = ChannelLayerNorm(dim, impl)
        self.ffn = FeedForward(dim, expansion, impl)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def _stage(n: int, dim: int, heads: int, cfg: PromptIRConfig) -> nn.Sequential:
    return nn.Sequential(*[TransformerBlock(dim, heads, cfg.ffn_expansion_factor, cfg.impl) for _ in range(n)])


class Downsample(nn.Sequential):
    """C -> 2C channels, H/2 x W/2."""

    def __init__(self, c: int):
        super().__init__(nn.Conv2d(c, c // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))


class Upsample(nn.Sequential):
    """C -> C/2 channels, 2H x 2W."""

    def __init__(self, c: int):
        super().__init__(nn.Conv2d(c, c * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))


class PromptGenBlock(nn.Module):
    """A learned bank of prompt_len prompts, mixed by weights predicted from the features."""

    def __init__(self, prompt_dim: int, prompt_len: int, prompt_size: int, lin_dim: int):
        super().__init__()
        self.prompt_param = nn.Parameter(torch.rand(prompt_len, prompt_dim, prompt_size, prompt_size))
        self.linear_layer = nn.Linear(lin_dim, prompt_len)
        self.conv3x3 = nn.Conv2d(prompt_dim, prompt_dim, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.linear_layer(x.mean(dim=(-2, -1))).softmax(dim=1)  # (N, prompt_len)
        prompt = torch.einsum("nl,lchw->nchw", weights, self.prompt_param)
        prompt = F.interpolate(prompt, size=x.shape[-2:], mode="bilinear", align_corners=False)
        if x.is_contiguous(memory_format=torch.channels_last):  # match the features' layout
            prompt = prompt.contiguous(memory_format=torch.channels_last)
        return self.conv3x3(prompt)


class PromptIR(nn.Module):
    family = "promptir"

    def __init__(self, cfg: PromptIRConfig | None = None):
        super().__init__()
        cfg = cfg or PromptIRConfig()
        self.config = cfg
        d, nb, hd, p = cfg.dim, cfg.num_blocks, cfg.heads, cfg.prompt_dims
        c1, c2, c3, c4 = d, d * 2, d * 4, d * 8
        self.patch_embed = nn.Conv2d(cfg.in_channels, d, 3, padding=1, bias=False)
        self.encoder_level1 = _stage(nb[0], c1, hd[0], cfg)
        self.down1_2 = Downsample(c1)
        self.encoder_level2 = _stage(nb[1], c2, hd[1], cfg)
        self.down2_3 = Downsample(c2)
        self.encoder_level3 = _stage(nb[2], c3, hd[2], cfg)
        self.down3_4 = Downsample(c3)
        self.latent = _stage(nb[3], c4, hd[3], cfg)

        self.prompt3 = PromptGenBlock(p[2], cfg.prompt_len, cfg.prompt_sizes[2], c4)
        self.noise_level3 = _stage(1, c4 + p[2], hd[2], cfg)
        # As the official code: reduce to c3 *before* up-sampling, so the skip concat is c2 + c3.
        self.reduce_noise_level3 = nn.Conv2d(c4 + p[2], c3, 1, bias=False)
        self.up4_3 = Upsample(c3)
        self.reduce_chan_level3 = nn.Conv2d(c2 + c3, c3, 1, bias=False)
        self.decoder_level3 = _stage(nb[2], c3, hd[2], cfg)

        self.prompt2 = PromptGenBlock(p[1], cfg.prompt_len, cfg.prompt_sizes[1], c3)
        self.noise_level2 = _stage(1, c3 + p[1], hd[2], cfg)
        self.reduce_noise_level2 = nn.Conv2d(c3 + p[1], c3, 1, bias=False)
        self.up3_2 = Upsample(c3)
        self.reduce_chan_level2 = nn.Conv2d(c3, c2, 1, bias=False)
        self.decoder_level2 = _stage(nb[1], c2, hd[1], cfg)

        self.prompt1 = PromptGenBlock(p[0], cfg.prompt_len, cfg.prompt_sizes[0], c2)
        self.noise_level1 = _stage(1, c2 + p[0], hd[2], cfg)
        self.reduce_noise_level1 = nn.Conv2d(c2 + p[0], c2, 1, bias=False)
        self.up2_1 = Upsample(c2)
        self.decoder_level1 = _stage(nb[0], c2, hd[0], cfg)  # 2d channels: skip concat, no 1x1 reduce
        self.refinement = _stage(cfg.num_refinement_blocks, c2, hd[0], cfg)
        self.output = nn.Conv2d(c2, cfg.out_channels, 3, padding=1, bias=False)

        if cfg.official_unused_layers:
            self.unused = nn.ModuleDict({
                "chnl_reduce1": nn.Conv2d(64, 64, 1, bias=False),
                "chnl_reduce2": nn.Conv2d(128, 128, 1, bias=False),
                "chnl_reduce3": nn.Conv2d(320, 256, 1, bias=False),
                "reduce_noise_channel_1": nn.Conv2d(d + 64, d, 1, bias=False),
                "reduce_noise_channel_2": nn.Conv2d(d * 2 + 128, d * 2, 1, bias=False),
                "reduce_noise_channel_3": nn.Conv2d(d * 4 + 256, d * 4, 1, bias=False),
            })

    def with_impl(self, impl: str) -> "PromptIR":
        """A deep copy computing the same maths in another form (``PromptIRConfig.impl``): every
        block that has an ``impl`` (shrunk blocks too) switches to it."""
        new = copy.deepcopy(self)
        new.config = replace(self.config, impl=impl)
        for mod in new.modules():
            if hasattr(mod, "impl"):
                mod.impl = impl
        return new

    def fit_to_state(self, state: dict[str, torch.Tensor]) -> "PromptIR":
        """Resize layers in place to the tensor shapes of ``state``, so ``load_state_dict(state)`` fits.

        A structured ticket (``restorelab.pruning.channels``) is this architecture with channels
        physically removed: its widths are read from its tensors, its config stays the parent's.
        Layers whose shapes already match are left alone.
        """
        for name, mod in list(self.named_modules()):
            parent_name, _, child = name.rpartition(".")
            parent = self.get_submodule(parent_name) if parent_name else self
            w = state.get(f"{name}.weight")
            if isinstance(mod, nn.Conv2d) and w is not None and w.shape != mod.weight.shape:
                groups = w.shape[0] if mod.groups > 1 else 1  # depthwise stays depthwise
                new = nn.Conv2d(w.shape[1] * groups, w.shape[0], mod.kernel_size, mod.stride, mod.padding,
                                mod.dilation, groups=groups, bias=mod.bias is not None)
                setattr(parent, child, new)
            elif isinstance(mod, nn.Linear) and w is not None and w.shape != mod.weight.shape:
                setattr(parent, child, nn.Linear(w.shape[1], w.shape[0], bias=mod.bias is not None))
            elif isinstance(mod, ChannelLayerNorm) and w is not None and w.shape != mod.weight.shape:
                mod.weight = nn.Parameter(torch.ones(w.shape))
                mod.bias = nn.Parameter(torch.zeros(w.shape))
            elif isinstance(mod, PromptGenBlock):
                p = state.get(f"{name}.prompt_param")
                if p is not None and p.shape != mod.prompt_param.shape:
                    mod.prompt_param = nn.Parameter(torch.zeros(p.shape))
        for mod in self.modules():
            if isinstance(mod, Attention) and mod.off_head.shape[0] != mod.project_out.in_channels:
                mod.set_inner(mod.project_out.in_channels)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        inp = _pad_to_multiple(x, 8)
        # a bfloat16 copy of the model (mixed-precision training) takes and returns the caller's
        # float32 images: the global residual is added at full precision
        e1 = self.encoder_level1(self.patch_embed(inp.to(self.patch_embed.weight.dtype)))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        z = self.latent(self.down3_4(e3))

        z = self.reduce_noise_level3(self.noise_level3(torch.cat([z, self.prompt3(z)], 1)))
        d3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(z), e3], 1)))
        d3 = self.reduce_noise_level2(self.noise_level2(torch.cat([d3, self.prompt2(d3)], 1)))
        d2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(d3), e2], 1)))
        d2 = self.reduce_noise_level1(self.noise_level1(torch.cat([d2, self.prompt1(d2)], 1)))
        d1 = self.decoder_level1(torch.cat([self.up2_1(d2), e1], 1))
        out = self.output(self.refinement(d1)).to(inp.dtype) + inp
        return out[..., :h, :w]


def _pad_to_multiple(x: torch.Tensor, m: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if not (ph or pw):
        return x
    # reflect needs the pad smaller than the side; tiny inputs fall back to replicate.
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
