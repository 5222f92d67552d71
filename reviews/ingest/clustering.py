"""Assigning ingested conversations to campaigns, inside ingest's own transaction.

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

from django.db.models import F, Q
from django.db.models.functions import Greatest

from reviews.bulk import MAX_PARAMS
from reviews.ingest.minhash import (
    VERIFY,
    Fingerprint,
    Signature,
    best_match,
    fingerprint,
    pack_grams,
    pack_signature,
    similarity,
    unpack_grams,
    unpack_signature,
)
from reviews.models import BAND_FIELDS, Campaign, CampaignMember

_CHUNK = 500  # requests per candidate query: BANDS x 500 parameters stays under every backend's limit


@dataclass
class _Seeds:
    """Seeds known to this batch: signature, shingles, campaign, and the bucket index over them."""

    signature: dict[int, Signature] = field(default_factory=dict)
    grams: dict[int, frozenset[int]] = field(default_factory=dict)
    campaign: dict[int, int | None] = field(default_factory=dict)
    buckets: dict[tuple[int, int], list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, conversation_id: int, fp_bands: Sequence[int], signature: Signature) -> None:
        self.signature[conversation_id] = signature
        for band, key in enumerate(fp_bands):
            self.buckets[(band, key)].append(conversation_id)

    def candidates(self, fp: Fingerprint) -> list[tuple[int, Signature]]:
        found = {seed for band, key in enumerate(fp.bands) for seed in self.buckets.get((band, key), ())}
        return [(seed, self.signature[seed]) for seed in found]


def campaigns_assign(*, requests: Sequence[tuple[int, str]], now: datetime) -> dict[int, int | None]:
    """Fingerprint new conversations (id, request text) and file each under its near-duplicates' campaign.

    Returns conversation id -> campaign id (None: no near-duplicate yet; it became a seed)."""
    prints = [(pk, fp) for pk, text in requests if (fp := fingerprint(text)) is not None]
    if not prints:
        return {}
    seeds = _stored_seeds([fp for _, fp in prints])
    _load_grams(seeds, prints)
    joined: dict[int, int] = {}  # new conversation -> the seed it matched
    members = []
    for pk, fp in prints:
        seed = best_match(fp, seeds.candidates(fp), seeds.grams.__getitem__)
        if seed is not None:
            joined[pk] = seed
            members.append(CampaignMember(conversation_id=pk, joined_at=now))
            continue
        seeds.add(pk, fp.bands, fp.signature)
        seeds.grams[pk], seeds.campaign[pk] = fp.grams, None
        bands = dict(zip(BAND_FIELDS, fp.bands, strict=True))
        row = CampaignMember(
            conversation_id=pk, joined_at=now, signature=pack_signature(fp.signature), grams=pack_grams(fp.grams)
        )
        members.append(_with_bands(row, bands))
    batch = {pk for pk, _ in prints}
    campaign_of = _campaigns_for(seeds, set(joined.values()), batch, now)
    for member in members:
        pk = member.conversation_id
        member.campaign_id = campaign_of[joined[pk]] if pk in joined else campaign_of.get(pk)
    CampaignMember.objects.bulk_create(members, batch_size=MAX_PARAMS // 20)
    _grow(Counter(campaign_of[seed] for seed in joined.values()), now)
    return {m.conversation_id: m.campaign_id for m in members}


def _with_bands(row: CampaignMember, bands: dict[str, int]) -> CampaignMember:
    for name, value in bands.items():
        setattr(row, name, value)
    return row


def _stored_seeds(fps: Sequence[Fingerprint]) -> _Seeds:
    """Seeds already stored that share a bucket with any of `fps`."""
    seeds = _Seeds()
    columns = ("conversation_id", "campaign_id", "signature", *BAND_FIELDS)
    for start in range(0, len(fps), _CHUNK):
        chunk = fps[start : start + _CHUNK]
        match = Q()
        for band, name in enumerate(BAND_FIELDS):
            match |= Q((f"{name}__in", sorted({fp.bands[band] for fp in chunk})))
        for pk, campaign, raw, *bands in CampaignMember.objects.filter(match).values_list(*columns):
            if pk not in seeds.signature:
                seeds.add(pk, bands, unpack_signature(raw))
                seeds.campaign[pk] = campaign
    return seeds


def _load_grams(seeds: _Seeds, prints: Sequence[tuple[int, Fingerprint]]) -> None:
    """Shingle hashes of the stored seeds that some request will confirm against (its VERIFY most similar)."""
    wanted: set[int] = set()
    for _, fp in prints:
        ranked = sorted(seeds.candidates(fp), key=lambda c: (-similarity(fp.signature, c[1]), c[0]))
        wanted.update(seed for seed, _ in ranked[:VERIFY])
    rows = CampaignMember.objects.filter(conversation_id__in=wanted).values_list("conversation_id", "grams")
    seeds.grams.update((pk, unpack_grams(raw)) for pk, raw in rows if raw is not None)


def _campaigns_for(seeds: _Seeds, matched: set[int], batch: set[int], now: datetime) -> dict[int, int]:
    """seed -> campaign for every matched seed, starting a campaign for a seed matched the first time."""
    out = {seed: c for seed in matched if (c := seeds.campaign.get(seed)) is not None}
    fresh = sorted(matched - set(out))
    for seed in fresh:
        out[seed] = Campaign.objects.create(seed_id=seed, size=1, created_at=now, last_member_at=now).pk
    # Seeds stored earlier get their campaign now; seeds of this batch get it in the insert (see the caller).
    for seed in fresh:
        if seed not in batch:
            CampaignMember.objects.filter(conversation_id=seed).update(campaign_id=out[seed])
    return out


def _grow(added: Counter[int], now: datetime) -> None:
    for campaign_id, count in added.items():
        Campaign.objects.filter(pk=campaign_id).update(
            size=F("size") + count, last_member_at=Greatest(F("last_member_at"), now)
        )
