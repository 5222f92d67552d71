"""Clustering a list of requests in arrival order exactly as ingest does it, without a database (for measuring
precision and recall on a labelled set: bench/campaigns_quality.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from reviews.ingest.minhash import Fingerprint, best_match, fingerprints


def cluster_labels(texts: Iterable[str]) -> list[int | None]:
    """A cluster label per text (the index of its cluster's seed), None for a text that matched nothing yet and
    that nothing matched. Only seeds (texts that joined no cluster) go into the band index, as in the database."""
    buckets: dict[tuple[int, int], list[int]] = {}
    prints: list[Fingerprint | None] = fingerprints(list(texts))
    seed_of: list[int | None] = [None] * len(prints)
    clustered: set[int] = set()
    for index, fp in enumerate(prints):
        if fp is None:
            continue
        keys = list(enumerate(fp.bands))
        found: Counter[int] = Counter()
        for key in keys:
            found.update(buckets.get(key, ()))
        seed = best_match(fp, found, lambda s: prints[s].row, lambda s: prints[s].grams)  # type: ignore[union-attr]
        if seed is not None:
            seed_of[index] = seed
            clustered.add(seed)
            continue
        seed_of[index] = index
        for key in keys:
            buckets.setdefault(key, []).append(index)
    return [s if s is not None and (s in clustered) else None for s in seed_of]
