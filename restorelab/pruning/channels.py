"""Structured (channel) pruning of PromptIR: whole channels leave, the ticket is a smaller dense network.

Unstructured zeros give no speed on CPUs; removing channels does. A PromptIR's channels form
*groups* that must leave together (one index set per group):

* streams: the residual stream of each level (``S1``..``S4`` in the encoder, ``D3``/``D2`` after the
  decoder's skip 1x1 convs, ``U1``..``U3`` out of the PixelShuffle up-samplers, ``Z1``..``Z3`` out of
  the prompt blocks' 1x1 reductions), each read by every block of its level: LayerNorm weights,
  the attention and GDFN input columns and output rows;
* per block: the attention's channels (q, k, v and the output column, the same count in every
  head) and the GDFN hidden channels (gate and value halves, depthwise filters, output column);
* per prompt block: the prompt bank's channels (``PI``) and its 3x3 conv's outputs (``P``).

Two couplings come from the layout. PixelUnshuffle turns down-sampling conv row k into stream
channels 4k..4k+3, so ``S2``..``S4`` lose channels in units of 4; PixelShuffle makes stream channel
k of ``U`` from conv rows 4k..4k+3. Concatenations (``[U1, S1]`` into the top decoder, ``[S4, P3]``
into a prompt block, ...) index each part with its own group.

``channel_groups(state)`` lists the groups and every (tensor, axis) they index; ``channel_scores``
rates channels (per tensor, the L2 norm of each channel's weights over the tensor's mean, summed:
no layer's scale dominates); ``select_channels`` keeps the best ``keep`` fraction of each group;
``slice_state`` cuts a state dict to the kept channels. ``PromptIR.fit_to_state`` then builds the
smaller network. Removing channels changes what LayerNorm and the attention's softmax see, so a
sliced network is retrained (``restorelab.lottery`` rounds), not expected to match outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from restorelab.errors import RestoreLabError

Keep = dict[str, torch.Tensor]  # group name -> sorted kept channel indices (within the group)


@dataclass(frozen=True)
class Group:
    name: str
    size: int
    unit: int = 1   # channels leave in units of this many (PixelUnshuffle: 4)
    heads: int = 1  # the same count is kept in each of ``heads`` equal parts (MDTA heads)


@dataclass(frozen=True)
class Edge:
    """Axis ``axis`` of tensor ``param`` is the concatenation of ``stream``'s groups, ``copies`` times
    (q|k|v: 3, gate|value: 2). ``layout``: "unshuffle" (row k feeds stream channels 4k..4k+3) or
    "shuffle" (stream channel k comes from rows 4k..4k+3)."""

    param: str
    axis: int
    stream: tuple[str, ...]
    copies: int = 1
    layout: str = ""


class _Builder:
    def __init__(self, state: dict[str, torch.Tensor]):
        self.state, self.groups, self.edges = state, {}, []

    def group(self, name: str, size: int, unit: int = 1, heads: int = 1) -> str:
        self.groups[name] = Group(name, int(size), unit, heads)
        return name

    def edge(self, param: str, axis: int, stream, copies: int = 1, layout: str = "") -> None:
        if param in self.state:
            self.edges.append(Edge(param, axis, tuple(stream), copies, layout))

    def stage(self, prefix: str, stream: tuple[str, ...]) -> None:
        """Every TransformerBlock ``prefix.i`` on ``stream``: its own attention and GDFN groups."""
        s, i = self.state, 0
        while f"{prefix}.{i}.norm1.weight" in s:
            b = f"{prefix}.{i}"
            for norm in ("norm1", "norm2"):
                self.edge(f"{b}.{norm}.weight", 0, stream)
                self.edge(f"{b}.{norm}.bias", 0, stream)
            a = self.group(f"{b}.attn", s[f"{b}.attn.project_out.weight"].shape[1],
                           heads=s[f"{b}.attn.temperature"].shape[0])
            self.edge(f"{b}.attn.qkv.weight", 1, stream)
            self.edge(f"{b}.attn.qkv.weight", 0, (a,), copies=3)
            self.edge(f"{b}.attn.qkv_dwconv.weight", 0, (a,), copies=3)
            self.edge(f"{b}.attn.project_out.weight", 1, (a,))
            self.edge(f"{b}.attn.project_out.weight", 0, stream)
            h = self.group(f"{b}.ffn", s[f"{b}.ffn.project_out.weight"].shape[1])
            self.edge(f"{b}.ffn.project_in.weight", 1, stream)
            self.edge(f"{b}.ffn.project_in.weight", 0, (h,), copies=2)
            self.edge(f"{b}.ffn.dwconv.weight", 0, (h,), copies=2)
            self.edge(f"{b}.ffn.project_out.weight", 1, (h,))
            self.edge(f"{b}.ffn.project_out.weight", 0, stream)
            i += 1

    def prompt(self, name: str, reads: str) -> str:
        """PromptGenBlock ``name`` reading stream ``reads``; returns its output group."""
        s = self.state
        inner = self.group(f"PI:{name}", s[f"{name}.prompt_param"].shape[1])
        out = self.group(f"P:{name}", s[f"{name}.conv3x3.weight"].shape[0])
        self.edge(f"{name}.linear_layer.weight", 1, (reads,))
        self.edge(f"{name}.prompt_param", 1, (inner,))
        self.edge(f"{name}.conv3x3.weight", 1, (inner,))
        self.edge(f"{name}.conv3x3.weight", 0, (out,))
        return out


def channel_groups(state: dict[str, torch.Tensor]) -> tuple[dict[str, Group], list[Edge]]:
    """The channel groups of a PromptIR state dict (full or already sliced) and the axes they index."""
    if "patch_embed.weight" not in state or "up2_1.0.weight" not in state:
        raise RestoreLabError("channel pruning knows the PromptIR architecture only")
    s, b = state, _Builder(state)
    rows = lambda p: s[p].shape[0]  # noqa: E731
    s1 = b.group("S1", rows("patch_embed.weight"))
    b.edge("patch_embed.weight", 0, (s1,))
    b.stage("encoder_level1", (s1,))
    enc = [s1]
    for lvl, down in ((2, "down1_2"), (3, "down2_3"), (4, "down3_4")):
        g = b.group(f"S{lvl}", 4 * rows(f"{down}.0.weight"), unit=4)
        b.edge(f"{down}.0.weight", 1, (enc[-1],))
        b.edge(f"{down}.0.weight", 0, (g,), layout="unshuffle")
        b.stage("latent" if lvl == 4 else f"encoder_level{lvl}", (g,))
        enc.append(g)
    reads = enc[-1]  # the stream entering the next prompt block
    for lvl, up, skip in ((3, "up4_3", "S3"), (2, "up3_2", "S2")):
        p = b.prompt(f"prompt{lvl}", reads)
        b.stage(f"noise_level{lvl}", (reads, p))
        z = b.group(f"Z{lvl}", rows(f"reduce_noise_level{lvl}.weight"))
        b.edge(f"reduce_noise_level{lvl}.weight", 1, (reads, p))
        b.edge(f"reduce_noise_level{lvl}.weight", 0, (z,))
        u = b.group(f"U{lvl}", rows(f"{up}.0.weight") // 4)
        b.edge(f"{up}.0.weight", 1, (z,))
        b.edge(f"{up}.0.weight", 0, (u,), layout="shuffle")
        d = b.group(f"D{lvl}", rows(f"reduce_chan_level{lvl}.weight"))
        b.edge(f"reduce_chan_level{lvl}.weight", 1, (u, skip))
        b.edge(f"reduce_chan_level{lvl}.weight", 0, (d,))
        b.stage(f"decoder_level{lvl}", (d,))
        reads = d
    p = b.prompt("prompt1", reads)
    b.stage("noise_level1", (reads, p))
    z = b.group("Z1", rows("reduce_noise_level1.weight"))
    b.edge("reduce_noise_level1.weight", 1, (reads, p))
    b.edge("reduce_noise_level1.weight", 0, (z,))
    u = b.group("U1", rows("up2_1.0.weight") // 4)
    b.edge("up2_1.0.weight", 1, (z,))
    b.edge("up2_1.0.weight", 0, (u,), layout="shuffle")
    top = (u, s1)  # the top decoder reads [up-sampled, encoder level 1]: no 1x1 reduction
    b.stage("decoder_level1", top)
    b.stage("refinement", top)
    b.edge("output.weight", 1, top)
    return b.groups, b.edges


def _edge_index(edge: Edge, groups: dict[str, Group], keep: Keep) -> torch.Tensor:
    parts, off = [], 0
    for g in edge.stream:
        parts.append(keep[g] + off)
        off += groups[g].size
    idx = torch.cat(parts)
    if edge.layout == "unshuffle":
        idx = idx[::4] // 4  # kept units are whole: 4k..4k+3 -> row k
    elif edge.layout == "shuffle":
        idx = (4 * idx[:, None] + torch.arange(4)).flatten()
    return torch.cat([idx + c * off for c in range(edge.copies)])


def _per_channel(edge: Edge, t: torch.Tensor, width: int) -> torch.Tensor:
    """The L2 norm of each stream channel's weights in tensor ``t`` along ``edge``."""
    sq = t.detach().float().pow(2).transpose(0, edge.axis).reshape(t.shape[edge.axis], -1).sum(1)
    if edge.layout == "unshuffle":
        sq = sq.repeat_interleave(4)
    elif edge.layout == "shuffle":
        sq = sq.reshape(-1, 4).sum(1)
    return sq.reshape(edge.copies, width).sum(0).sqrt()


def channel_scores(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per group, a score per channel: over the tensors that index it, norm / the tensor's mean norm."""
    groups, edges = channel_groups(state)
    scores = {g: torch.zeros(grp.size) for g, grp in groups.items()}
    for e in edges:
        width = sum(groups[g].size for g in e.stream)
        v = _per_channel(e, state[e.param], width)
        v = v / v.mean().clamp_min(1e-12)
        off = 0
        for g in e.stream:
            scores[g] += v[off:off + groups[g].size]
            off += groups[g].size
    return scores


def _top(scores: torch.Tensor, k: int) -> torch.Tensor:
    return torch.sort(torch.topk(scores, k).indices).values


def select_channels(state: dict[str, torch.Tensor], keep: float) -> Keep:
    """Keep the best ``keep`` fraction (0 < keep <= 1) of every group's channels, at least one unit
    per group and one channel per head."""
    if not 0 < keep <= 1:
        raise RestoreLabError(f"keep fraction must be in (0, 1], got {keep}")
    groups, _ = channel_groups(state)
    scores, out = channel_scores(state), {}
    for name, g in groups.items():
        sc = scores[name]
        if g.heads > 1:
            per = g.size // g.heads
            k = max(1, round(keep * per))
            out[name] = torch.cat([h * per + _top(sc[h * per:(h + 1) * per], k) for h in range(g.heads)])
        else:
            units = sc.reshape(-1, g.unit).sum(1)
            k = max(1, round(keep * units.numel()))
            kept = _top(units, k)
            out[name] = (g.unit * kept[:, None] + torch.arange(g.unit)).flatten()
    return out


def slice_state(state: dict[str, torch.Tensor], keep: Keep) -> dict[str, torch.Tensor]:
    """``state`` cut to the kept channels of every group (tensors no group indexes are copied)."""
    groups, edges = channel_groups(state)
    missing = set(groups) - set(keep)
    if missing:
        raise RestoreLabError(f"no kept channels for groups {sorted(missing)[:3]}")
    out = {n: t.clone() for n, t in state.items()}
    for e in edges:  # the indices come from the full-size groups, so order does not matter
        out[e.param] = out[e.param].index_select(e.axis, _edge_index(e, groups, keep))
    return out


def keep_to_json(keep: Keep) -> dict[str, list[int]]:
    return {g: [int(i) for i in idx] for g, idx in keep.items()}


def keep_from_json(d: dict[str, list[int]]) -> Keep:
    return {g: torch.tensor(v, dtype=torch.long) for g, v in d.items()}
