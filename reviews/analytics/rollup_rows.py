"""From one conversation's facts (its decisions, flags, scores) to the rollup rows it contributes to.

No queries here: rollup.py fetches the facts for a span of hours (or days) and writes what this module adds up. The
definitions every dashboard relies on live here, once:

- A decision's **categories**: the reviewer's, else the taxonomy categories the detectors flagged, else "".
- The **effective** decision of a conversation stands for it in the safety grid, monitor and model figures:
  its latest final decision (a senior's adjudication or escalation ruling), else its first decision. Later
  non-final decisions (the second of a double review) are counted as work, not as another conversation.
- A flag is **confirmed** when the effective decision says the request was harmful and, if the flag's
  category is one of ours and the reviewer named categories, the reviewer named that one too.
- A conversation **reached a senior** when it has a final decision or was escalated.
- A decision is **overturned** when it is not final and the conversation's latest final verdict differs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import NamedTuple, cast

from reviews.analytics.stats import band
from reviews.models import (
    ALL_CATEGORIES,
    AgreementRollup,
    CalibrationRollup,
    DecisionRollup,
    FlagRollup,
    ItemRollup,
    LatencyRollup,
    ReviewerRollup,
    Rollup,
    ScoreRollup,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Hour rows are kept for this many whole UTC days before today (hourly charts, exact range edges); older
# history lives in day rows only, which keeps the rollups far smaller than the decisions they count.
HOURLY_DAYS = 7
# Upper edges (minutes) of the bands of time from an item entering its queue to a decision; the last band is open.
LATENCY_EDGES_MINUTES = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 1080, 1440, 2160, 2880, 4320, 7200, 10080,
)  # fmt: skip
UNCATEGORISED = ""


class DecisionFact(NamedTuple):
    id: int
    item_id: int
    reviewer_id: int
    queue_id: int
    verdict: str
    harmful: bool
    categories: tuple[str, ...]
    is_final: bool
    created_at: datetime
    item_created_at: datetime
    time_spent_seconds: int


class FlagFact(NamedTuple):
    detector: str
    category: str
    score: float


class ScoreFact(NamedTuple):
    producer: str
    risk: float
    verdicts: dict[str, float] | None  # the verdict grid; None for the fallback, older heads, requests alone


@dataclass
class ConversationFacts:
    source_id: int
    model_name: str
    decisions: list[DecisionFact] = field(default_factory=list)
    flags: list[FlagFact] = field(default_factory=list)
    scores: list[ScoreFact] = field(default_factory=list)
    escalated: bool = False
    source_kind: str = ""  # what its flags claim (flag_confirmed)
    sampled: bool = False  # in the calibration sample (routed "sampled", or in a calibration queue)
    weight: float = 1.0  # its inverse sampling rate (1 where it was put in the sample by hand)


Bucketing = Callable[[datetime], datetime]


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def hourly_horizon(now: datetime) -> datetime:
    """The first UTC day that still has hour rows."""
    return day_of(now) - HOURLY_DAYS * DAY


def latency_band(delta: timedelta) -> int:
    """How many latency edges the delay reaches: its band in LATENCY_EDGES_MINUTES."""
    return bisect_right(LATENCY_EDGES_MINUTES, delta.total_seconds() / 60)


class Accumulator:
    """Hour rows being added up: per rollup model, key (bucket, *dimensions) -> measures summed."""

    def __init__(self) -> None:
        self.rows: dict[type[Rollup], dict[tuple[object, ...], list[float]]] = defaultdict(dict)

    def add(self, model: type[Rollup], key: tuple[object, ...], values: tuple[float, ...]) -> None:
        rows = self.rows[model]
        current = rows.get(key)
        if current is None:
            rows[key] = list(values)
        else:
            for i, value in enumerate(values):
                current[i] += value

    def instances(self, model: type[Rollup], grain: str) -> Iterable[Rollup]:
        dims, measures = model.DIMENSIONS, model.MEASURES
        for key, values in self.rows.get(model, {}).items():
            fields: dict[str, object] = dict(zip(dims, key[1:], strict=True))
            fields.update(zip(measures, values, strict=True))
            yield model(grain=grain, bucket=cast(datetime, key[0]), **fields)

    def tuples(self, model: type[Rollup], grain: str) -> Iterable[tuple[object, ...]]:
        """(grain, bucket, *dimensions, *measures) per row, in Rollup.columns() order."""
        for key, values in self.rows.get(model, {}).items():
            yield (grain, *key, *values)


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def conversation_add(
    acc: Accumulator, conv: ConversationFacts, span: Span, taxonomy: frozenset[str], bucket: Bucketing = hour_of
) -> None:
    """Add the rows of `conv` whose bucket (the hour, or day, of the decision they hang on) falls in `span`."""
    decisions = sorted(conv.decisions, key=lambda d: (d.created_at, d.id))
    finals = [d for d in decisions if d.is_final]
    latest_final = finals[-1] if finals else None
    first = next((d for d in decisions if not d.is_final), None)
    effective = latest_final or first
    reached_senior = bool(finals) or conv.escalated
    flagged = tuple(sorted({f.category for f in conv.flags} & taxonomy)) or (UNCATEGORISED,)
    src, model = conv.source_id, conv.model_name

    for d in decisions:
        if d.created_at not in span:
            continue
        hour = bucket(d.created_at)
        is_first = d is first
        counts = (1, int(d is effective), int(d.is_final), int(is_first), int(is_first and reached_senior))
        for category in (*(d.categories or flagged), ALL_CATEGORIES):
            acc.add(DecisionRollup, (hour, d.queue_id, src, model, category, d.verdict), counts)
        acc.add(LatencyRollup, (hour, d.queue_id, src, model, latency_band(d.created_at - d.item_created_at)), (1,))
        ruled = not d.is_final and latest_final is not None
        overturned = ruled and latest_final is not None and d.verdict != latest_final.verdict
        acc.add(
            ReviewerRollup,
            (hour, d.reviewer_id, d.queue_id),
            (1, int(d.is_final), int(ruled), int(overturned), d.time_spent_seconds),
        )

    _agreement_add(acc, decisions, span, flagged, bucket)
    if effective is not None and effective.created_at in span:
        _outcome_add(acc, conv, effective, flagged, taxonomy, bucket(effective.created_at))


def _agreement_add(
    acc: Accumulator, decisions: list[DecisionFact], span: Span, flagged: tuple[str, ...], bucket: Bucketing
) -> None:
    """Items decided by two or more reviewers (non-final decisions), in the hour of the item's last decision."""
    by_item: dict[int, list[DecisionFact]] = defaultdict(list)
    for d in decisions:
        if not d.is_final:
            by_item[d.item_id].append(d)
    for unit in by_item.values():
        m = len(unit)
        if m < 2 or unit[-1].created_at not in span:  # unit is in time order: its last is the latest
            continue
        hour = bucket(unit[-1].created_at)
        values = (1, 1 / (m * (m - 1) / 2), 1 / (m - 1))  # pairs, units, coincidence weight
        categories = tuple(sorted({c for d in unit for c in d.categories})) or flagged
        for a, b in combinations(sorted(unit, key=lambda d: d.reviewer_id), 2):
            for category in (*categories, ALL_CATEGORIES):
                key = (hour, a.queue_id, category, a.reviewer_id, b.reviewer_id, a.verdict, b.verdict)
                acc.add(AgreementRollup, key, values)


# What each kind of monitor claims, so what a review confirms (documented on the monitors dashboard):
REPLY_MONITORS = frozenset({"output_classifier", "cot_monitor"})  # "this reply is harmful": harmful compliance
REPORTS = frozenset({"user_report"})  # "something is wrong here": any verdict but appropriate help
# Every other kind (input guardrails, red team, samplers) claims "this request is harmful".


def flag_confirmed(flag: FlagFact, effective: DecisionFact, taxonomy: frozenset[str], source_kind: str = "") -> bool:
    """Whether the reviewers confirmed what the flag claims; where the flag and the reviewers both name one of
    our categories, the flag's must be among the reviewers'."""
    if source_kind in REPORTS:
        return bool(effective.verdict) and effective.verdict != "appropriate_help"
    held = effective.verdict == "harmful_compliance" if source_kind in REPLY_MONITORS else effective.harmful
    if not held:
        return False
    return flag.category not in taxonomy or not effective.categories or flag.category in effective.categories


def _outcome_add(
    acc: Accumulator,
    conv: ConversationFacts,
    effective: DecisionFact,
    flagged: tuple[str, ...],
    taxonomy: frozenset[str],
    hour: datetime,
) -> None:
    """What the reviewers concluded, against what the monitors and our model said, in the effective bucket."""
    src, model, harmful = conv.source_id, conv.model_name, int(effective.harmful)
    for flag in conv.flags:
        key = (hour, src, flag.detector, model, flag.category, band(flag.score))
        acc.add(FlagRollup, key, (1, int(flag_confirmed(flag, effective, taxonomy, conv.source_kind))))
    if conv.sampled:
        weighted = (1, harmful, conv.weight * harmful, conv.weight**2 * harmful)
        highest: dict[str, float] = {}
        for flag in conv.flags:
            highest[flag.detector] = max(flag.score, highest.get(flag.detector, 0.0))
        for category in (*(effective.categories or flagged), ALL_CATEGORIES):
            acc.add(CalibrationRollup, (hour, src, model, category, "", 0), weighted)
            for detector, score in highest.items():
                acc.add(CalibrationRollup, (hour, src, model, category, detector, band(score)), weighted)
    for scored in conv.scores:
        by = (hour, scored.producer, src, model, band(scored.risk))
        acc.add(ScoreRollup, by, _score_outcome(scored, effective))


def _score_outcome(score: ScoreFact, effective: DecisionFact) -> tuple[float, ...]:
    """ScoreRollup's measures for one score against the effective decision."""
    harmful = int(effective.harmful)
    grid = score.verdicts
    if not grid:
        return (1, harmful, score.risk, harmful, 0, 0, 0.0)
    top = max(grid, key=lambda verdict: grid[verdict])
    hit = int(top == effective.verdict)
    return (
        1,
        harmful,
        score.risk,
        int(effective.verdict == "harmful_compliance"),
        1,
        hit,
        grid.get(effective.verdict, 0.0),
    )


def item_add(
    acc: Accumulator,
    *,
    queue_id: int,
    source_id: int,
    model_name: str,
    created_at: datetime,
    breached_at: datetime | None,
    span: Span,
    bucket: Bucketing = hour_of,
) -> None:
    if created_at in span:
        acc.add(ItemRollup, (bucket(created_at), queue_id, source_id, model_name), (1, 0))
    if breached_at is not None and breached_at in span:
        acc.add(ItemRollup, (bucket(breached_at), queue_id, source_id, model_name), (0, 1))
