"""Assigning ingested conversations to campaigns, on a worker after ingest commits (clustering_jobs.py).

One batch costs two reads and a few writes whatever its size: the stored seeds sharing a band bucket with any
request of the batch (one query over the twelve partial indexes, with their signatures and shingles), then the
new member rows (one COPY on PostgreSQL), the campaigns started and the sizes grown. Which seed each request
joins is decided in memory (reviews/ingest/matching.py), a request able to join a seed from earlier in the same
batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest

from reviews.bulk import MAX_PARAMS
from reviews.ingest.matching import Seeds, match
from reviews.ingest.minhash import Prints, fingerprints, pack_grams, pack_signature, unpack_grams, unpack_signatures
from reviews.lookups import int_array
from reviews.models import BAND_FIELDS, Campaign, CampaignMember

_CHUNK = 500  # requests per candidate query elsewhere: BANDS x 500 parameters stays under every backend's limit
_NO_BANDS = (None,) * len(BAND_FIELDS)
_MEMBER_COLUMNS = ("conversation_id", "campaign_id", "joined_at", "signature", "grams", *BAND_FIELDS)
_MEMBER_TYPES = ("int8", "int8", "timestamptz", "bytea", "bytea", *(["int8"] * len(BAND_FIELDS)))
_SEED_COLUMNS = ("conversation_id", "campaign_id", "signature", "grams", *BAND_FIELDS)


def campaigns_assign(*, requests: Sequence[tuple[int, str]], now: datetime) -> dict[int, int | None]:
    """Fingerprint new conversations (id, request text) and file each under its near-duplicates' campaign.

    Returns conversation id -> campaign id (None: no near-duplicate yet; it became a seed, or it has no word)."""
    ids = [pk for pk, _ in requests]
    prints = fingerprints([text for _, text in requests])
    known, stored = _stored_seeds(prints)
    # Every seed as a conversation id: the stored ones first, then this batch's (match's numbering).
    seed_ids = [*known, *ids]
    joined = {ids[k]: seed_ids[s] for k, s in enumerate(match(prints, stored)) if s is not None}
    campaign_of = _campaigns_for(set(joined.values()), known, now)
    rows: list[tuple[Any, ...]] = []
    for k, pk in enumerate(ids):
        if pk in joined:
            rows.append((pk, campaign_of[joined[pk]], now, None, None, *_NO_BANDS))
        elif (fp := prints.at(k)) is not None:
            rows.append((pk, campaign_of.get(pk), now, pack_signature(fp.row), pack_grams(fp.grams), *fp.bands))
        else:  # no word: matches nothing, but gets its row too: it was looked at (the sweeper skips it)
            rows.append((pk, None, now, None, None, *_NO_BANDS))
    _insert(rows)
    _grow(Counter(campaign_of[seed] for seed in joined.values()), now)
    return {pk: campaign_of[joined[pk]] if pk in joined else campaign_of.get(pk) for pk in ids}


def _insert(rows: list[tuple[Any, ...]]) -> None:
    """The member rows: a binary COPY on PostgreSQL (no SQL to build, no instances, no hex), bulk_create
    elsewhere."""
    if connection.vendor != "postgresql":
        members = [CampaignMember(**dict(zip(_MEMBER_COLUMNS, row, strict=True))) for row in rows]
        CampaignMember.objects.bulk_create(members, batch_size=MAX_PARAMS // len(_MEMBER_COLUMNS))
        return
    table = CampaignMember._meta.db_table
    sql = f"COPY {table} ({', '.join(_MEMBER_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.set_types(list(_MEMBER_TYPES))
        for row in rows:
            copy.write_row(row)


def _stored_seeds(prints: Prints) -> tuple[dict[int, int | None], Seeds]:
    """The stored seeds sharing a bucket with any request of the batch, ascending by id: seed id -> its campaign
    (in that order), and what matching compares."""
    rows = _seed_rows(prints)
    return {row[0]: row[1] for row in rows}, Seeds(
        unpack_signatures([row[2] for row in rows]),
        np.array([row[4:] for row in rows], dtype=np.int64).reshape(len(rows), len(BAND_FIELDS)),
        [unpack_grams(row[3]) for row in rows],
    )


def _seed_rows(prints: Prints) -> list[tuple[Any, ...]]:
    """(id, campaign, signature, shingles, *buckets) of those seeds, ascending by id."""
    asking = prints.bands[prints.has_words()]
    if not len(asking):
        return []
    wanted = [sorted(set(asking[:, band].tolist())) for band in range(len(BAND_FIELDS))]
    if connection.vendor == "postgresql":  # one array per band: nothing to build per value, one plan
        match_any = " OR ".join(f"{name} = ANY(%s::bigint[])" for name in BAND_FIELDS)
        table = CampaignMember._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(_SEED_COLUMNS)} FROM {table} WHERE {match_any} ORDER BY conversation_id",  # noqa: S608
                [int_array(keys) for keys in wanted],
            )
            return cursor.fetchall()
    found: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(asking), _CHUNK):
        either = Q()
        for band, name in enumerate(BAND_FIELDS):
            either |= Q((f"{name}__in", wanted[band][start : start + _CHUNK]))
        found.update((row[0], row) for row in CampaignMember.objects.filter(either).values_list(*_SEED_COLUMNS))
    return [found[pk] for pk in sorted(found)]


def _campaigns_for(matched: set[int], known: dict[int, int | None], now: datetime) -> dict[int, int]:
    """seed -> campaign for every matched seed, starting a campaign for a seed matched the first time (one insert,
    and one update for the seeds stored earlier; seeds of this batch get theirs in the member insert)."""
    out = {seed: c for seed in matched if (c := known.get(seed)) is not None}
    fresh = sorted(matched - set(out))
    if not fresh:
        return out
    created = Campaign.objects.bulk_create(
        [Campaign(seed_id=seed, size=1, created_at=now, last_member_at=now) for seed in fresh]
    )
    out.update((c.seed_id, c.pk) for c in created)
    stored = [seed for seed in fresh if seed in known]
    if stored:
        campaign = Case(*(When(conversation_id=seed, then=Value(out[seed])) for seed in stored))
        CampaignMember.objects.filter(conversation_id__in=stored).update(campaign_id=campaign)
    return out


def _grow(added: Counter[int], now: datetime) -> None:
    """One update for every campaign that gained members."""
    if not added:
        return
    if connection.vendor == "postgresql":  # two arrays, whatever the number of campaigns
        table = Campaign._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET size = c.size + d.n, last_member_at = greatest(c.last_member_at, %s) "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::int[]) AS d(id, n) WHERE c.id = d.id",
                [now, int_array(added), int_array(added.values())],
            )
        return
    more = Case(*(When(pk=pk, then=Value(n)) for pk, n in added.items()), default=Value(0))
    Campaign.objects.filter(pk__in=list(added)).update(
        size=F("size") + more, last_member_at=Greatest(F("last_member_at"), Value(now))
    )
