"""Clustering a list of requests in arrival order exactly as ingest does it, without a database (for measuring
precision and recall on a labelled set: bench/campaigns_quality.py)."""

from __future__ import annotations

from collections.abc import Iterable

from reviews.ingest.matching import Seeds, match
from reviews.ingest.minhash import fingerprints


def cluster_labels(texts: Iterable[str]) -> list[int | None]:
    """A cluster label per text (the index of its cluster's seed), None for a text that matched nothing yet and
    that nothing matched: the texts as one batch with nothing stored before it."""
    joined = match(fingerprints(list(texts)), Seeds())
    clustered = {seed for seed in joined if seed is not None}
    return [seed if seed is not None else (k if k in clustered else None) for k, seed in enumerate(joined)]
