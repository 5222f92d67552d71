"""Attempts at scoring: counted before work starts, so a conversation that kills its worker
every time is parked after MAX_ATTEMPTS instead of looping; and the sweeper for lost tasks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from reviews.models import Conversation, ScoringStatus
from reviews.routing.services import items_route
from reviews.scoring.services import score_with_fallback, scoring_enqueue

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# A task not done this long after it was enqueued is taken as lost (broker down, worker died).
SWEEP_AFTER = timedelta(minutes=3)


@dataclass(frozen=True)
class Attempt:
    conversation_ids: list[int]  # pending conversations to score now
    redelivered: bool  # some were tried before: a worker died or a task failed


@transaction.atomic
def scoring_attempt_begin(*, conversation_ids: list[int]) -> Attempt:
    rows = list(
        Conversation.objects.select_for_update()
        .filter(pk__in=conversation_ids, scoring_status=ScoringStatus.PENDING)
        .order_by("pk")
        .values_list("pk", "scoring_attempts")
    )
    exhausted = [pk for pk, attempts in rows if attempts >= MAX_ATTEMPTS]
    if exhausted:
        transaction.on_commit(lambda: scoring_park(conversation_ids=exhausted, error="gave up: the worker died"))
    ids = [pk for pk, attempts in rows if attempts < MAX_ATTEMPTS]
    redelivered = any(attempts for _, attempts in rows)
    if redelivered and len(ids) > 1:
        # The batch is split, not scored: no attempt at any one conversation. Counting it would
        # charge innocent members for each redelivery and park them with the culprit.
        return Attempt(conversation_ids=ids, redelivered=True)
    Conversation.objects.filter(pk__in=ids).update(scoring_attempts=F("scoring_attempts") + 1)
    return Attempt(conversation_ids=ids, redelivered=redelivered)


def scoring_attempt_failed(*, conversation_id: int, error: str) -> bool:
    """Record a failure of one conversation; park it when out of attempts. True when parked."""
    conversation = Conversation.objects.get(pk=conversation_id)
    if conversation.scoring_attempts >= MAX_ATTEMPTS:
        scoring_park(conversation_ids=[conversation_id], error=error)
        return True
    Conversation.objects.filter(pk=conversation_id).update(scoring_error=error[:10_000])
    return False


def scoring_attempt_uncount(*, conversation_ids: list[int]) -> None:
    """A transient failure (database or broker away) is not the conversation's fault."""
    Conversation.objects.filter(pk__in=conversation_ids, scoring_attempts__gt=0).update(
        scoring_attempts=F("scoring_attempts") - 1
    )


def scoring_park(*, conversation_ids: list[int], error: str) -> None:
    """Stop trying; the conversation still reaches reviewers on its detectors' own scores."""
    logger.warning("parking conversations %s after repeated scoring failures: %s", conversation_ids, error[:200])
    try:
        with transaction.atomic():
            items_route(conversation_ids=score_with_fallback(conversation_ids=conversation_ids))
    except Exception:
        logger.exception("fallback scoring of parked conversations %s failed", conversation_ids)
    Conversation.objects.filter(pk__in=conversation_ids).update(
        scoring_status=ScoringStatus.PARKED, scoring_error=error[:10_000], scoring_attempts=MAX_ATTEMPTS
    )


def scoring_sweep(*, now: datetime | None = None, limit: int = 10_000) -> int:
    """Re-enqueue pending conversations whose task seems lost. Returns how many."""
    cutoff = (now or timezone.now()) - SWEEP_AFTER
    lost = list(
        Conversation.objects.annotate(enqueued=Coalesce("scoring_enqueued_at", "received_at"))
        .filter(Q(scoring_status=ScoringStatus.PENDING) & Q(enqueued__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if lost:
        Conversation.objects.filter(pk__in=lost).update(scoring_enqueued_at=timezone.now())
        scoring_enqueue(conversation_ids=lost)
    return len(lost)
