"""Compact files of pruned models: moved to :mod:`restorelab.inference.compact`, next to the other
weight loaders (inference never imports lottery). Re-exported here for existing imports."""

from restorelab.inference.compact import FORMAT, Masks, is_compact, load_compact, pack, save_compact, unpack

__all__ = ["FORMAT", "Masks", "is_compact", "load_compact", "pack", "save_compact", "unpack"]
