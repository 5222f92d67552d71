"""Keeping the analytics rollups current: recompute whole buckets from the source tables.

`analytics_rollup` (beat runs it every five minutes through `reviews.analytics_rollup`; `manage.py
analytics_rollup`; the demo seeding) recomputes:

- every hour since a little before its previous run: the lookback covers the longest decision edit window,
  so an edited verdict is recounted, and transactions that were still open when the last run looked;
- the older buckets of conversations touched since then: a final decision or an escalation changes what an
  earlier decision means (effective, overturned, reached a senior), and a second review completes an item's
  agreement unit.

Hours of the last HOURLY_DAYS days are rewritten as hour rows and their days re-summed from them; an older
day is recomputed whole, straight into day rows, and its hour rows are dropped once it ages out. Each bucket
is deleted and rewritten inside one transaction, so a run is idempotent: two runs leave the same rows. A run
holds a row lock on its state row, so two never interleave. `full=True` rebuilds everything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDay
from django.utils import timezone

from reviews.analytics.rollup_rows import (
    DAY,
    HOUR,
    Accumulator,
    Bucketing,
    ConversationFacts,
    DecisionFact,
    FlagFact,
    ScoreFact,
    Span,
    conversation_add,
    day_of,
    hour_of,
    hourly_horizon,
    item_add,
)
from reviews.models import (
    IMPORT_QUEUE,
    AgreementRollup,
    AnalyticsRollupState,
    CalibrationRollup,
    Category,
    Conversation,
    Decision,
    DecisionRollup,
    Escalation,
    Flag,
    FlagRollup,
    ItemRollup,
    LatencyRollup,
    PolicyVersion,
    Queue,
    QueueKind,
    ReviewerRollup,
    ReviewItem,
    Rollup,
    RollupGrain,
    RoutingOutcome,
    RoutingRecord,
    Score,
    ScoreRollup,
    gold_copy,
)
from reviews.routing.policy import PolicyDocument, Sampling

ROLLUPS: tuple[type[Rollup], ...] = (
    DecisionRollup,
    LatencyRollup,
    ReviewerRollup,
    ItemRollup,
    FlagRollup,
    CalibrationRollup,
    ScoreRollup,
    AgreementRollup,
)
STATE = "default"
MIN_LOOKBACK = timedelta(hours=2)
BATCH = 2000
IDS_PER_READ = 5000  # conversation ids per IN list: well under SQLite's 32,766 bound parameters
_CONV = "item__conversation_id"


@dataclass(frozen=True)
class RollupResult:
    hours: int  # recomputed as hour rows
    days: int  # day rows rewritten (recomputed whole, or re-summed from their hours)
    rows: int
    seconds: float


def analytics_rollup(*, full: bool = False, now: datetime | None = None) -> RollupResult:
    """Recompute the rollups that can have changed since the last run (all of them with `full`)."""
    started = time.monotonic()
    now = now or timezone.now()
    horizon = hourly_horizon(now)
    with transaction.atomic():
        state, _ = AnalyticsRollupState.objects.select_for_update().get_or_create(name=STATE)
        last = state.started_at
        rebuilt = full or last is None
        if last is None or full:  # empty the tables: no bucket needs deleting before it is written
            for model in ROLLUPS:
                model.objects.all().delete()
            hours = _history_hours(now)
        else:
            hours = _dirty_hours(since=min(last, now) - _lookback(), now=now)
        old_days = sorted({day_of(h) for h in hours if h < horizon})
        recent = sorted(h for h in hours if h >= horizon)
        rows = 0
        for span in _spans(old_days, DAY):
            rows += _recompute(span, RollupGrain.DAY, day_of, empty=rebuilt)
        for span in _spans(recent, HOUR):
            rows += _recompute(span, RollupGrain.HOUR, hour_of, empty=rebuilt)
        summed = sorted({day_of(h) for h in recent})
        rows += _sum_days(summed)
        for model in ROLLUPS:  # days that aged out keep their day rows only
            model.objects.filter(grain=RollupGrain.HOUR, bucket__lt=horizon).delete()
        state.started_at, state.finished_at, state.hours = now, timezone.now(), len(recent)
        state.save()
    return RollupResult(
        hours=len(recent), days=len(old_days) + len(summed), rows=rows, seconds=time.monotonic() - started
    )


def analytics_rollup_if_stale(*, max_age: timedelta = timedelta(minutes=1)) -> None:
    """Without a broker there is no beat (the embedded demo): the dashboards bring the rollups up to date
    themselves, at most once per `max_age`. With one, beat's `reviews.analytics_rollup` does it."""
    if settings.REDIS_URL:
        return
    finished = rollup_finished_at()
    if finished is None or timezone.now() - finished > max_age:
        analytics_rollup()


def rollup_finished_at() -> datetime | None:
    """When the rollups were last brought up to date (None: never), for the dashboards' notes."""
    return AnalyticsRollupState.objects.filter(name=STATE).values_list("finished_at", flat=True).first()


# --- Which buckets --------------------------------------------------------------------------------------------


def _lookback() -> timedelta:
    """Decisions can be edited for their queue's edit window: recount at least that far back."""
    longest = Queue.objects.aggregate(longest=Max("edit_window_minutes"))["longest"] or 0
    return max(MIN_LOOKBACK, timedelta(minutes=longest) + HOUR)


def _spans(starts: Iterable[datetime], step: timedelta) -> Iterator[Span]:
    """Runs of consecutive buckets, cut at a day's worth of data each (what one read holds in memory)."""
    current: Span | None = None
    for start in sorted(starts):
        if current is not None and current.end == start and current.end - current.start < DAY:
            current = Span(current.start, start + step)
            continue
        if current is not None:
            yield current
        current = Span(start, start + step)
    if current is not None:
        yield current


def _history_hours(now: datetime) -> set[datetime]:
    """Every hour (up to the current one) of every UTC day holding a decision, an arrival or a breach."""
    days = set(_decisions().datetimes("created_at", "day", tzinfo=UTC))
    items = ReviewItem.objects.exclude(queue__slug=IMPORT_QUEUE).exclude(gold_copy("conversation_id"))
    days |= set(items.datetimes("created_at", "day", tzinfo=UTC))
    days |= set(items.filter(sla_breached_at__isnull=False).datetimes("sla_breached_at", "day", tzinfo=UTC))
    end = hour_of(now) + HOUR
    return {day + HOUR * h for day in days for h in range(24) if day + HOUR * h < end}


def _dirty_hours(*, since: datetime, now: datetime) -> set[datetime]:
    start, end = hour_of(since), hour_of(now) + HOUR
    touched = Q(item__conversation_id__in=Subquery(_decisions().filter(created_at__gte=since).values(_CONV))) | Q(
        item__conversation_id__in=Subquery(Escalation.objects.filter(created_at__gte=since).values(_CONV))
    )
    older = _decisions().filter(touched, created_at__lt=start).values_list("created_at", flat=True)
    return {hour_of(moment) for moment in older} | {start + HOUR * i for i in range(int((end - start) / HOUR))}


# --- Recomputing --------------------------------------------------------------------------------------------


def _decisions() -> QuerySet[Decision]:
    """Reviewers' decisions: imported labels (and their blank verdicts) are not anyone's work."""
    return Decision.objects.filter(is_imported=False).exclude(verdict="").exclude(gold_copy(_CONV))


def _recompute(span: Span, grain: str, bucket: Bucketing, *, empty: bool = False) -> int:
    """Rewrite the `grain` rows of `span` from the source tables (`empty`: there are none to delete)."""
    acc = Accumulator()
    taxonomy = frozenset(Category.objects.values_list("slug", flat=True))
    for conv in _conversation_facts(span).values():
        conversation_add(acc, conv, span, taxonomy, bucket)
    items = (
        ReviewItem.objects.filter(
            Q(created_at__gte=span.start, created_at__lt=span.end)
            | Q(sla_breached_at__gte=span.start, sla_breached_at__lt=span.end)
        )
        .exclude(queue__slug=IMPORT_QUEUE)
        .exclude(gold_copy("conversation_id"))
        .values_list("queue_id", "conversation__source_id", "conversation__model_name", "created_at", "sla_breached_at")
    )
    for queue_id, source_id, model_name, created_at, breached_at in items:
        item_add(
            acc,
            queue_id=queue_id,
            source_id=source_id,
            model_name=model_name,
            created_at=created_at,
            breached_at=breached_at,
            span=span,
            bucket=bucket,
        )
    written = 0
    for model in ROLLUPS:
        if not empty:
            model.objects.filter(grain=grain, bucket__gte=span.start, bucket__lt=span.end).delete()
        written += _write(model, acc, grain)
    return written


def _write(model: type[Rollup], acc: Accumulator, grain: str) -> int:
    """Insert the accumulated rows: COPY on PostgreSQL (no model instances, no placeholders), else bulk_create."""
    if connection.vendor != "postgresql":
        return len(model.objects.bulk_create(acc.instances(model, grain), batch_size=BATCH))
    written = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(model.columns())}) FROM STDIN") as copy,
    ):
        for row in acc.tuples(model, grain):
            copy.write_row(row)
            written += 1
    return written


def _conversation_facts(span: Span) -> dict[int, ConversationFacts]:
    """Every conversation with a decision in the span, with all its decisions (any time), flags and scores.

    The conversations' ids are read once and passed as lists, in batches: as a subquery, PostgreSQL would join
    each of these reads against the whole review item table.
    """
    in_span = _decisions().filter(created_at__gte=span.start, created_at__lt=span.end)
    ids = sorted(set(in_span.values_list(_CONV, flat=True)))
    facts: dict[int, ConversationFacts] = {}
    for start in range(0, len(ids), IDS_PER_READ):
        batch = ids[start : start + IDS_PER_READ]
        _facts_add(facts, batch)
    return facts


def _among(field: str, ids: list[int]) -> Q:
    """`field` is one of `ids`: one array parameter on PostgreSQL, where an IN list of thousands of
    placeholders costs more to build, send and plan than the read itself."""
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__in": RawSQL("SELECT unnest(%s::bigint[])", [ids])})
    return Q(**{f"{field}__in": ids})


def _facts_add(facts: dict[int, ConversationFacts], ids: list[int]) -> None:
    conversations = Conversation.objects.filter(_among("pk", ids)).values_list(
        "pk", "source_id", "model_name", "source__kind"
    )
    for pk, source_id, model_name, kind in conversations:
        facts[pk] = ConversationFacts(source_id=source_id, model_name=model_name, source_kind=kind)
    decisions = _decisions().filter(_among(_CONV, ids))
    for row in decisions.values_list(
        _CONV,
        "id",
        "item_id",
        "reviewer_id",
        "item__queue_id",
        "verdict",
        "harmful_request",
        "categories",
        "is_final",
        "created_at",
        "item__created_at",
        "time_spent_seconds",
    ):
        conv_id, pk, item_id, reviewer_id, queue_id, verdict, harmful, categories = row[:8]
        is_final, created_at, item_created_at, spent = row[8:]
        facts[conv_id].decisions.append(
            DecisionFact(
                pk,
                item_id,
                reviewer_id,
                queue_id,
                verdict,
                bool(harmful),
                tuple(categories or ()),
                is_final,
                created_at,
                item_created_at,
                spent,
            )
        )
    flags = Flag.objects.filter(_among("conversation_id", ids)).values_list(
        "conversation_id", "detector", "category", "score"
    )
    for conv_id, detector, category, score in flags:
        facts[conv_id].flags.append(FlagFact(detector, category, score))
    scores = Score.objects.filter(_among("conversation_id", ids)).values_list(
        "conversation_id", "producer", "risk", "verdicts"
    )
    for conv_id, producer, risk, verdicts in scores:
        facts[conv_id].scores.append(ScoreFact(producer, risk, verdicts if isinstance(verdicts, dict) else None))
    for conv_id in Escalation.objects.filter(_among(_CONV, ids)).values_list(_CONV, flat=True):
        facts[conv_id].escalated = True
    calibration = ReviewItem.objects.filter(_among("conversation_id", ids), queue__kind=QueueKind.CALIBRATION)
    for conv_id in calibration.values_list("conversation_id", flat=True):
        facts[conv_id].sampled = True
    sampled = RoutingRecord.objects.filter(_among("conversation_id", ids), outcome=RoutingOutcome.SAMPLED)
    records = list(sampled.values_list("conversation_id", "policy_version_id"))
    documents = PolicyVersion.objects.filter(pk__in={version for _, version in records}).values_list("pk", "document")
    samplings = {pk: PolicyDocument.model_validate(document).sampling for pk, document in documents}
    for conv_id, version_id in records:
        conv = facts[conv_id]
        conv.sampled, conv.weight = True, inverse_sampling_rate(samplings[version_id], flagged=bool(conv.flags))


def inverse_sampling_rate(sampling: Sampling, *, flagged: bool) -> float:
    """How many conversations one sampled conversation stands for: 100 / the percent routing sampled its
    stratum at (unflagged traffic, or flagged low-risk traffic) under the policy version that routed it."""
    percent = sampling.low_risk_percent if flagged else sampling.unflagged_percent
    return 100 / percent if percent > 0 else 1.0


def _sum_days(days: list[datetime]) -> int:
    """Day rows of recent days are the sums of their hour rows (all of which exist: the day is recent)."""
    written = 0
    for span in _spans(days, DAY):
        for model in ROLLUPS:
            in_span = Q(bucket__gte=span.start, bucket__lt=span.end)
            model.objects.filter(in_span, grain=RollupGrain.DAY).delete()
            sums = (
                model.objects.filter(in_span, grain=RollupGrain.HOUR)
                .annotate(day=TruncDay("bucket", tzinfo=UTC))
                .values("day", *model.DIMENSIONS)
                .annotate(**{f"sum_{m}": Sum(m) for m in model.MEASURES})
                .order_by()
            )
            acc = Accumulator()
            for row in sums:
                key = (row["day"], *(row[d] for d in model.DIMENSIONS))
                acc.add(model, key, tuple(row[f"sum_{m}"] for m in model.MEASURES))
            written += _write(model, acc, RollupGrain.DAY)
    return written
