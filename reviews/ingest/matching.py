"""Which seed each request of a batch joins: candidates from shared band buckets, ranked by their estimated
similarity, the best few confirmed on their shingles (reviews/ingest/minhash.py).

The candidates of the whole batch are found and ranked by NumPy at once (one sort of the seeds' buckets, one
binary search per request bucket; the seeds sharing most buckets, then their signatures compared), so the only
Python loop left is the confirmation of at most VERIFY pairs per request. A request first looks among the stored
seeds; the requests that found none there then look among each other in arrival order, so a request can join a
seed from earlier in the same batch. Only seeds (requests that joined nothing) are ever compared with, as in the
database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from reviews.ingest.minhash import BANDS, SLOTS, Grams, Prints, near_duplicate

VERIFY = 6  # candidates confirmed per request, most similar first
# Seeds taken from one bucket for one request, the oldest first. A template sent with thousands of goals fills the
# buckets its own words decide with thousands of seeds, and without a cap a batch would pair every request with
# every one of them (1,000 requests x 12 buckets x 10,000 seeds). The cap bounds a batch at 3M pairs (0.9 s for
# 1,000 requests of a template against its 10,000 stored goals). It must stay well above one template's goals in a
# batch: at 64 the goal's seed is often cut (JailbreakChat pair recall 0.72 instead of 1.00,
# bench/campaigns_quality.py), at 256 never on that set.
CROWD = 256

Ints = npt.NDArray[np.int64]


@dataclass
class Seeds:
    """Stored seeds sharing a bucket with the batch, ascending by id: signatures, buckets and shingles."""

    rows: npt.NDArray[np.uint64] = field(default_factory=lambda: np.empty((0, SLOTS), dtype=np.uint64))
    bands: Ints = field(default_factory=lambda: np.empty((0, BANDS), dtype=np.int64))
    grams: list[Grams] = field(default_factory=list)


def match(prints: Prints, stored: Seeds) -> list[int | None]:
    """For each request of the batch, what it joins: a stored seed (its index in `stored`), a seed of this batch
    (len(stored.grams) + that request's index), or None (it becomes a seed; or it has no word)."""
    out: list[int | None] = [None] * len(prints)
    asking = np.flatnonzero(prints.has_words())
    if len(stored.grams) and len(asking):
        queries, seeds = _pairs(prints.bands[asking], stored.bands, limit=2 * VERIFY)
        same = np.count_nonzero(prints.rows[asking[queries]] == stored.rows[seeds], axis=1)
        ranked = np.lexsort((seeds, -same, queries))
        for k, found in zip(asking.tolist(), _lists(queries[ranked], seeds[ranked], len(asking), VERIFY), strict=True):
            out[k] = next((s for s in found if near_duplicate(prints.grams(k), stored.grams[s])), None)
    alone = np.array([k for k in asking.tolist() if out[k] is None], dtype=np.int64)
    # Among themselves every earlier candidate is listed: which of them are seeds is only known as the loop goes.
    requests = alone.tolist()
    queries, seeds = _pairs(prints.bands[alone], prints.bands[alone], limit=None)
    joined: set[int] = set()
    for k, found in zip(requests, _lists(queries, seeds, len(alone), None), strict=True):
        live = [requests[s] for s in found if requests[s] not in joined][: 2 * VERIFY]
        if len(live) > VERIFY:  # the most similar first, as for stored seeds
            same = np.count_nonzero(prints.rows[live] == prints.rows[k], axis=1)
            live = [live[i] for i in np.lexsort((live, -same))[:VERIFY].tolist()]
        seed = next((s for s in live if near_duplicate(prints.grams(k), prints.grams(s))), None)
        if seed is not None:
            out[k] = len(stored.grams) + seed
            joined.add(k)
    return out


def _pairs(bands: Ints, seed_bands: Ints, limit: int | None) -> tuple[Ints, Ints]:
    """Every (query, seed) sharing a bucket, most shared buckets first, then lowest seed, in query order: the
    `limit` first of each query. With no limit, queries and seeds are the same requests and only earlier ones
    count."""
    if not len(bands) or not len(seed_bands):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    keys = seed_bands.ravel()
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    ask = bands.ravel()
    lo = np.searchsorted(ordered, ask, "left")
    hits = np.minimum(np.searchsorted(ordered, ask, "right") - lo, CROWD)
    queries = np.repeat(np.arange(len(ask)) // BANDS, hits)
    seeds = order[np.repeat(lo - (np.cumsum(hits) - hits), hits) + np.arange(len(queries))] // BANDS
    if limit is None:
        earlier = seeds < queries
        queries, seeds = queries[earlier], seeds[earlier]
    pairs, shared = np.unique(queries * len(seed_bands) + seeds, return_counts=True)
    queries, seeds = pairs // len(seed_bands), pairs % len(seed_bands)
    ranked = np.lexsort((seeds, -shared, queries))
    queries, seeds = queries[ranked], seeds[ranked]
    if limit is not None:
        place = np.arange(len(queries)) - np.searchsorted(queries, queries)
        queries, seeds = queries[place < limit], seeds[place < limit]
    return queries, seeds


def _lists(queries: Ints, seeds: Ints, n: int, limit: int | None) -> list[list[int]]:
    """The seeds of each of n queries (pairs in query order), the `limit` first."""
    starts = np.searchsorted(queries, np.arange(n + 1))
    ends = starts[1:] if limit is None else np.minimum(starts[1:], starts[:-1] + limit)
    listed = seeds.tolist()
    return [listed[a:b] for a, b in zip(starts[:-1].tolist(), ends.tolist(), strict=True)]
