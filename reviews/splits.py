"""Which split a conversation falls in under a snapshot's seed and ratios: the one rule that dataset exports
(reviews/datasets) and training on a snapshot (reviews/scoring) share, so a model honours its snapshot's splits."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

SPLITS = ("train", "validation", "test")


def splitter(*, seed: int, ratios: Mapping[str, float]) -> Callable[[str], str]:
    """Split key (SplitKey) → the conversation's split, so all its rows land in one split and a seed
    reproduces the split. The bounds are summed once, in SPLITS order."""
    bounds: list[tuple[float, str]] = []
    cumulative = 0.0
    for name in SPLITS:
        if name in ratios:
            cumulative += ratios[name]
            bounds.append((cumulative, name))
    last = bounds[-1][1] if bounds else ""

    def split(key: str) -> str:
        point = int(key, 16) / 2**64
        for bound, name in bounds:
            if point < bound:
                return name
        return last  # rounding left the point above the last bound

    return split


def split_key(conversation_id: int, *, seed: int) -> str:
    """SplitKey (reviews/datasets/filters.py, computed by the database), computed here."""
    return hashlib.sha256(b"%d:%d" % (seed, conversation_id)).hexdigest()[:16]


def split_of(conversation_id: int, *, seed: int, ratios: Mapping[str, float]) -> str:
    return splitter(seed=seed, ratios=ratios)(split_key(conversation_id, seed=seed))
