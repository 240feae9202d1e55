"""Remove structure that pruning made dead: a physically smaller PromptIR, same outputs.

Only places where a channel can vanish without changing the maths are touched; the residual
streams (and so LayerNorm inputs/outputs, up/down-sampling, skips) keep every channel.

* FeedForward (GDFN): hidden channel j computes ``project_out[:, j] * gelu(x1_j) * x2_j``
  with ``x1_j``, ``x2_j`` the dwconv outputs of project_in rows j and h+j. It is dead if
  either project_in row is all zero, either depthwise filter is zero, or project_out
  column j is zero (convs have no bias, gelu(0) = 0, zero padding keeps zeros zero). Dead
  channels leave all three convs.
* Attention (MDTA), per head: a query channel i whose project_out column is zero only
  feeds that unused output row, so it goes (with the column); a value channel that is
  identically zero (zero qkv row or depthwise filter) adds nothing to any output, so it
  goes with its attention column (after the softmax, which still sees every key). Keys
  always stay: each one enters every softmax denominator. A head with no query or no value
  left is dropped.
* A whole attention or feed-forward branch that is dead is skipped, its LayerNorm too.

``shrink(model)`` returns ``(smaller deep copy in eval mode, report)``; the input model is
not modified. Outputs agree to float rounding (~1e-6).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from restorelab.models.promptir import Attention, FeedForward, TransformerBlock, channel_attention


def _rows_alive(w: torch.Tensor) -> torch.Tensor:
    """Bool per output channel: any non-zero weight."""
    return w.detach().flatten(1).ne(0).any(1)


def _cols_alive(w: torch.Tensor) -> torch.Tensor:
    """Bool per input channel of a 1x1 conv: any non-zero weight."""
    return w.detach().flatten(2).ne(0).any(2).any(0)


def _conv_like(conv: nn.Conv2d, weight: torch.Tensor) -> nn.Conv2d:
    """A bias-free Conv2d like ``conv`` holding ``weight`` (out/in/groups from its shape)."""
    groups = weight.shape[0] if conv.groups > 1 else 1
    in_ch = weight.shape[1] * groups
    new = nn.Conv2d(in_ch, weight.shape[0], conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    groups=groups, bias=False)
    new.weight = nn.Parameter(weight.detach().clone().contiguous(), requires_grad=False)
    return new


def _biased(*convs: nn.Conv2d) -> bool:
    return any(c.bias is not None for c in convs)


# -- feed-forward ------------------------------------------------------------------------
def ffn_alive(ffn: FeedForward) -> torch.Tensor:
    """Bool per hidden channel: can it be non-zero?"""
    h = ffn.project_out.in_channels
    pin, dw = _rows_alive(ffn.project_in.weight), _rows_alive(ffn.dwconv.weight)
    return pin[:h] & pin[h:] & dw[:h] & dw[h:] & _cols_alive(ffn.project_out.weight)


def shrink_ffn(ffn: FeedForward) -> FeedForward | None:
    """A FeedForward without its dead hidden channels; None if all are dead."""
    if _biased(ffn.project_in, ffn.dwconv, ffn.project_out):
        return ffn
    alive = ffn_alive(ffn)
    if not alive.any():
        return None
    if alive.all():
        return ffn
    h = alive.numel()
    keep = torch.nonzero(alive).flatten()
    both = torch.cat([keep, keep + h])
    new = FeedForward.__new__(FeedForward)
    nn.Module.__init__(new)
    new.impl = ffn.impl
    new.project_in = _conv_like(ffn.project_in, ffn.project_in.weight[both])
    new.dwconv = _conv_like(ffn.dwconv, ffn.dwconv.weight[both])
    new.project_out = _conv_like(ffn.project_out, ffn.project_out.weight[:, keep])
    return new


# -- attention ---------------------------------------------------------------------------
class PrunedAttention(nn.Module):
    """MDTA with per-head subsets of query and value channels (all keys kept)."""

    def __init__(self, attn: Attention, q_keep: list[torch.Tensor], v_keep: list[torch.Tensor], heads: list[int]):
        super().__init__()
        self.impl = attn.impl
        c = attn.project_out.in_channels // attn.heads
        q_idx = torch.cat([h * c + q_keep[h] for h in heads])
        k_idx = torch.cat([h * c + torch.arange(c) for h in heads])
        v_idx = torch.cat([h * c + v_keep[h] for h in heads])
        dim = attn.project_out.in_channels
        rows = torch.cat([q_idx, dim + k_idx, 2 * dim + v_idx])
        self.qkv = _conv_like(attn.qkv, attn.qkv.weight[rows])
        self.qkv_dwconv = _conv_like(attn.qkv_dwconv, attn.qkv_dwconv.weight[rows])
        self.project_out = _conv_like(attn.project_out, attn.project_out.weight[:, q_idx])
        self.temperature = nn.Parameter(attn.temperature.detach()[heads].clone(), requires_grad=False)
        self.n_q = [int(q_keep[h].numel()) for h in heads]
        self.n_k = c * len(heads)
        self.n_v = [int(v_keep[h].numel()) for h in heads]
        # the heads as one block-diagonal attention (see channel_attention)
        q_head = torch.repeat_interleave(torch.arange(len(heads)), torch.tensor(self.n_q))
        k_head = torch.arange(self.n_k) // c
        self.register_buffer("q_head", q_head, persistent=False)
        self.register_buffer("off_head", q_head[:, None] != k_head[None, :], persistent=False)
        # the key column of each kept value; None when all are kept
        v_cols = torch.cat([i * c + v_keep[h] for i, h in enumerate(heads)])
        self.register_buffer("v_cols", None if v_cols.numel() == self.n_k else v_cols, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        sizes, t = [sum(self.n_q), self.n_k, sum(self.n_v)], self.temperature.reshape(-1)[self.q_head]
        y = self.qkv_dwconv(self.qkv(x))
        if self.impl == "graph":  # NCHW throughout (PromptIRConfig.impl)
            q, k, v = y.reshape(n, -1, h * w).split(sizes, dim=1)
            out, _ = channel_attention(q, k, v, t, self.off_head, self.v_cols, layout="nchw")
            return self.project_out(out.reshape(n, -1, h, w))
        q, k, v = y.permute(0, 2, 3, 1).reshape(n, h * w, -1).split(sizes, dim=-1)
        out, _ = channel_attention(q, k, v, t, self.off_head, self.v_cols)
        return self.project_out(out.reshape(n, h, w, -1).permute(0, 3, 1, 2))


def attention_keep(attn: Attention) -> tuple[list[torch.Tensor], list[torch.Tensor], list[int]]:
    """Per head: kept query and value channel indices (within the head), and the live heads."""
    dim, heads = attn.project_out.in_channels, attn.heads
    c = dim // heads
    rows = _rows_alive(attn.qkv.weight) & _rows_alive(attn.qkv_dwconv.weight)
    out_used = _cols_alive(attn.project_out.weight)
    q_keep, v_keep, live = [], [], []
    for h in range(heads):
        q = torch.nonzero(out_used[h * c:(h + 1) * c]).flatten()
        v = torch.nonzero(rows[2 * dim + h * c:2 * dim + (h + 1) * c]).flatten()
        q_keep.append(q)
        v_keep.append(v)
        if q.numel() and v.numel():
            live.append(h)
    return q_keep, v_keep, live


def shrink_attention(attn: Attention) -> nn.Module | None:
    """A PrunedAttention without dead query/value channels; None if nothing is left."""
    if _biased(attn.qkv, attn.qkv_dwconv, attn.project_out):
        return attn
    q_keep, v_keep, live = attention_keep(attn)
    if not live:
        return None
    c = attn.project_out.in_channels // attn.heads
    if len(live) == attn.heads and all(q_keep[h].numel() == c and v_keep[h].numel() == c for h in live):
        return attn
    return PrunedAttention(attn, q_keep, v_keep, live)


# -- blocks and the model ----------------------------------------------------------------
class PrunedBlock(nn.Module):
    """A TransformerBlock whose dead branches (None) are skipped entirely."""

    def __init__(self, block: TransformerBlock, attn: nn.Module | None, ffn: nn.Module | None):
        super().__init__()
        self.norm1 = block.norm1 if attn is not None else None
        self.attn = attn
        self.norm2 = block.norm2 if ffn is not None else None
        self.ffn = ffn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.attn is not None:
            x = x + self.attn(self.norm1(x))
        if self.ffn is not None:
            x = x + self.ffn(self.norm2(x))
        return x


def _block_stats(name: str, block: TransformerBlock) -> dict:
    ffn_alive_ = ffn_alive(block.ffn)
    q_keep, v_keep, live = attention_keep(block.attn)
    c = block.attn.project_out.in_channels
    return {"block": name, "ffn_hidden": int(ffn_alive_.numel()), "ffn_kept": int(ffn_alive_.sum()),
            "attn_channels": c, "q_kept": int(sum(q_keep[h].numel() for h in live)),
            "v_kept": int(sum(v_keep[h].numel() for h in live)), "heads": block.attn.heads, "heads_live": len(live)}


def shrink(model: nn.Module) -> tuple[nn.Module, dict]:
    """(smaller copy of ``model`` in eval mode, report of what was removed)."""
    from restorelab.models import count_params

    new = copy.deepcopy(model).eval()
    blocks = [(n, m) for n, m in new.named_modules() if isinstance(m, TransformerBlock)]
    stats = []
    for name, block in blocks:
        stats.append(_block_stats(name, block))
        attn, ffn = shrink_attention(block.attn), shrink_ffn(block.ffn)
        parent_name, _, child = name.rpartition(".")
        parent = new.get_submodule(parent_name) if parent_name else new
        if attn is None or ffn is None:
            parent._modules[child] = PrunedBlock(block, attn, ffn)
        else:
            block.attn, block.ffn = attn, ffn
    for p in new.parameters():
        p.requires_grad_(False)
    before, after = count_params(model)[0], count_params(new)[0]
    s = lambda k: sum(r[k] for r in stats)  # noqa: E731
    report = {"params_before": before, "params_after": after,
              "ffn_hidden": s("ffn_hidden"), "ffn_kept": s("ffn_kept"),
              "ffn_dead_fraction": 1 - s("ffn_kept") / max(1, s("ffn_hidden")),
              "attn_q_kept": s("q_kept"), "attn_v_kept": s("v_kept"), "attn_channels": s("attn_channels"),
              "heads": s("heads"), "heads_live": s("heads_live"), "blocks": stats}
    return new, report
