"""SLA: items past due are counted as breaches and rise in priority; hard-limit ones escalate themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.live import broadcast
from reviews.models import (
    AuditAction,
    Escalation,
    ItemStatus,
    QueueKind,
    ReviewItem,
)
from reviews.routing.facts import hard_limit_slugs, routing_facts
from reviews.routing.open_items import item_open_elsewhere
from reviews.routing.priority import BREACH_BOOST as BREACH_BOOST  # where callers have always found it
from reviews.routing.priority import PRIORITY_FIELDS, active_age_weight, item_reprioritize

HARD_LIMIT_RISK = 0.5  # model risk at which a hard-limit category counts as present
AGE_BATCH = 5_000  # age steps recomputed per sweep at most; the rest wait a minute


@dataclass(frozen=True)
class SweepResult:
    breached: int
    escalated: int
    aged: int = 0


def _hard_limit_conversations(conversation_ids: list[int]) -> set[int]:
    hard = hard_limit_slugs()
    found = set()
    for facts in routing_facts(conversation_ids):
        risky = {slug for slug, value in facts.risks.items() if value >= HARD_LIMIT_RISK}
        if (facts.flagged | risky) & hard:
            found.add(facts.conversation_id)
    return found


@transaction.atomic
def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Run by beat every minute; safe to run twice (a breach is counted once, an age step taken once).

    Breaches: open items past due gain the breach boost; hard-limit ones escalate themselves. Age: open items
    whose next whole hour of waiting is up take it (`reviews/routing/priority.py`). Rows a claim or a decision
    holds are skipped and taken on the next run.
    """
    now = now or timezone.now()
    weight = active_age_weight()
    overdue = list(
        ReviewItem.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=ItemStatus.OPEN, due_at__lt=now, sla_breached_at__isnull=True)
        .exclude(queue__kind=QueueKind.ESCALATION)
        .exclude(gold_presentation__isnull=False)
    )
    for item in overdue:
        item.sla_breached_at = now
        item_reprioritize(item, age_weight=weight, now=now)
    ReviewItem.objects.bulk_update(overdue, ["sla_breached_at", *PRIORITY_FIELDS], batch_size=1000)
    breached = {item.pk for item in overdue}
    aging = list(
        ReviewItem.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=ItemStatus.OPEN, age_step_at__lte=now)
        .exclude(pk__in=breached)
        .order_by("age_step_at")[:AGE_BATCH]
    )
    for item in aging:
        item_reprioritize(item, age_weight=weight, now=now)
    ReviewItem.objects.bulk_update(aging, list(PRIORITY_FIELDS), batch_size=1000)
    if aging:
        broadcast.queues_changed(queue_ids={item.queue_id for item in aging})
    if not overdue:
        return SweepResult(breached=0, escalated=0, aged=len(aging))
    hard = _hard_limit_conversations([item.conversation_id for item in overdue])
    to_escalate = [item for item in overdue if item.conversation_id in hard]
    changed = set()
    for item in to_escalate:
        changed |= _escalate(item, now, age_weight=weight)
    if to_escalate:
        broadcast.queues_changed(queue_ids=changed)
    return SweepResult(breached=len(overdue), escalated=len(to_escalate), aged=len(aging))


def _escalate(item: ReviewItem, now: datetime, *, age_weight: float) -> set[int]:
    """Close the breached item as escalated and open the conversation's item in the escalation queue."""
    reason = f"SLA breached at {now:%Y-%m-%d %H:%M} in a hard-limit category"
    ReviewItem.objects.filter(pk=item.pk).update(
        status=ItemStatus.ESCALATED, closed_at=now, claimed_by=None, lease_expires_at=None
    )
    senior_item = item_open_elsewhere(
        source=item, kind=QueueKind.ESCALATION, routed_by=reason, escalated=True, age_weight=age_weight, now=now
    )
    escalation = Escalation.objects.create(item=item, reason=reason)
    audit_record(actor=None, action=AuditAction.ESCALATION, target=escalation, item=item.pk, automatic=True)
    return {item.queue_id, senior_item.queue_id}
