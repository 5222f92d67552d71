"""Reading the rollups for a dashboard's filters: which rows, which buckets, summed how.

A date range is read from hour rows at its ragged edges and from day rows for the whole UTC days inside it,
so a 90-day page reads about 90 rows per combination rather than 2,160, and the range is exact to the hour.
Hour rows are kept for the last week only (rollup_rows.HOURLY_DAYS): an edge older than that is widened to
its whole day, and the page says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from django.contrib.auth.models import User
from django.db.models import Q, Sum
from django.utils import timezone

from reviews.analytics.cells import when
from reviews.analytics.rollup import rollup_finished_at
from reviews.analytics.rollup_rows import DAY, HOUR, UNCATEGORISED, day_of, hour_of, hourly_horizon
from reviews.analytics.types import AnalyticsFilters
from reviews.models import (
    ALL_CATEGORIES,
    AgreementRollup,
    CalibrationRollup,
    Category,
    DecisionRollup,
    Queue,
    Rollup,
    RollupGrain,
    Source,
)

WEEK = timedelta(days=7)
HOURLY_UP_TO = timedelta(hours=48)
DAILY_UP_TO = timedelta(days=92)
NOTHING = -1  # the id a filter naming an unknown queue or source resolves to: no row has it
# Rollups whose category dimension fans a row out to each of its categories, plus ALL_CATEGORIES once.
FANNED = (DecisionRollup, CalibrationRollup, AgreementRollup)

Resolution = Literal["hour", "day", "week"]
Dimension = Literal["queue", "source", "model", "category", "reviewer"]


@dataclass(frozen=True)
class Window:
    """The filter's date range on whole hours, and the bucket size of its time series."""

    start: datetime
    end: datetime
    resolution: Resolution
    horizon: datetime  # hour rows exist from here on

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    @property
    def note(self) -> str:
        days = f" (whole UTC days before {self.horizon:%Y-%m-%d})" if self.start < self.horizon else ""
        return (
            f"Figures cover {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC: the range taken in whole "
            f"hours{days}. Rollups last refreshed {when(rollup_finished_at()) or 'never'}."
        )


def window_for(filters: AnalyticsFilters) -> Window:
    horizon = hourly_horizon(timezone.now())
    start, end = hour_of(filters.start), hour_of(filters.end)
    if end < filters.end.astimezone(UTC):
        end += HOUR
    if start < horizon:  # only day rows are kept this far back
        start = day_of(start)
    if end < horizon and end != day_of(end):
        end = day_of(end) + DAY
    end = max(end, start + HOUR)
    length = end - start
    resolution: Resolution = "hour" if length <= HOURLY_UP_TO else "day" if length <= DAILY_UP_TO else "week"
    if resolution == "hour" and start < horizon:
        resolution = "day"
    return Window(start, end, resolution, horizon)


def grain_q(window: Window, *, hourly: bool = False) -> Q:
    """Hour rows for the partial days at either end, day rows for the whole days between."""
    hours = Q(grain=RollupGrain.HOUR)
    first_day = day_of(window.start) + (DAY if window.start.hour else timedelta(0))
    last_day = day_of(window.end)
    if hourly or first_day >= last_day:
        return hours & Q(bucket__gte=window.start, bucket__lt=window.end)
    return (
        (hours & Q(bucket__gte=window.start, bucket__lt=first_day))
        | Q(grain=RollupGrain.DAY, bucket__gte=first_day, bucket__lt=last_day)
        | (hours & Q(bucket__gte=last_day, bucket__lt=window.end))
    )


def bucket_of(moment: datetime, resolution: Resolution) -> datetime:
    moment = hour_of(moment)
    if resolution == "hour":
        return moment
    day = day_of(moment)
    return day if resolution == "day" else day - timedelta(days=day.weekday())


def buckets(window: Window) -> list[datetime]:
    step = {"hour": HOUR, "day": DAY, "week": WEEK}[window.resolution]
    moment, found = bucket_of(window.start, window.resolution), []
    while moment < window.end:
        found.append(moment)
        moment += step
    return found


def bucket_label(moment: datetime, resolution: Resolution) -> str:
    if resolution == "hour":
        return moment.strftime("%Y-%m-%d %H:00")
    return moment.strftime("%Y-%m-%d") if resolution == "day" else "week of " + moment.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Scope:
    """The filters as rollup dimension values (None: all)."""

    queue_id: int | None
    source_id: int | None
    model_name: str | None
    category: str | None
    reviewer_id: int | None
    # The category filter as stored slugs: the category and those merged into it (their decisions count as it).
    category_slugs: tuple[str, ...] = ()


def scope_for(filters: AnalyticsFilters) -> Scope:
    queue_id = source_id = None
    if filters.queue:
        queue_id = Queue.objects.filter(slug=filters.queue).values_list("pk", flat=True).first() or NOTHING
    if filters.source:
        source_id = Source.objects.filter(name=filters.source).values_list("pk", flat=True).first() or NOTHING
    category_slugs: tuple[str, ...] = ()
    if filters.category:
        targets = taxonomy().targets
        category_slugs = (filters.category, *(s for s, t in targets.items() if t == filters.category != s))
    return Scope(
        queue_id=queue_id,
        source_id=source_id,
        model_name=filters.model or None,
        category=filters.category or None,
        reviewer_id=filters.reviewer_id,
        category_slugs=category_slugs,
    )


def _scope_q(model: type[Rollup], scope: Scope, honour: Iterable[Dimension], by: Sequence[str]) -> Q:
    q = Q()
    for dimension in honour:
        if dimension == "queue" and scope.queue_id is not None:
            q &= Q(queue_id=scope.queue_id)
        elif dimension == "source" and scope.source_id is not None:
            q &= Q(source_id=scope.source_id)
        elif dimension == "model" and scope.model_name is not None:
            q &= Q(model_name=scope.model_name)
        elif dimension == "category" and scope.category is not None:
            # A decision naming both a category and one merged into it would count twice here; merges are
            # of categories that overlap, rarely named together.
            q &= Q(category__in=scope.category_slugs or (scope.category,))
        elif dimension == "reviewer" and scope.reviewer_id is not None:
            q &= Q(reviewer_id=scope.reviewer_id)
    if model in FANNED:
        if "category" in by:
            q &= ~Q(category=ALL_CATEGORIES)
        elif scope.category is None or "category" not in honour:
            q &= Q(category=ALL_CATEGORIES)
    return q


def rollup_totals(
    model: type[Rollup],
    window: Window,
    scope: Scope,
    *,
    by: Sequence[str] = (),
    honour: Iterable[Dimension] = (),
    series: bool = False,
    where: Q | None = None,
) -> list[dict[str, Any]]:
    """Measures of `model` summed per `by` (and per time bucket with `series`), over the window and filters.

    One GROUP BY on the rollup's (grain, bucket) index; a series groups by the stored bucket as well, and
    rows are then folded into the window's buckets here (hour and day rows both land in their day).
    """
    honour = tuple(honour)
    q = grain_q(window, hourly=series and window.resolution == "hour") & _scope_q(model, scope, honour, by)
    if where is not None:
        q &= where
    keys = [*by, "bucket"] if series else list(by)
    rows = model.objects.filter(q).values(*keys).annotate(**{f"sum_{m}": Sum(m) for m in model.MEASURES}).order_by()
    if not series:
        return [{**{k: r[k] for k in keys}, **{m: r[f"sum_{m}"] or 0 for m in model.MEASURES}} for r in rows]
    folded: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(dict)
    for r in rows:
        key = (*(r[k] for k in by), bucket_of(r["bucket"], window.resolution))
        target = folded[key]
        if not target:
            target.update({k: r[k] for k in by}, bucket=key[-1], **dict.fromkeys(model.MEASURES, 0))
        for m in model.MEASURES:
            target[m] += r[f"sum_{m}"] or 0
    return list(folded.values())


# --- Names for ids ------------------------------------------------------------------------------------------


def queue_names() -> dict[int, str]:
    return dict(Queue.objects.values_list("pk", "name"))


def source_names() -> dict[int, str]:
    return dict(Source.objects.values_list("pk", "name"))


@dataclass(frozen=True)
class Taxonomy:
    """Slug -> the slug it counts as (itself, or where its merge chain ends: taxonomy.category_merge), and
    target slug -> name. Decisions naming a merged category count as the category it was merged into."""

    targets: dict[str, str]
    names: dict[str, str]

    def target(self, slug: str) -> str:
        return self.targets.get(slug, slug)

    def name(self, slug: str) -> str:
        return self.names.get(self.target(slug), slug)


def taxonomy() -> Taxonomy:
    rows = list(Category.objects.values_list("slug", "name", "merged_into__slug"))
    merged = {slug: into for slug, _, into in rows if into}
    targets = {}
    for slug, _, _ in rows:
        target, seen = slug, set()
        while target in merged and target not in seen:  # merges refuse cycles; stay safe anyway
            seen.add(target)
            target = merged[target]
        targets[slug] = target
    names = {UNCATEGORISED: "(no category)", **{slug: name for slug, name, _ in rows}}
    return Taxonomy(targets=targets, names=names)


def usernames(ids: Iterable[int]) -> dict[int, str]:
    return dict(User.objects.filter(pk__in=set(ids)).values_list("pk", "username"))
