"""Claiming work: SELECT … FOR UPDATE SKIP LOCKED in a short transaction, with a lease.

Two reviewers asking at once never get the same item: the second skips the row the
first has locked. An expired lease returns the item to the queue by itself (the
claim query treats it as free), so a closed browser loses nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from reviews.models import Queue, ReviewItem
from reviews.selectors import items_claimable


class ClaimConflict(Exception):
    """The item's lease belongs to someone else now."""


def item_claim(*, reviewer: Any, queue: Queue) -> ReviewItem | None:
    """The reviewer's current item in `queue`, else the next free one, leased to them; None when empty."""
    now = timezone.now()
    free = Q(claimed_by__isnull=True) | Q(lease_expires_at__lt=now) | Q(claimed_by=reviewer)
    with transaction.atomic():
        item = (
            items_claimable(user=reviewer, queue=queue)
            .filter(free)
            .order_by("-priority", "created_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if item is None:
            return None
        item.claimed_by, item.lease_expires_at = reviewer, now + timedelta(seconds=queue.lease_seconds)
        item.save(update_fields=["claimed_by", "lease_expires_at"])
    return item


def item_renew_lease(*, item: ReviewItem, reviewer: Any) -> ReviewItem:
    """Extend the lease while the reviewer has the item open; refused once it passed to someone else."""
    now = timezone.now()
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update().select_related("queue").get(pk=item.pk)
        if locked.claimed_by_id != reviewer.pk and not (locked.lease_expires_at and locked.lease_expires_at < now):
            raise ClaimConflict("This item was given to another reviewer after your lease ran out.")
        locked.claimed_by, locked.lease_expires_at = reviewer, now + timedelta(seconds=locked.queue.lease_seconds)
        locked.save(update_fields=["claimed_by", "lease_expires_at"])
    return locked
