"""One open item per conversation: the seniors' item takes over from the others, linked.

A conversation has at most one open item (the `one_open_item_per_conversation` partial unique index). Routing
moves that item between queues (reviews/routing/services.py); escalation and adjudication close the item they
start from and open (or reopen) the conversation's item in the seniors' queue through `item_open_elsewhere`;
a senior's final ruling closes whatever else is still open (`items_supersede`). A closed twin has status
`superseded` and `superseded_by` pointing at the item that took over.
"""

from __future__ import annotations

from datetime import datetime

from reviews.models import ItemStatus, Queue, ReviewItem
from reviews.routing.priority import item_reprioritize


def items_supersede(*, conversation_id: int, by: ReviewItem, now: datetime) -> int:
    """Close every open item of the conversation but `by`, as superseded by it. Inside the caller's transaction."""
    return (
        ReviewItem.objects.filter(conversation_id=conversation_id, status=ItemStatus.OPEN)
        .exclude(pk=by.pk)
        .update(status=ItemStatus.SUPERSEDED, closed_at=now, superseded_by=by, claimed_by=None, lease_expires_at=None)
    )


def item_open_elsewhere(
    *,
    source: ReviewItem,
    kind: str,
    routed_by: str,
    age_weight: float,
    now: datetime,
    escalated: bool = False,
    adjudicated: bool = False,
    reopen: bool = True,
    reviews_required: int = 1,
    adjudicates: ReviewItem | None = None,
) -> ReviewItem:
    """The conversation's item in the active queue of `kind`, opened from `source` (which the caller has closed):
    created with `source`'s base, risk and due time and the given boost, or, where one exists and `reopen`,
    opened again with them. Any other item of the conversation still open is superseded by it. Inside the
    caller's transaction."""
    queue = Queue.objects.get(kind=kind, is_active=True)
    base = source.priority_base if source.priority_base is not None else source.priority
    target = (
        ReviewItem.objects.select_for_update(of=("self",))
        .filter(conversation_id=source.conversation_id, queue=queue)
        .first()
    )
    if target is not None and (target.status == ItemStatus.OPEN or not reopen):
        return target
    still_open = ReviewItem.objects.filter(conversation_id=source.conversation_id, status=ItemStatus.OPEN)
    others = list(still_open.exclude(queue=queue).values_list("pk", flat=True))
    ReviewItem.objects.filter(pk__in=others).update(status=ItemStatus.SUPERSEDED, closed_at=now)  # make way
    if target is None:
        target = ReviewItem(conversation_id=source.conversation_id, queue=queue, created_at=now)
    target.status, target.closed_at, target.reviews_done = ItemStatus.OPEN, None, 0
    target.claimed_by, target.lease_expires_at = None, None
    target.reviews_required, target.routed_by = reviews_required, routed_by
    target.policy_version_id = source.policy_version_id
    target.risk, target.due_at, target.priority_base = source.risk, source.due_at, base
    target.escalation_boost, target.adjudication_boost = escalated, adjudicated
    if adjudicates is not None:
        target.adjudicates = adjudicates
    item_reprioritize(target, age_weight=age_weight, now=now)
    target.save()
    if others:
        ReviewItem.objects.filter(pk__in=others).update(superseded_by=target, claimed_by=None, lease_expires_at=None)
    return target
