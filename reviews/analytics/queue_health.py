"""Queue health: the backlog now (live, from the open-item indexes) and the flow over the range (rollups)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery
from django.utils import timezone

from reviews.analytics.query import (
    Dimension,
    Scope,
    Window,
    bucket_label,
    buckets,
    rollup_totals,
    scope_for,
    usernames,
    window_for,
)
from reviews.analytics.rollup_rows import LATENCY_EDGES_MINUTES
from reviews.analytics.stats import median_from_histogram, median_interval_from_histogram
from reviews.analytics.types import AnalyticsFilters, Cell, Chart, Dashboard, Series, Table
from reviews.models import (
    IMPORT_QUEUE,
    DecisionRollup,
    GoldPresentation,
    ItemRollup,
    ItemStatus,
    LatencyRollup,
    Queue,
    ReviewerRollup,
    ReviewItem,
)

FLOW: tuple[Dimension, ...] = ("queue", "source", "model")
OPEN_CAP = 100_000  # open and past-due counts stop here, so a huge backlog costs a bounded index read


def queue_health(filters: AnalyticsFilters) -> Dashboard:
    window, scope = window_for(filters), scope_for(filters)
    queues = _queues_table(window, scope)
    flow = _flow_table(window, scope)
    reviewers = _reviewers_table(window, scope)
    x: list[Cell] = [row[0] for row in flow.rows]
    charts = [
        Chart(
            slug="arrivals-decisions",
            title="Arrivals and decisions",
            kind="line",
            x_label=window.resolution.capitalize(),
            y_label="Items",
            series=[
                _counts("Arrivals", x, [row[1] for row in flow.rows]),
                _counts("Decisions", x, [row[2] for row in flow.rows]),
            ],
            table=flow.slug,
        ),
        Chart(
            slug="sla-breaches",
            title="SLA breaches",
            kind="bar",
            x_label=window.resolution.capitalize(),
            y_label="Items past due",
            series=[_counts("SLA breaches", x, [row[3] for row in flow.rows])],
            table=flow.slug,
        ),
        Chart(
            slug="time-to-decision",
            title="Median minutes from arrival to decision",
            kind="bar",
            x_label="Queue",
            y_label="Minutes",
            series=[
                Series(
                    "Median minutes",
                    [row[0] for row in queues.rows],
                    [_float(row[7]) for row in queues.rows],
                    low=[_float(row[8]) for row in queues.rows],
                    high=[_float(row[9]) for row in queues.rows],
                    n=[row[5] for row in queues.rows],
                )
            ],
            table=queues.slug,
        ),
    ]
    notes = [
        "Open items, oldest open item and past due are live. Arrivals, decisions, SLA breaches and time to "
        "decision come from rollups refreshed every few minutes.",
        window.note,
        "The category filter does not apply here: items enter queues before anyone labels them.",
        "Imported dataset labels are not counted.",
    ]
    return Dashboard(
        slug="queue-health", title="Queue health", tables=[queues, flow, reviewers], charts=charts, notes=notes
    )


def _float(value: Cell) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _counts(label: str, x: list[Cell], counts: list[Cell]) -> Series:
    """A series of counts: each point is its own n, exact, so never faded."""
    n = [int(value or 0) for value in counts]
    return Series(label, x, [float(value) for value in n], n=list(n), estimate=False)


class _CountUpTo(Subquery):
    """How many rows the subquery gives, reading at most OPEN_CAP of them (an index range, never the backlog)."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) capped)"
    output_field = IntegerField()

    def __init__(self, queryset: QuerySet[Any]) -> None:
        super().__init__(queryset[:OPEN_CAP])


def _open_now(scope: Scope, now: datetime) -> dict[int, dict[str, Any]]:
    """Per queue: open items, the oldest, and how many are past due, from the open-item partial indexes."""
    open_items = ReviewItem.objects.filter(queue=OuterRef("pk"), status=ItemStatus.OPEN).exclude(
        pk__in=GoldPresentation.objects.values("item_id")  # as reviews/queue_stats.py: NOT IN, not an anti join
    )
    if scope.source_id is not None:
        open_items = open_items.filter(conversation__source_id=scope.source_id)
    if scope.model_name is not None:
        open_items = open_items.filter(conversation__model_name=scope.model_name)
    rows = Queue.objects.annotate(
        open=_CountUpTo(open_items.values("created_at")),
        oldest=Subquery(open_items.order_by("created_at").values("created_at")[:1]),
        past_due=_CountUpTo(open_items.filter(due_at__lt=now).values("due_at")),
    ).values("pk", "open", "oldest", "past_due")
    return {row["pk"]: dict(row) for row in rows if row["open"]}


def _queues_table(window: Window, scope: Scope) -> Table:
    now = timezone.now()
    live = _open_now(scope, now)
    items = {r["queue_id"]: r for r in rollup_totals(ItemRollup, window, scope, by=["queue_id"], honour=FLOW)}
    decided = {r["queue_id"]: r for r in rollup_totals(DecisionRollup, window, scope, by=["queue_id"], honour=FLOW)}
    latency: dict[int, list[int]] = defaultdict(lambda: [0] * (len(LATENCY_EDGES_MINUTES) + 1))
    for r in rollup_totals(LatencyRollup, window, scope, by=["queue_id", "band"], honour=FLOW):
        latency[r["queue_id"]][r["band"]] += r["decisions"]
    queues = Queue.objects.exclude(slug=IMPORT_QUEUE).order_by("slug")
    if scope.queue_id is not None:
        queues = queues.filter(pk=scope.queue_id)
    rows: list[list[Cell]] = []
    for queue in queues:
        seen = queue.pk in live or queue.pk in items or queue.pk in decided
        if not queue.is_active and not seen:
            continue
        now_open = live.get(queue.pk, {})
        oldest = now_open.get("oldest")
        bands = latency.get(queue.pk)
        median = median_from_histogram(LATENCY_EDGES_MINUTES, bands) if bands else None
        interval = median_interval_from_histogram(LATENCY_EDGES_MINUTES, bands) if bands else None
        rows.append(
            [
                queue.name,
                now_open.get("open", 0),
                round((now - oldest).total_seconds() / 3600, 1) if oldest else None,
                now_open.get("past_due", 0),
                items.get(queue.pk, {}).get("arrivals", 0),
                decided.get(queue.pk, {}).get("decisions", 0),
                items.get(queue.pk, {}).get("breaches", 0),
                None if median is None else round(median, 1),
                *((None, None) if interval is None else (round(interval[0], 1), round(interval[1], 1))),
            ]
        )
    columns = [
        "Queue",
        "Open items",
        "Oldest open (hours)",
        "Open and past due",
        "Arrivals",
        "Decisions",
        "SLA breaches",
        "Median minutes to decision",
        "Median minutes low",
        "Median minutes high",
    ]
    note = (
        "Median minutes from an item entering its queue to each decision on it, interpolated within "
        f"{len(LATENCY_EDGES_MINUTES) + 1} time bands (1 minute up to 7 days; beyond that, 7 days is shown), "
        "with its 95% interval (the decisions ranked n/2 ± 1.96·√n/2). "
        f"Open items and past due are counted up to {OPEN_CAP:,}."
    )
    return Table(slug="queues", title="Queues", columns=columns, rows=rows, note=note)


def _flow_table(window: Window, scope: Scope) -> Table:
    arrivals: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rollup_totals(ItemRollup, window, scope, honour=FLOW, series=True):
        arrivals[r["bucket"]]["arrivals"] += r["arrivals"]
        arrivals[r["bucket"]]["breaches"] += r["breaches"]
    for r in rollup_totals(DecisionRollup, window, scope, honour=FLOW, series=True):
        arrivals[r["bucket"]]["decisions"] += r["decisions"]
    rows: list[list[Cell]] = [
        [
            bucket_label(moment, window.resolution),
            arrivals[moment]["arrivals"],
            arrivals[moment]["decisions"],
            arrivals[moment]["breaches"],
        ]
        for moment in buckets(window)
    ]
    return Table(
        slug="flow",
        title=f"Arrivals, decisions and SLA breaches per {window.resolution}",
        columns=[window.resolution.capitalize(), "Arrivals", "Decisions", "SLA breaches"],
        rows=rows,
        note="Arrivals: items entering a queue. SLA breaches: items that passed their due time in that bucket.",
    )


def _reviewers_table(window: Window, scope: Scope) -> Table:
    totals = rollup_totals(ReviewerRollup, window, scope, by=["reviewer_id"], honour=("queue", "reviewer"))
    names = usernames(r["reviewer_id"] for r in totals)
    rows: list[list[Cell]] = []
    for r in sorted(totals, key=lambda r: (-r["decisions"], names.get(r["reviewer_id"], ""))):
        rows.append(
            [
                names.get(r["reviewer_id"], f"user {r['reviewer_id']}"),
                r["decisions"],
                round(r["decisions"] / window.days, 1),
                r["final"],
                round(r["time_spent_seconds"] / r["decisions"]) if r["decisions"] else None,
            ]
        )
    note = "Decisions per day over the whole range. Time spent is what the workspace recorded per decision."
    if scope.reviewer_id is not None:
        note += " Only your own numbers are shown."
    return Table(
        slug="reviewer-throughput",
        title="Reviewer throughput",
        columns=["Reviewer", "Decisions", "Decisions per day", "Final decisions", "Mean seconds per decision"],
        rows=rows,
        note=note,
    )
