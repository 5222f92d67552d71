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
    Queue,
    QueueKind,
    ReviewItem,
)
from reviews.workspace.claims import item_lock_held
from reviews.workspace.errors import EscalationError

ESCALATION_BOOST = 5.0  # a reviewer's escalation outranks fresh work of the same risk


def escalation_raise(*, item: ReviewItem, reviewer: User, reason: str) -> Escalation:
    """Close the item as escalated and put its conversation in the escalation queue (ClaimConflict if lost)."""
    reason = reason.strip()
    if not reason:
        raise EscalationError("Say why you escalate this item.")
    with transaction.atomic():
        locked = item_lock_held(item=item, reviewer=reviewer)
        if locked.status != ItemStatus.OPEN:
            raise EscalationError(f"Item {locked.pk} is {locked.status}; it cannot be escalated.")
        if locked.queue.kind == QueueKind.ESCALATION:
            raise EscalationError("This item is already with the seniors: decide it.")
        queue = Queue.objects.get(kind=QueueKind.ESCALATION, is_active=True)
        senior_item, created = ReviewItem.objects.get_or_create(
            conversation_id=locked.conversation_id,
            queue=queue,
            defaults={
                "priority": locked.priority + ESCALATION_BOOST,
                "risk": locked.risk,
                "due_at": locked.due_at,
                "reviews_required": 1,
                "routed_by": f"escalated by {reviewer.get_username()} from item {locked.pk}",
                "policy_version": locked.policy_version,
            },
        )
        if not created and senior_item.status != ItemStatus.OPEN:  # resolved before: the seniors look again
            senior_item.status, senior_item.closed_at, senior_item.reviews_done = ItemStatus.OPEN, None, 0
            senior_item.save(update_fields=["status", "closed_at", "reviews_done"])
        now = timezone.now()
        locked.status, locked.closed_at = ItemStatus.ESCALATED, now
        locked.claimed_by, locked.lease_expires_at = None, None
        locked.save(update_fields=["status", "closed_at", "claimed_by", "lease_expires_at"])
        escalation = Escalation.objects.create(item=locked, raised_by=reviewer, reason=reason)
        audit_record(actor=reviewer, action=AuditAction.ESCALATION, target=escalation, item=locked.pk, reason=reason)
        queues_changed(queue_ids=[locked.queue_id, queue.pk])
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
