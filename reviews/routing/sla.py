"""SLA: items past due are counted as breaches and rise in priority; hard-limit ones escalate themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reviews.audit import audit_record
from reviews.live import broadcast
from reviews.models import (
    AuditAction,
    Escalation,
    ItemStatus,
    Queue,
    QueueKind,
    ReviewItem,
)
from reviews.routing.facts import hard_limit_slugs, routing_facts

BREACH_BOOST = 10.0  # a breached item outranks any fresh item of the same risk
HARD_LIMIT_RISK = 0.5  # model risk at which a hard-limit category counts as present


@dataclass(frozen=True)
class SweepResult:
    breached: int
    escalated: int


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
    """Run by beat every minute; safe to run twice (a breach is counted once)."""
    now = now or timezone.now()
    overdue = list(
        ReviewItem.objects.select_for_update(skip_locked=True)
        .filter(status=ItemStatus.OPEN, due_at__lt=now, sla_breached_at__isnull=True)
        .exclude(queue__kind=QueueKind.ESCALATION)
        .values_list("pk", "conversation_id")
    )
    if not overdue:
        return SweepResult(breached=0, escalated=0)
    ReviewItem.objects.filter(pk__in=[pk for pk, _ in overdue]).update(
        sla_breached_at=now, priority=F("priority") + BREACH_BOOST
    )
    hard = _hard_limit_conversations([cid for _, cid in overdue])
    to_escalate = [pk for pk, cid in overdue if cid in hard]
    escalation_queue = Queue.objects.get(kind=QueueKind.ESCALATION, is_active=True)
    changed = {escalation_queue.pk}
    for item in ReviewItem.objects.filter(pk__in=to_escalate):
        _escalate(item, escalation_queue, now)
        changed.add(item.queue_id)
    if to_escalate:
        broadcast.queues_changed(queue_ids=changed)
    return SweepResult(breached=len(overdue), escalated=len(to_escalate))


def _escalate(item: ReviewItem, queue: Queue, now: datetime) -> None:
    reason = f"SLA breached at {now:%Y-%m-%d %H:%M} in a hard-limit category"
    ReviewItem.objects.get_or_create(
        conversation_id=item.conversation_id,
        queue=queue,
        defaults={
            "priority": item.priority,
            "risk": item.risk,
            "due_at": now,
            "routed_by": reason,
            "policy_version": item.policy_version,
        },
    )
    ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.ESCALATED, closed_at=now)
    escalation = Escalation.objects.create(item=item, reason=reason)
    audit_record(actor=None, action=AuditAction.ESCALATION, target=escalation, item=item.pk, automatic=True)
