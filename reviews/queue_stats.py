"""Queue figures (open, oldest, due soon, breached): one read shared by the home page and its live pushes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from reviews.models import GOLD_SLOT_DAYS, GoldPresentation, ItemStatus, Queue, ReviewItem

DUE_SOON = timedelta(hours=1)


STATS_CAP = 1_000  # counts stop here: the page shows "1,000+" (home.html), and no count reads past it


class CappedCount(Subquery):
    """How many rows the subquery gives, reading at most `STATS_CAP + 1` of them.

    A count over a million open items would scan them all on every page load and every live push; a reviewer
    needs "more than 1,000", not the exact figure, and the LIMIT makes the count a short index range.
    """

    template = "(SELECT COUNT(*) FROM (%(subquery)s) capped)"
    output_field = IntegerField()

    def __init__(self, queryset: QuerySet[Any]) -> None:
        super().__init__(queryset[: STATS_CAP + 1])


def with_stats(qs: QuerySet[Queue]) -> QuerySet[Queue]:
    """Open count, oldest open item, due-soon and breached counts, in the same query.

    Each figure is a subquery per queue on a partial index of open items (`ReviewItem.Meta.indexes`), so the
    page costs a few short index reads per queue whatever the backlog, and counts are capped at `STATS_CAP`.
    Breached is `due_at < now`: the SLA sweeper sets `sla_breached_at` only on items already past due, and
    `due_at` never moves, so testing `sla_breached_at` too would count no other item (and miss the index).
    """
    now = timezone.now()
    open_items = ReviewItem.objects.filter(queue=OuterRef("pk"), status=ItemStatus.OPEN)
    soon, breached = {"due_at__gte": now, "due_at__lt": now + DUE_SOON}, {"due_at__lt": now}
    # Gold presentations are one reviewer's test, not the queue's work (reviews/quality/gold.py): each count is
    # the capped count of open items (an index-only range) less the queue's few open gold items. Filtering them
    # out of the range itself would cost the index-only scan (a sequential scan with a million open items).
    gold = GoldPresentation.objects.filter(item__queue=OuterRef("pk"), item__status=ItemStatus.OPEN)
    return qs.annotate(
        open_count=CappedCount(open_items.values("created_at")) - _count(gold) - _slots_taken(now),
        oldest_open_at=Subquery(
            open_items.exclude(pk__in=GoldPresentation.objects.values("item_id"))
            .order_by("created_at")
            .values("created_at")[:1]
        ),
        due_soon_count=CappedCount(open_items.filter(**soon).values("due_at")) - _count(gold, soon),
        breached_count=CappedCount(open_items.filter(**breached).values("due_at")) - _count(gold, breached),
    )


def _slots_taken(now: datetime) -> Coalesce:
    """Open real items of the queue that an answered gold copy stands in for (reviews/quality/gold.py): answering
    a copy lowers the open count as answering a real item does, and the slot's own close later leaves it where
    it is, so the count is exact again once the slot closes (or after GOLD_SLOT_DAYS). Without this the count stayed
    put after a gold answer: a hint to the reviewer that it was gold."""
    answered = GoldPresentation.objects.filter(
        slot__queue=OuterRef("pk"),
        slot__status=ItemStatus.OPEN,
        created_at__gte=now - timedelta(days=GOLD_SLOT_DAYS),
    ).exclude(item__status=ItemStatus.OPEN)
    counted = answered.order_by().values("slot__queue").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _count(gold: QuerySet[GoldPresentation], item_filter: dict[str, Any] | None = None) -> Coalesce:
    """How many of the queue's open gold presentations match `item_filter` (on their items), 0 for none."""
    rows = gold.filter(**{f"item__{key}": value for key, value in (item_filter or {}).items()})
    counted = rows.order_by().values("item__queue").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def queue_stats(*, queue_ids: list[int]) -> list[Queue]:
    """The same figures for given queues, for the live push (the websocket groups already scope who sees them)."""
    return list(with_stats(Queue.objects.filter(pk__in=queue_ids)))
