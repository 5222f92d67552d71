"""Assigning ingested conversations to campaigns, on a worker after ingest commits (clustering_jobs.py).

One batch costs three reads and a few writes whatever its size: the seeds sharing a band bucket with any request
of the batch (one query over the twelve partial indexes), the shingle hashes of the few most similar candidates,
then the new member rows (one bulk insert), the campaigns started and the sizes grown. Requests are matched in
arrival order, so a request can join a seed from earlier in the same batch.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest

from reviews.bulk import MAX_PARAMS
from reviews.ingest.minhash import (
    SHORTLIST,
    Fingerprint,
    best_match,
    fingerprints,
    pack_grams,
    pack_signature,
    unpack_grams,
    unpack_signature,
)
from reviews.models import BAND_FIELDS, Campaign, CampaignMember

_CHUNK = 500  # requests per candidate query: BANDS x 500 parameters stays under every backend's limit
_NO_BANDS = (None,) * len(BAND_FIELDS)


@dataclass
class _Seeds:
    """Seeds known to this batch: the stored ones sharing a bucket with it, and the batch's own new ones."""

    rows: dict[int, npt.NDArray[np.uint64]] = field(default_factory=dict)  # the signatures of stored seeds
    grams: dict[int, frozenset[int]] = field(default_factory=dict)
    campaign: dict[int, int | None] = field(default_factory=dict)
    batch: dict[int, Fingerprint] = field(default_factory=dict)  # this batch's seeds
    stored: dict[tuple[int, int], list[int]] = field(default_factory=lambda: defaultdict(list))
    fresh: dict[tuple[int, int], list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, conversation_id: int, fp: Fingerprint) -> None:
        """A seed of this batch."""
        self.batch[conversation_id] = fp
        self.campaign[conversation_id] = None
        for band, key in enumerate(fp.bands):
            self.fresh[(band, key)].append(conversation_id)

    def candidates(self, fp: Fingerprint, *indexes: dict[tuple[int, int], list[int]]) -> Counter[int]:
        """Seeds of `indexes` sharing a bucket with `fp`, with how many bands they share (stored seeds first)."""
        keys = list(enumerate(fp.bands))
        return Counter(chain.from_iterable(found for index in indexes for key in keys if (found := index.get(key))))

    def row_of(self, seed: int) -> npt.NDArray[np.uint64] | None:
        fp = self.batch.get(seed)
        return fp.row if fp is not None else self.rows.get(seed)

    def grams_of(self, seed: int) -> frozenset[int]:
        fp = self.batch.get(seed)
        return fp.grams if fp is not None else self.grams[seed]


def campaigns_assign(*, requests: Sequence[tuple[int, str]], now: datetime) -> dict[int, int | None]:
    """Fingerprint new conversations (id, request text) and file each under its near-duplicates' campaign.

    Returns conversation id -> campaign id (None: no near-duplicate yet; it became a seed)."""
    found_prints = list(zip((pk for pk, _ in requests), fingerprints([text for _, text in requests]), strict=True))
    prints = [(pk, fp) for pk, fp in found_prints if fp is not None]
    # A request without a word matches nothing, but gets its row too: it was looked at (the sweeper skips it).
    rows: list[tuple[Any, ...]] = [(pk, None, now, None, None, *_NO_BANDS) for pk, fp in found_prints if fp is None]
    if not prints:
        _insert(rows)
        return {}
    seeds = _Seeds()
    _stored_buckets(seeds, [fp for _, fp in prints])
    _load_seeds(seeds, [seeds.candidates(fp, seeds.stored) for _, fp in prints])
    joined: dict[int, int] = {}  # new conversation -> the seed it matched
    for pk, fp in prints:
        found = seeds.candidates(fp, seeds.stored, seeds.fresh)
        seed = best_match(fp, found, seeds.row_of, seeds.grams_of)
        if seed is not None:
            joined[pk] = seed
        else:
            seeds.add(pk, fp)
    campaign_of = _campaigns_for(seeds, set(joined.values()), {pk for pk, _ in prints}, now)
    for pk, fp in prints:
        if pk in joined:
            rows.append((pk, campaign_of[joined[pk]], now, None, None, *_NO_BANDS))
        else:
            sig, grams = pack_signature(fp.row), pack_grams(fp)
            rows.append((pk, campaign_of.get(pk), now, sig, grams, *fp.bands))
    _insert(rows)
    _grow(Counter(campaign_of[seed] for seed in joined.values()), now)
    return {pk: campaign_of[joined[pk]] if pk in joined else campaign_of.get(pk) for pk, _ in prints}


_MEMBER_COLUMNS = ("conversation_id", "campaign_id", "joined_at", "signature", "grams", *BAND_FIELDS)


def _insert(rows: list[tuple[Any, ...]]) -> None:
    """The member rows: COPY on PostgreSQL (no SQL to build, no instances), bulk_create elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        members = [CampaignMember(**dict(zip(_MEMBER_COLUMNS, row, strict=True))) for row in rows]
        CampaignMember.objects.bulk_create(members, batch_size=MAX_PARAMS // len(_MEMBER_COLUMNS))
        return
    table = CampaignMember._meta.db_table
    sql = f"COPY {table} ({', '.join(_MEMBER_COLUMNS)}) FROM STDIN"
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _stored_buckets(seeds: _Seeds, fps: Sequence[Fingerprint]) -> None:
    """The buckets of stored seeds that share one with any of `fps` (ids and bands only)."""
    for pk, *bands in _bucket_rows(fps):
        for band, key in enumerate(bands):
            seeds.stored[(band, key)].append(pk)


def _bucket_rows(fps: Sequence[Fingerprint]) -> list[tuple[Any, ...]]:
    columns = ("conversation_id", *BAND_FIELDS)
    if connection.vendor == "postgresql":  # one array per band: nothing to build per value, one plan
        match = " OR ".join(f"{name} = ANY(%s)" for name in BAND_FIELDS)
        keys = [sorted({fp.bands[band] for fp in fps}) for band in range(len(BAND_FIELDS))]
        with connection.cursor() as cursor:
            table = CampaignMember._meta.db_table
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {match}", keys)  # noqa: S608
            return cursor.fetchall()
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(fps), _CHUNK):
        chunk = fps[start : start + _CHUNK]
        either = Q()
        for band, name in enumerate(BAND_FIELDS):
            either |= Q((f"{name}__in", sorted({fp.bands[band] for fp in chunk})))
        rows.extend(CampaignMember.objects.filter(either).values_list(*columns))
    return rows


def _load_seeds(seeds: _Seeds, stored: list[Counter[int]]) -> None:
    """Signature, shingles and campaign of the stored seeds some request shortlists (sharing most bands)."""
    wanted = {seed for found in stored for seed, _ in found.most_common(SHORTLIST)}
    if not wanted:
        return
    columns = ("conversation_id", "campaign_id", "signature", "grams")
    for pk, campaign, sig, grams in CampaignMember.objects.filter(conversation_id__in=wanted).values_list(*columns):
        if sig is not None and grams is not None:
            seeds.rows[pk], seeds.grams[pk] = unpack_signature(sig), unpack_grams(grams)
            seeds.campaign[pk] = campaign


def _campaigns_for(seeds: _Seeds, matched: set[int], batch: set[int], now: datetime) -> dict[int, int]:
    """seed -> campaign for every matched seed, starting a campaign for a seed matched the first time (one insert,
    and one update for the seeds stored earlier; seeds of this batch get theirs in the member insert)."""
    out = {seed: c for seed in matched if (c := seeds.campaign.get(seed)) is not None}
    fresh = sorted(matched - set(out))
    if not fresh:
        return out
    created = Campaign.objects.bulk_create(
        [Campaign(seed_id=seed, size=1, created_at=now, last_member_at=now) for seed in fresh]
    )
    out.update((c.seed_id, c.pk) for c in created)
    stored = [seed for seed in fresh if seed not in batch]
    if stored:
        campaign = Case(*(When(conversation_id=seed, then=Value(out[seed])) for seed in stored))
        CampaignMember.objects.filter(conversation_id__in=stored).update(campaign_id=campaign)
    return out


def _grow(added: Counter[int], now: datetime) -> None:
    """One update for every campaign that gained members."""
    if not added:
        return
    more = Case(*(When(pk=pk, then=Value(n)) for pk, n in added.items()), default=Value(0))
    Campaign.objects.filter(pk__in=list(added)).update(
        size=F("size") + more, last_member_at=Greatest(F("last_member_at"), Value(now))
    )
