"""Ingest of flagged conversations: one transaction per batch, idempotent per (source, external_id)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews.ingest.bulk_insert import insert_batch, stored_ids
from reviews.ingest.clustering_jobs import campaigns_enqueue
from reviews.ingest.schemas import ConversationIn
from reviews.models import Source
from reviews.scoring.services import scoring_enqueue

logger = logging.getLogger(__name__)
# Each retry follows a commit of the same ids by another request, so one normally suffices; a few
# cover batches that overlap several concurrent ones.
_ATTEMPTS = 4


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    ids: list[int]  # in request order; a duplicate gives the id already stored
    new_ids: list[int]


def conversations_ingest(*, source: Source, conversations: Sequence[ConversationIn]) -> IngestResult:
    """Store new conversations and their flags, and enqueue them for scoring after commit.

    A conversation already stored for this source (or repeated within the batch)
    counts as a duplicate and changes nothing. The whole batch commits or nothing does.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _ingest_once(source, conversations)
        except IntegrityError:
            # A concurrent request stored some of the same external ids between our read and our
            # insert (our insert waited for its commit); the next read sees them as duplicates.
            if attempt == _ATTEMPTS:
                raise
            logger.info("ingest race on source %s; retrying the batch (attempt %s)", source.pk, attempt + 1)
    raise AssertionError("unreachable")


@transaction.atomic
def _ingest_once(source: Source, conversations: Sequence[ConversationIn]) -> IngestResult:
    stored = stored_ids(source_id=source.pk, external_ids=list({c.external_id for c in conversations}))
    fresh: dict[str, ConversationIn] = {}
    for payload in conversations:
        if payload.external_id not in stored and payload.external_id not in fresh:
            fresh[payload.external_id] = payload
    now = timezone.now()
    new_ids = insert_batch(source_id=source.pk, payloads=list(fresh.values()), received_at=now)
    stored.update(zip(fresh, new_ids, strict=True))
    if new_ids:
        transaction.on_commit(lambda: scoring_enqueue(conversation_ids=new_ids), robust=True)
        # Campaigns are filed by a worker: near-duplicate search costs more than the ingest it would slow.
        transaction.on_commit(lambda: campaigns_enqueue(conversation_ids=new_ids), robust=True)
    return IngestResult(
        accepted=len(new_ids),
        duplicates=len(conversations) - len(new_ids),
        ids=[stored[c.external_id] for c in conversations],
        new_ids=new_ids,
    )
