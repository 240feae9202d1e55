"""Dead-structure removal of pruned models: moved to :mod:`restorelab.inference.shrink` (loading a
pruned model for inference uses it; inference never imports lottery). Re-exported here for
existing imports."""

from restorelab.inference.shrink import (
    PrunedAttention,
    PrunedBlock,
    attention_keep,
    ffn_alive,
    shrink,
    shrink_attention,
    shrink_ffn,
)

__all__ = ["PrunedAttention", "PrunedBlock", "attention_keep", "ffn_alive", "shrink", "shrink_attention", "shrink_ffn"]
