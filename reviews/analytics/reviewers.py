"""Reviewers: how consistent labels are between people, and how often seniors step in.

- Agreement is measured on items decided by two or more reviewers (double review): Cohen's kappa per pair
  of reviewers over the items both decided, Krippendorff's alpha (nominal, on the verdict) per queue and
  per category over all of them. Both come from AgreementRollup's verdict pairs.
- Adjudication rate: of conversations first decided in a queue, the share that reached a senior (a final
  decision after reviewers disagreed, or an escalation).
- Overturned: a reviewer's (non-final) verdict differing from the final verdict on the conversation.
- Escalations count as escalations: a reviewer's escalation (no decision of theirs) shows in their row, and an
  escalated conversation reaches a senior from the queue it was escalated from (read from the escalations
  themselves, a small table, not from the decision rollups).

With `reviewer_id` set, only that reviewer's own figures are built; team-wide tables are left out and no
other reviewer is named.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from reviews.analytics.cells import (
    RATE_NOTE,
    count_rate_cells,
    count_rate_columns,
    number,
    pct,
    rate_cells,
    rate_columns,
    rounded,
)
from reviews.analytics.query import (
    Dimension,
    Scope,
    Window,
    queue_names,
    rollup_totals,
    scope_for,
    taxonomy,
    usernames,
    window_for,
)
from reviews.analytics.reviewer_quality import quality_tables
from reviews.analytics.stats import alpha_from_coincidences, alpha_interval, cohen_kappa_from_table
from reviews.analytics.types import AnalyticsFilters, Cell, Chart, Dashboard, Series, Table
from reviews.models import AgreementRollup, Decision, DecisionRollup, Escalation, EscalationStatus, ReviewerRollup

AGREEMENT: tuple[Dimension, ...] = ("queue", "category")
YOU_AND_OTHERS = "Other reviewers (together)"


def reviewers(filters: AnalyticsFilters) -> Dashboard:
    window, scope = window_for(filters), scope_for(filters)
    own = scope.reviewer_id is not None
    people = _reviewers_table(window, scope)
    # One read of the agreement rollup serves the pairs and the by-queue table (the costliest read here).
    agreement = None if own else _agreement(window, scope, by=["queue_id", "reviewer_a_id", "reviewer_b_id"])
    pairs = _pairs_table(window, scope, totals=agreement)
    notes = [
        "Agreement is measured on items that two or more reviewers decided (double review), on the verdict. "
        "Kappa and alpha are empty where undefined: no such items, or everyone gave the same one verdict.",
        window.note,
    ]
    quality, quality_charts = quality_tables(window, scope)  # gold accuracy, QA agreement, speed
    if own:
        notes.append("Only your own numbers are shown; team figures are for seniors and admins.")
        return Dashboard(
            slug="reviewers", title="Reviewers", tables=[people, pairs, *quality], charts=quality_charts, notes=notes
        )
    by_queue = _alpha_table(window, scope, by="queue_id", totals=agreement)
    by_category = _alpha_table(window, scope, by="category")
    adjudication = _adjudication_table(window, scope)
    charts = [
        _bar(
            by_queue,
            slug="alpha-by-queue",
            title="Krippendorff's alpha by queue",
            column="Krippendorff's alpha",
            interval=True,
            empty="No double-reviewed items in this range.",
        ),
        _bar(
            adjudication,
            slug="adjudication-rate",
            title="Adjudication rate by queue",
            column="Reached a senior %",
            interval=True,
        ),
    ]
    notes.append(
        "The queue filter applies to every table; the category filter to agreement and adjudication; the source "
        "and model filters to adjudication only."
    )
    return Dashboard(
        slug="reviewers",
        title="Reviewers",
        tables=[people, pairs, by_queue, by_category, adjudication, *quality],
        charts=[*charts, *quality_charts],
        notes=notes,
    )


def _escalations(window: Window, scope: Scope) -> QuerySet[Escalation]:
    """Escalations raised in the window, within the queue and reviewer filters."""
    escalations = Escalation.objects.filter(created_at__gte=window.start, created_at__lt=window.end)
    if scope.queue_id is not None:
        escalations = escalations.filter(item__queue_id=scope.queue_id)
    if scope.reviewer_id is not None:
        escalations = escalations.filter(raised_by_id=scope.reviewer_id)
    return escalations


def _escalated_by(window: Window, scope: Scope) -> dict[int, tuple[int, int]]:
    """Reviewer id → (escalations raised, of those ruled on by a senior)."""
    rows = (
        _escalations(window, scope)
        .values("raised_by_id")
        .annotate(raised=Count("pk"), ruled=Count("pk", filter=Q(status=EscalationStatus.RESOLVED)))
        .order_by()
    )
    return {r["raised_by_id"]: (r["raised"], r["ruled"]) for r in rows}


def _reviewers_table(window: Window, scope: Scope) -> Table:
    totals = rollup_totals(ReviewerRollup, window, scope, by=["reviewer_id"], honour=("queue", "reviewer"))
    escalated = _escalated_by(window, scope)
    seen = {r["reviewer_id"] for r in totals}
    totals += [
        {"reviewer_id": pk, "decisions": 0, "final": 0, "ruled": 0, "overturned": 0, "time_spent_seconds": 0}
        for pk in escalated
        if pk not in seen
    ]
    names = usernames(r["reviewer_id"] for r in totals)
    rows: list[list[Cell]] = []
    for r in sorted(totals, key=lambda r: (-r["decisions"], names.get(r["reviewer_id"], ""))):
        non_final = r["decisions"] - r["final"]
        raised, ruled = escalated.get(r["reviewer_id"], (0, 0))
        rows.append(
            [
                names.get(r["reviewer_id"], f"user {r['reviewer_id']}"),
                r["decisions"],
                r["final"],
                r["ruled"],
                r["overturned"],
                *rate_cells(r["overturned"], non_final),
                raised,
                ruled,
                round(r["time_spent_seconds"] / r["decisions"]) if r["decisions"] else None,
            ]
        )
    return Table(
        slug="reviewers",
        title="Decisions, rulings and overturns per reviewer",
        columns=[
            "Reviewer",
            "Decisions",
            "Final decisions",
            "Ruled on by a senior",
            "Overturned",
            *rate_columns("Overturned"),
            "Escalated",
            "Escalations ruled on",
            "Mean seconds per decision",
        ],
        rows=rows,
        note="Final decisions are a senior's rulings. Ruled on: the reviewer's decision was followed by a final "
        "decision on the conversation; overturned: with a different verdict. The overturned rate is out of the "
        "reviewer's non-final decisions. Escalated: items the reviewer handed to the seniors instead of deciding "
        f"(raised in the range); ruled on: those a senior has resolved. {RATE_NOTE}",
    )


def _agreement(window: Window, scope: Scope, *, by: list[str], where: Q | None = None) -> list[dict[str, Any]]:
    """Verdict pairs of the agreement rollup summed per `by` and verdicts (finer groups sum to the same)."""
    return rollup_totals(
        AgreementRollup, window, scope, by=[*by, "verdict_a", "verdict_b"], honour=AGREEMENT, where=where
    )


def _pairs_table(window: Window, scope: Scope, *, totals: list[dict[str, Any]] | None = None) -> Table:
    you = scope.reviewer_id
    if totals is None:
        where = None if you is None else Q(reviewer_a_id=you) | Q(reviewer_b_id=you)
        totals = _agreement(window, scope, by=["reviewer_a_id", "reviewer_b_id"], where=where)
    tables: dict[tuple[int, int], Counter[tuple[Hashable, Hashable]]] = defaultdict(Counter)
    for r in totals:
        a, b, va, vb = r["reviewer_a_id"], r["reviewer_b_id"], r["verdict_a"], r["verdict_b"]
        if you is not None:  # orient every pair as (you, the other reviewer), and pool the others
            a, b, va, vb = (a, 0, va, vb) if a == you else (b, 0, vb, va)
        tables[(a, b)][(va, vb)] += r["pairs"]
    names = usernames(reviewer for pair in tables for reviewer in pair)
    names[0] = YOU_AND_OTHERS
    rows: list[list[Cell]] = []
    for (a, b), table in sorted(tables.items(), key=lambda kv: (names.get(kv[0][0], ""), names.get(kv[0][1], ""))):
        items = sum(table.values())
        agreed = sum(n for (va, vb), n in table.items() if va == vb)
        rows.append(
            [
                names.get(a, f"user {a}"),
                names.get(b, f"user {b}"),
                items,
                agreed,
                *rate_cells(agreed, items),
                rounded(cohen_kappa_from_table(table)),
            ]
        )
    return Table(
        slug="pairs",
        title="Agreement between pairs of reviewers",
        columns=["Reviewer", "With", "Items both decided", "Agreed", *rate_columns("Agreement"), "Cohen's kappa"],
        rows=rows,
        note="Kappa corrects observed agreement for the agreement expected by chance from each reviewer's own mix "
        f"of verdicts (1: perfect; 0: no better than chance). {RATE_NOTE}",
    )


def _alpha_table(window: Window, scope: Scope, *, by: str, totals: list[dict[str, Any]] | None = None) -> Table:
    if totals is None:
        totals = _agreement(window, scope, by=[by])
    categories = taxonomy() if by == "category" else None
    matrices: dict[object, dict[tuple[Hashable, Hashable], float]] = defaultdict(lambda: defaultdict(float))
    units: dict[object, float] = defaultdict(float)
    pairs: dict[object, int] = defaultdict(int)
    for r in totals:
        key = categories.target(r[by]) if categories else r[by]
        # A pair of verdicts adds weight to both orders of the coincidence matrix.
        matrices[key][(r["verdict_a"], r["verdict_b"])] += r["weight"]
        matrices[key][(r["verdict_b"], r["verdict_a"])] += r["weight"]
        units[key] += r["units"]
        pairs[key] += r["pairs"]
    names: dict[object, str] = {}
    if categories is not None:
        for key in matrices:
            names[key] = categories.name(str(key))
    else:
        for pk, name in queue_names().items():
            names[pk] = name
    rows: list[list[Cell]] = []
    for key in sorted(matrices, key=lambda k: names.get(k, str(k))):
        matrix = matrices[key]
        n = sum(matrix.values())
        agreeing = sum(v for (a, b), v in matrix.items() if a == b)
        low, high = alpha_interval(matrix) or (None, None)
        rows.append(
            [
                names.get(key, str(key)),
                round(units[key]),
                pairs[key],
                pct(agreeing / n) if n else None,
                rounded(alpha_from_coincidences(matrix)),
                rounded(low),
                rounded(high),
            ]
        )
    what = "Queue" if by == "queue_id" else "Category"
    return Table(
        slug=f"agreement-by-{what.lower()}",
        title=f"Agreement among all reviewers by {what.lower()}",
        columns=[
            what,
            "Items",
            "Reviewer pairs",
            "Observed agreement %",
            "Krippendorff's alpha",
            "Krippendorff's alpha low",
            "Krippendorff's alpha high",
        ],
        rows=rows,
        note="Alpha (nominal) over every item decided by two or more reviewers: 1 is perfect agreement, 0 is "
        "chance; its 95 % interval is a bootstrap over the pairs of verdicts. Observed agreement is the share of "
        "agreeing pairs of verdicts, an item of m decisions weighing 1/(m-1) per pair."
        + (" An item counts under each of its categories." if by == "category" else ""),
    )


def _adjudication_table(window: Window, scope: Scope) -> Table:
    totals = rollup_totals(
        DecisionRollup, window, scope, by=["queue_id"], honour=("queue", "source", "model", "category")
    )
    # Escalated before anyone decided: no first decision in the rollups, so counted here from the escalations.
    undecided = ~Exists(
        Decision.objects.filter(item__conversation_id=OuterRef("item__conversation_id"), is_final=False)
    )
    escalated = dict(
        _escalations(window, scope)
        .filter(undecided)
        .values("item__queue_id")
        .annotate(n=Count("item__conversation_id", distinct=True))
        .values_list("item__queue_id", "n")
        .order_by()
    )
    by_queue = {r["queue_id"]: (r["first"], r["to_senior"]) for r in totals if r["first"]}
    names = queue_names()
    rows: list[list[Cell]] = []
    for queue_id in sorted(set(by_queue) | set(escalated), key=lambda pk: names.get(pk, "")):
        first, to_senior = by_queue.get(queue_id, (0, 0))
        handled = first + escalated.get(queue_id, 0)
        rows.append(
            [
                names.get(queue_id, str(queue_id)),
                first,
                escalated.get(queue_id, 0),
                *count_rate_cells(to_senior + escalated.get(queue_id, 0), handled),
            ]
        )
    return Table(
        slug="adjudication",
        title="Adjudication rate by queue",
        columns=["Queue", "Conversations decided", "Escalated undecided", *count_rate_columns("Reached a senior")],
        rows=rows,
        note="Conversations whose first decision was made in the queue, or that were escalated from it before "
        "anyone decided them, and of those, how many reached a senior: a final decision after reviewers "
        f"disagreed, or an escalation. {RATE_NOTE}",
    )


def _bar(
    table: Table, *, slug: str, title: str, column: str, interval: bool = False, empty: str = Chart.empty
) -> Chart:
    value = table.columns.index(column)
    low = high = None
    n: list[Cell] | None = None
    if interval:
        low = [number(row[value + 1]) for row in table.rows]
        high = [number(row[value + 2]) for row in table.rows]
    if "Items" in table.columns:  # agreement: the double-reviewed items it is measured on
        n = [row[table.columns.index("Items")] for row in table.rows]
    elif interval:  # conversations decided or escalated undecided: the rate's denominator
        n = [sum(cell for cell in row[1:3] if isinstance(cell, int)) for row in table.rows]
    return Chart(
        slug=slug,
        title=title,
        kind="bar",
        x_label=table.columns[0],
        y_label=column,
        series=[
            Series(column, [row[0] for row in table.rows], [number(row[value]) for row in table.rows], low, high, n)
        ],
        table=table.slug,
        empty=empty,
    )
