"""Claiming work: SELECT … FOR UPDATE SKIP LOCKED in a short transaction, with a lease.

Two reviewers asking at once never get the same item: the second skips the row the
first has locked. An expired lease returns the item to the queue by itself (the
claim query treats it as free), so a closed browser loses nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from reviews.models import Queue, ReviewItem
from reviews.permissions import ROLES
from reviews.workspace.errors import ClaimConflict
from reviews.workspace.selectors import items_claimable

NOT_CLAIMED = "You have not claimed this item: take it with Start reviewing on its queue. Nothing was recorded."
LEASE_LOST = "This item was given to another reviewer after your lease ran out. Nothing was recorded."
LEASE_RAN_OUT = "Your lease on this item ran out. Nothing was recorded: claim it again to work on it."


def claim_check(item: ReviewItem, *, reviewer: Any, now: datetime) -> None:
    """ClaimConflict unless `reviewer` holds `item` (read under a row lock) with a lease that has not run out.

    An expired lease is anyone's to claim (the claim query treats it as free), so it is no longer the holder's
    to act on or renew: the holder claims again, and claim order, the recently-skipped rule and the daily cap
    apply to that claim as to any other.
    """
    if item.claimed_by_id is None:
        raise ClaimConflict(NOT_CLAIMED)
    if item.claimed_by_id != reviewer.pk:
        raise ClaimConflict(LEASE_LOST)
    if item.lease_expires_at is None or item.lease_expires_at <= now:
        raise ClaimConflict(LEASE_RAN_OUT)


def item_claim(
    *, reviewer: Any, queue: Queue, exclude: Collection[int] = (), avoid: Q | None = None
) -> ReviewItem | None:
    """The reviewer's current item in `queue`, else the next free one, leased to them; None when empty.

    `exclude`: item ids to pass over (those the reviewer just skipped); `avoid`: items matching it are
    passed over too (hard-limit items once the reviewer reached the queue's daily cap).

    One statement takes the item: `UPDATE … WHERE id = (SELECT … LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING …`,
    with the queue access check inside it (`items_claimable`, `visibility.queue_access`).
    """
    now = timezone.now()
    lease_until = now + timedelta(seconds=queue.lease_seconds)
    if avoid is None and connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _claim_prepared(reviewer=reviewer, queue=queue, exclude=exclude, now=now, lease_until=lease_until)
    free = Q(claimed_by__isnull=True) | Q(lease_expires_at__lt=now) | Q(claimed_by=reviewer)
    candidates = items_claimable(user=reviewer, queue=queue).filter(free)
    if candidates.query.is_empty():  # no access: known without asking the database
        return None
    if exclude:
        candidates = candidates.exclude(pk__in=list(exclude))
    if avoid is not None:
        candidates = candidates.exclude(avoid)
    candidates = candidates.order_by("-priority", "created_at", "pk")
    # The reviewer's own item first: a higher-priority arrival must not strand it, leased and unseen.
    for choice in (candidates.filter(claimed_by=reviewer), candidates):
        if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35: no UPDATE … RETURNING
            with transaction.atomic():
                item = _claim_select_then_save(choice, reviewer=reviewer, lease_until=lease_until)
        else:
            item = _claim_in_one_statement(choice, reviewer=reviewer, lease_until=lease_until)
        if item is not None:
            return item
    return None


# The claim of `items_claimable` + free + `exclude`, written out once for PostgreSQL: compiling the ORM query
# costs several milliseconds of Python per claim, more than the statement itself. Same rows, same order
# (a test holds the two paths to the same choices); `avoid` (a rare, arbitrary filter) takes the ORM path.
# The commit skips the WAL flush wait, as `_claim_in_one_statement` explains.
_CLAIMABLE = """
    SELECT item.id FROM reviews_reviewitem item
    WHERE item.queue_id = %(queue)s AND item.status = 'open' AND ({held}) AND item.id <> ALL(%(exclude)s)
      AND NOT EXISTS (
          SELECT 1 FROM reviews_decision decision
          WHERE decision.item_id = item.id AND decision.reviewer_id = %(reviewer)s
      )
      AND NOT EXISTS (
          SELECT 1 FROM reviews_goldpresentation gold
          WHERE gold.item_id = item.id AND gold.reviewer_id <> %(reviewer)s
      )
      AND (%(superuser)s OR (EXISTS (
          SELECT 1 FROM auth_user_groups membership
          JOIN reviews_queue_allowed_groups allowed ON allowed.group_id = membership.group_id
          WHERE membership.user_id = %(reviewer)s AND allowed.queue_id = %(queue)s
      ) AND EXISTS (
          SELECT 1 FROM auth_group role
          JOIN auth_user_groups membership ON membership.group_id = role.id
          WHERE role.name = ANY(%(roles)s) AND membership.user_id = %(reviewer)s
      )))
    ORDER BY item.priority DESC, item.created_at, item.id
    LIMIT 1 FOR UPDATE OF item SKIP LOCKED
"""
# The reviewer's own item first (COALESCE asks for a free one only when they hold none), then the next free.
# Constant SQL; every value goes as a parameter.
_CLAIM_SQL = (
    "UPDATE reviews_reviewitem SET claimed_by_id = %(reviewer)s, lease_expires_at = %(lease_until)s"  # noqa: S608
    " WHERE id = COALESCE(("
    + _CLAIMABLE.format(held="item.claimed_by_id = %(reviewer)s")
    + "), ("
    + _CLAIMABLE.format(held="item.claimed_by_id IS NULL OR item.lease_expires_at < %(now)s")
    + ")) AND set_config('synchronous_commit', 'off', true) = 'off' RETURNING {columns}"
)


def _claim_prepared(
    *, reviewer: Any, queue: Queue, exclude: Collection[int], now: datetime, lease_until: datetime
) -> ReviewItem | None:
    """`_claim_in_one_statement` for the common claim, from SQL written once (see `_CLAIM_SQL`)."""
    if not getattr(reviewer, "is_authenticated", False) or not reviewer.is_active or not queue.is_active:
        return None
    columns = ", ".join(str(f.column) for f in ReviewItem._meta.concrete_fields)
    params = {
        "reviewer": reviewer.pk,
        "queue": queue.pk,
        "now": now,
        "lease_until": lease_until,
        "exclude": list(exclude),
        "superuser": bool(reviewer.is_superuser),
        "roles": list(ROLES),
    }
    item = next(iter(ReviewItem.objects.raw(_CLAIM_SQL.format(columns=columns), params)), None)
    if item is not None:
        item.claimed_by = reviewer
    return item


def _claim_in_one_statement(
    candidates: QuerySet[ReviewItem], *, reviewer: Any, lease_until: datetime
) -> ReviewItem | None:
    """Lease the first candidate, skipping rows another claim holds, and read it back: one statement, which
    outside a caller's transaction is its own transaction, so the claim is one round trip to the database."""
    meta, qn = ReviewItem._meta, connection.ops.quote_name
    pick_sql, pick_params = candidates.values("pk")[:1].query.get_compiler(connection=connection).as_sql()
    if connection.features.has_select_for_update_skip_locked:  # SQLite has none, and serializes writers anyway
        pick_sql += " " + connection.ops.for_update_sql(skip_locked=True, of=(qn(meta.db_table),))
    asynchronous = ""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # The commit need not wait for the WAL flush (SET LOCAL synchronous_commit = off, for this statement's
        # own transaction only): if the server crashes before the flush, the claim is lost, which only leaves
        # the item free, as an expired lease would, and the reviewer's page claims again. Never inside a
        # caller's transaction: the setting would last to its end, and the caller's writes must stay durable.
        asynchronous = " AND set_config('synchronous_commit', 'off', true) = 'off'"
    lease = meta.get_field("lease_expires_at")
    returning = ", ".join(qn(str(f.column)) for f in meta.concrete_fields)
    # Names from the model's meta and SQL the ORM compiled; values all go as parameters.
    sql = (
        f"UPDATE {qn(meta.db_table)} SET {qn('claimed_by_id')} = %s, {qn('lease_expires_at')} = %s"  # noqa: S608
        f" WHERE {qn(str(meta.pk.column))} = ({pick_sql}){asynchronous} RETURNING {returning}"
    )
    params = (reviewer.pk, lease.get_db_prep_value(lease_until, connection), *pick_params)
    item = next(iter(ReviewItem.objects.raw(sql, params)), None)
    if item is not None:
        item.claimed_by = reviewer  # cached, as the save path leaves it: callers name the reviewer
    return item


def _claim_select_then_save(
    candidates: QuerySet[ReviewItem], *, reviewer: Any, lease_until: datetime
) -> ReviewItem | None:
    """The same claim as a read and a write, where the database cannot return rows from an UPDATE."""
    item = candidates.select_for_update(skip_locked=True, of=("self",)).first()
    if item is None:
        return None
    item.claimed_by, item.lease_expires_at = reviewer, lease_until
    item.save(update_fields=["claimed_by", "lease_expires_at"])
    return item


def item_lock_held(*, item: ReviewItem, reviewer: Any) -> ReviewItem:
    """The item, row-locked, if the reviewer holds it under a live lease; else ClaimConflict saying which of the
    three it is (never claimed, someone else's, lease ran out). Call inside a transaction.

    Deciding, skipping and escalating all go through here, so none of them can skip claim order, the
    recently-skipped rule or the daily cap that claiming applies (`item_claim_next`).
    """
    locked = ReviewItem.objects.select_for_update(of=("self",)).select_related("queue", "conversation").get(pk=item.pk)
    claim_check(locked, reviewer=reviewer, now=timezone.now())
    return locked


def item_renew_lease(*, item: ReviewItem, reviewer: Any) -> ReviewItem:
    """Extend the holder's live lease while they have the item open; anyone else, or a lease that ran out, is
    refused (ClaimConflict) and nothing changes."""
    now = timezone.now()
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update().select_related("queue").get(pk=item.pk)
        claim_check(locked, reviewer=reviewer, now=now)
        locked.lease_expires_at = now + timedelta(seconds=locked.queue.lease_seconds)
        locked.save(update_fields=["lease_expires_at"])
    return locked
