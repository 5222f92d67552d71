"""Reviewer quality: accuracy on gold items and agreement with seniors' QA second reviews, with speed.

- **Accuracy on gold**: of a reviewer's answers to gold presentations decided in the range, the share whose
  verdict is the gold's expected verdict (and, apart, whose categories are exactly the expected ones).
- **QA agreement**: of a reviewer's decisions drawn for QA whose senior second review was decided in the range,
  the share where the senior gave the same verdict.
- Per reviewer, per queue (the gold's queue; the sampled decision's) and per category (the gold's expected
  categories; the sampled decision's), each with n and a 95% Wilson interval.
- **Speed**: the median of the seconds the workspace recorded per decision (every decision of theirs in the
  range, gold answers included), beside accuracy.

Read live from the gold and QA tables (small: a few per cent of decisions). With `reviewer_id` set, only that
reviewer's rows are read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, Q

from reviews.analytics.cells import RATE_NOTE, number, rate_cells, rate_columns
from reviews.analytics.query import Scope, Taxonomy, Window, taxonomy
from reviews.analytics.types import Cell, Chart, Series, Table
from reviews.models import Decision

Tally = dict[Any, list[int]]  # key → [right, n]
NO_CATEGORY = "(no category)"


def _in_range(window: Window, scope: Scope, reviewer_path: str, queue_path: str) -> Q:
    q = Q(created_at__gte=window.start, created_at__lt=window.end)
    if scope.reviewer_id is not None:
        q &= Q(**{reviewer_path: scope.reviewer_id})
    if scope.queue_id is not None:
        q &= Q(**{queue_path: scope.queue_id})
    return q


def _outcomes(rows: Iterable[tuple[str, str, list[str], bool]], scope: Scope, names: Taxonomy) -> dict[str, Tally]:
    """(reviewer, queue, categories, right) rows tallied per reviewer, queue and category."""
    tallies: dict[str, Tally] = {key: defaultdict(lambda: [0, 0]) for key in ("reviewer", "queue", "category")}
    wanted = set(scope.category_slugs)
    for reviewer, queue, categories, right in rows:
        if wanted and not wanted & set(categories or []):
            continue
        for key, value in (("reviewer", reviewer), ("queue", queue)):
            tallies[key][value][0] += right
            tallies[key][value][1] += 1
        for slug in {names.name(names.target(c)) for c in categories or []} or {NO_CATEGORY}:
            tallies["category"][slug][0] += right
            tallies["category"][slug][1] += 1
    return tallies


def gold_outcomes(window: Window, scope: Scope, names: Taxonomy) -> tuple[dict[str, Tally], Tally]:
    """Tallies of verdicts right on gold, and (per reviewer) of categories exactly right. One read; reviewers and
    queues by name."""
    q = _in_range(window, scope, "reviewer_id", "item__queue_id") & Q(item__gold_presentation__isnull=False)
    gold = "item__gold_presentation__gold__"
    rows = Decision.objects.filter(q).values_list(
        "reviewer__username", "item__queue__name", "verdict", "categories", f"{gold}verdict", f"{gold}categories"
    )
    verdicts: list[tuple[str, str, list[str], bool]] = []
    categories_right: Tally = defaultdict(lambda: [0, 0])
    for reviewer, queue, verdict, categories, expected, expected_categories in rows:
        verdicts.append((reviewer, queue, list(expected_categories or []), verdict == expected))
        categories_right[reviewer][0] += sorted(categories or []) == sorted(expected_categories or [])
        categories_right[reviewer][1] += 1
    return _outcomes(verdicts, scope, names), categories_right


def qa_outcomes(window: Window, scope: Scope, names: Taxonomy) -> dict[str, Tally]:
    """Tallies of seniors' QA decisions (decided in the range) that agree with the sampled decision. One read."""
    sampled = "item__qa_sample__decision__"
    q = _in_range(window, scope, f"{sampled}reviewer_id", f"{sampled}item__queue_id")
    rows = Decision.objects.filter(q & Q(item__qa_sample__isnull=False)).values_list(
        f"{sampled}reviewer__username", f"{sampled}item__queue__name", f"{sampled}categories", f"{sampled}verdict",
        "verdict",
    )  # fmt: skip
    return _outcomes(((r, qu, c, first == second) for r, qu, c, first, second in rows), scope, names)


def median_seconds(window: Window, scope: Scope, usernames: Iterable[str]) -> dict[str, float]:
    """Median recorded seconds per decision of each reviewer in the range, from one read of how many decisions
    took each whole number of seconds (bounded by the distinct values, not the decisions)."""
    q = Q(created_at__gte=window.start, created_at__lt=window.end, is_imported=False)
    q &= Q(reviewer_id=scope.reviewer_id) if scope.reviewer_id is not None else Q(reviewer__username__in=usernames)
    counts: dict[str, list[tuple[int, int]]] = defaultdict(list)
    rows = Decision.objects.filter(q).values_list("reviewer__username", "time_spent_seconds").annotate(n=Count("pk"))
    for reviewer, seconds, n in rows.order_by("reviewer__username", "time_spent_seconds"):
        counts[reviewer].append((seconds, n))
    return {reviewer: _median(histogram) for reviewer, histogram in counts.items()}


def _median(histogram: list[tuple[int, int]]) -> float:
    """The median of values given as sorted (value, count) pairs."""
    total = sum(n for _, n in histogram)
    wanted, found, seen = {(total - 1) // 2, total // 2}, [], 0
    for value, n in histogram:
        found += [value for position in wanted if seen <= position < seen + n]
        seen += n
    return sum(found) / len(found)


def rate_table(slug: str, title: str, key: str, tally: Tally, note: str) -> Table:
    rows: list[list[Cell]] = [[value, n, right, *rate_cells(right, n)] for value, (right, n) in sorted(tally.items())]
    what = title.split(" per ")[0].split(" by ")[0]
    return Table(
        slug=slug,
        title=title,
        columns=[key, "n", "Agreed" if "QA" in what else "Right", *rate_columns(what)],
        rows=rows,
        note=f"{note} {RATE_NOTE}",
    )


GOLD_NOTE = (
    "Gold items are settled items a senior marked as the expected answer, mixed unmarked into reviewers' streams at "
    "each queue's gold rate. Right: the reviewer's verdict is the expected one."
)
QA_NOTE = (
    "A share of each reviewer's settled decisions (each queue's QA rate) is reviewed again, blind, by a senior. "
    "Agreed: the senior gave the same verdict; a disagreement goes to adjudication."
)


def quality_tables(window: Window, scope: Scope) -> tuple[list[Table], list[Chart]]:
    """The quality tables and the accuracy-against-speed chart, in four reads whatever the data."""
    names = taxonomy()
    gold, categories_right = gold_outcomes(window, scope, names)
    qa = qa_outcomes(window, scope, names)
    medians = median_seconds(window, scope, set(gold["reviewer"]) | set(qa["reviewer"]))
    per_reviewer = _gold_reviewer_table(gold["reviewer"], categories_right, medians)
    by_category = " An answer counts under each expected category."
    tables = [
        per_reviewer,
        rate_table("gold-by-queue", "Accuracy on gold by queue", "Queue", gold["queue"], GOLD_NOTE),
        rate_table("gold-by-category", "Accuracy on gold by category", "Category", gold["category"],
                   GOLD_NOTE + by_category),
        rate_table("qa-agreement", "QA agreement per reviewer", "Reviewer", qa["reviewer"], QA_NOTE),
        rate_table("qa-by-queue", "QA agreement by queue", "Queue", qa["queue"], QA_NOTE),
        rate_table("qa-by-category", "QA agreement by category", "Category", qa["category"],
                   QA_NOTE + " A decision counts under each of its categories."),
    ]  # fmt: skip
    speed = _speed_chart(per_reviewer)
    return tables, [] if speed.is_empty else [speed]  # drawn once someone has answered gold in the range


def _gold_reviewer_table(tally: Tally, categories_right: Tally, medians: Mapping[str, float]) -> Table:
    rows: list[list[Cell]] = []
    for reviewer in sorted(set(tally) | set(medians)):
        right, n = tally.get(reviewer, [0, 0])
        cats_right, cats_n = categories_right.get(reviewer, [0, 0])
        median = medians.get(reviewer)
        rows.append(
            [reviewer, n, right, *rate_cells(right, n), *rate_cells(cats_right, cats_n),
             None if median is None else round(median, 1)]
        )  # fmt: skip
    return Table(
        slug="gold-accuracy",
        title="Accuracy on gold per reviewer",
        columns=[
            "Reviewer",
            "n",
            "Right",
            *rate_columns("Accuracy on gold"),
            *rate_columns("Categories exactly right"),
            "Median seconds per item",
        ],
        rows=rows,
        note=f"{GOLD_NOTE} Median seconds: over every decision of the reviewer in the range. {RATE_NOTE}",
    )


def _speed_chart(table: Table) -> Chart:
    """Accuracy on gold against the median seconds per item, one point per reviewer with gold answers."""
    rows = [row for row in table.rows if row[1] and row[-1] is not None]
    return Chart(
        slug="accuracy-speed",
        title="Accuracy on gold against speed",
        kind="scatter",
        x_label="Median seconds per item",
        y_label="Accuracy on gold % (95% interval)",
        series=[
            Series(
                "Reviewers",
                [row[-1] for row in rows],
                [number(row[3]) for row in rows],
                [number(row[4]) for row in rows],
                [number(row[5]) for row in rows],
                [row[1] for row in rows],
            )
        ],
        table=table.slug,
        empty="No gold answers in this range.",
    )
