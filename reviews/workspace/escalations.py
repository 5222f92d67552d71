"""Escalation: a reviewer hands an item to the seniors with a reason; a senior's decision resolves it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.live.broadcast import queues_changed
from reviews.models import (
    AuditAction,
    Decision,
    Escalation,
    EscalationStatus,
    ItemStatus,
    QueueKind,
    ReviewItem,
    Verdict,
)
from reviews.routing.open_items import item_open_elsewhere
from reviews.routing.priority import ESCALATION_BOOST as ESCALATION_BOOST  # where callers have always found it
from reviews.routing.priority import active_age_weight
from reviews.workspace.claims import item_lock_held
from reviews.workspace.errors import EscalationError


def escalation_raise(*, item: ReviewItem, reviewer: User, reason: str, suggested_verdict: str = "") -> Escalation:
    """Close the item as escalated and put its conversation in the escalation queue (ClaimConflict if lost).

    `suggested_verdict`: the verdict the reviewer had chosen, kept for the seniors as their suggestion."""
    reason = reason.strip()
    if not reason:
        raise EscalationError("Say why you escalate this item.")
    if suggested_verdict and suggested_verdict not in Verdict.values:
        raise EscalationError(f"Unknown verdict {suggested_verdict!r}.")
    with transaction.atomic():
        locked = item_lock_held(item=item, reviewer=reviewer)
        if locked.status != ItemStatus.OPEN:
            raise EscalationError(f"Item {locked.pk} is {locked.status}; it cannot be escalated.")
        if locked.queue.kind == QueueKind.ESCALATION:
            raise EscalationError("This item is already with the seniors: decide it.")
        now = timezone.now()
        locked.status, locked.closed_at = ItemStatus.ESCALATED, now
        locked.claimed_by, locked.lease_expires_at = None, None
        locked.save(update_fields=["status", "closed_at", "claimed_by", "lease_expires_at"])
        # Closed first: the conversation's one open item is now the seniors' (a resolved one opens again).
        senior_item = item_open_elsewhere(
            source=locked,
            kind=QueueKind.ESCALATION,
            routed_by=f"escalated by {reviewer.get_username()} from item {locked.pk}",
            escalated=True,
            age_weight=active_age_weight(),
            now=now,
        )
        escalation = Escalation.objects.create(
            item=locked, raised_by=reviewer, reason=reason, suggested_verdict=suggested_verdict
        )
        audit_record(
            actor=reviewer,
            action=AuditAction.ESCALATION,
            target=escalation,
            item=locked.pk,
            reason=reason,
            suggested_verdict=suggested_verdict,
        )
        queues_changed(queue_ids=[locked.queue_id, senior_item.queue_id])
    return escalation


def escalations_resolve(*, item: ReviewItem, decision: Decision, senior: User) -> int:
    """Resolve every open escalation of the conversation with the senior's final decision (inside its transaction)."""
    now = timezone.now()
    count = 0
    for escalation in Escalation.objects.select_for_update(of=("self",)).filter(
        item__conversation_id=item.conversation_id, status=EscalationStatus.OPEN
    ):
        escalation.status, escalation.resolved_by = EscalationStatus.RESOLVED, senior
        escalation.resolution, escalation.resolved_at = decision, now
        escalation.save(update_fields=["status", "resolved_by", "resolution", "resolved_at"])
        audit_record(
            actor=senior,
            action=AuditAction.ESCALATION_RESOLVED,
            target=escalation,
            decision=decision.pk,
            verdict=decision.verdict,
        )
        count += 1
    return count
