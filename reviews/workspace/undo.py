"""Undo a decision just submitted: the decision is removed (audited) and the item returns to its reviewer's claim;
the item the page handed them next, which they now leave, returns to its queue (audited).

Only while the queue's edit window is open, and only where nothing has happened since that an undo would have
to unwind: a final (senior's) decision, an adjudication opened because the reviewers disagreed, another open
item of the conversation, or another reviewer now working the item. Then the reviewer edits instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.datasets.staleness import dataset_mark_stale
from reviews.live.broadcast import item_claim_changed, queues_changed
from reviews.models import AuditAction, ClaimRecord, Decision, ItemStatus, ReviewItem
from reviews.quality import gold
from reviews.workspace.errors import UndoError

GONE = "That decision was already undone."
CLOSED = "The edit window for this decision has closed: it stays as it is."
NOT_YOURS = "Only the reviewer who made a decision may undo it."
FINAL = "A senior's final decision cannot be undone: edit it instead."
MOVED_ON = "This item has moved on since (a senior was asked, or it is open elsewhere): edit your decision instead."
TAKEN = "Another reviewer is working this item now: edit your decision instead."


def _undoable(decision: Decision, item: ReviewItem, reviewer: User) -> None:
    """UndoError unless the undo can put everything back as it was before the decision."""
    if decision.reviewer_id != reviewer.pk:
        raise UndoError(NOT_YOURS)
    if not decision.is_editable():
        raise UndoError(CLOSED)
    if decision.is_final:
        raise UndoError(FINAL)
    others_open = ReviewItem.objects.filter(conversation_id=item.conversation_id, status=ItemStatus.OPEN)
    if item.adjudications.exists() or item.status not in (ItemStatus.OPEN, ItemStatus.DONE):
        raise UndoError(MOVED_ON)
    if item.status == ItemStatus.DONE and others_open.exists():
        raise UndoError(MOVED_ON)
    held_by_other = item.claimed_by_id not in (None, reviewer.pk)
    if held_by_other and item.lease_expires_at is not None and item.lease_expires_at > timezone.now():
        raise UndoError(TAKEN)


def _return_handed_next(*, item: ReviewItem, reviewer: User, decided: datetime) -> None:
    """The items of the queue claimed for the reviewer after the undone one (the next one the page showed after
    the decision) go back to it: the reviewer is back on the undone item, and a claim they no longer see would
    keep the next one from everyone else until its lease ran out. Claim times against claim times, both the
    database's clock."""
    mine = ClaimRecord.objects.filter(reviewer=reviewer)
    since = mine.filter(item=item).order_by("-claimed_at").values_list("claimed_at", flat=True).first() or decided
    handed = mine.filter(claimed_at__gte=since).values("item_id")
    held = ReviewItem.objects.select_for_update().filter(pk__in=handed, queue_id=item.queue_id)
    held = held.filter(claimed_by=reviewer, status=ItemStatus.OPEN).exclude(pk=item.pk)
    for other in held.order_by("pk"):
        other.claimed_by, other.lease_expires_at = None, None
        other.save(update_fields=["claimed_by", "lease_expires_at"])
        audit_record(actor=reviewer, action=AuditAction.CLAIM_RETURN, target=other, undone=item.pk)
        gold.gold_skipped(item=other)  # a gold presentation goes to no one else, as after a skip
        item_claim_changed(item=other)


def decision_undo(*, decision: Decision, reviewer: User) -> ReviewItem:
    """Remove the reviewer's decision and give them the item back under a fresh lease (audited)."""
    with transaction.atomic():
        locked = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("item__queue")
            .filter(pk=decision.pk)
            .first()
        )
        if locked is None:
            raise UndoError(GONE)
        item = ReviewItem.objects.select_for_update().select_related("queue").get(pk=locked.item_id)
        _undoable(locked, item, reviewer)
        Decision.objects.filter(pk=locked.pk).delete()
        now = timezone.now()
        item.status, item.closed_at = ItemStatus.OPEN, None
        item.reviews_done = max(0, item.reviews_done - 1)
        item.claimed_by, item.lease_expires_at = reviewer, now + timedelta(seconds=item.queue.lease_seconds)
        item.save(update_fields=["status", "closed_at", "reviews_done", "claimed_by", "lease_expires_at"])
        audit_record(
            actor=reviewer,
            action=AuditAction.DECISION_UNDO,
            target=item,
            decision=locked.pk,
            verdict=locked.verdict,
            categories=list(locked.categories),
            severity=locked.severity,
        )
        dataset_mark_stale(decision=locked, edited=True)  # a snapshot that held it now differs
        _return_handed_next(item=item, reviewer=reviewer, decided=locked.created_at)
        item_claim_changed(item=item)
        queues_changed(queue_ids=[item.queue_id])
    return item
