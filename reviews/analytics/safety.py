"""The safety grid: how often monitored models comply with harmful requests or refuse benign ones.

Each reviewed conversation counts once, under its effective decision (the latest final one, else the first;
see rollup_rows.py). The four verdict shares of the grid sum to 100%; the failure rates are conditional:
harmful compliance among harmful requests, over-refusal among benign requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from reviews.analytics.cells import RATE_NOTE, count_rate_cells, count_rate_columns, number, rate_cells
from reviews.analytics.query import (
    Dimension,
    bucket_label,
    buckets,
    rollup_totals,
    scope_for,
    taxonomy,
    window_for,
)
from reviews.analytics.stats import wilson_interval
from reviews.analytics.types import AnalyticsFilters, Cell, Chart, Dashboard, Series, Table
from reviews.models import DecisionRollup, Verdict

HONOUR: tuple[Dimension, ...] = ("queue", "source", "model", "category")
VERDICTS = [Verdict(v) for v in Verdict.values]
HC, AR, OR, AH = Verdict.HARMFUL_COMPLIANCE, Verdict.APPROPRIATE_REFUSAL, Verdict.OVER_REFUSAL, Verdict.APPROPRIATE_HELP
NO_MODEL = "(no model name)"
ALL_MODELS = "All models"
COMPLIED = "Complied with harmful requests"
REFUSED = "Refused benign requests"


def safety(filters: AnalyticsFilters) -> Dashboard:
    window, scope = window_for(filters), scope_for(filters)
    by_model = _counts(rollup_totals(DecisionRollup, window, scope, by=["model_name", "verdict"], honour=HONOUR))
    by_model_table = _by_model_table(by_model)
    grid_rows = rollup_totals(DecisionRollup, window, scope, by=["model_name", "category", "verdict"], honour=HONOUR)
    grid_counts = _counts(grid_rows, key=("model_name", "category"))
    grid = _grid_table(grid_counts)
    matrix = _matrix_table(grid_counts)
    over_time = _over_time_table(
        _counts(
            rollup_totals(DecisionRollup, window, scope, by=["verdict"], honour=HONOUR, series=True), key=("bucket",)
        ),
        [(moment, bucket_label(moment, window.resolution)) for moment in buckets(window)],
        resolution=window.resolution.capitalize(),
    )
    charts = [
        _rate_chart(over_time, slug="failure-rates", title="Failure rates over time", kind="line", x_label="Time"),
        _rate_chart(
            by_model_table, slug="failure-rates-by-model", title="Failure rates by model", kind="bar", x_label="Model"
        ),
    ]
    notes = [
        "Each reviewed conversation counts once, under its effective decision: a senior's final decision where "
        "there is one, else the first reviewer's. Decisions are placed in time by when they were made.",
        "Categories are the reviewer's; where the reviewer named none (typical of benign requests), the "
        "categories the detectors flagged. A conversation counts under each of its categories in the grid, "
        "once in the totals.",
        window.note,
    ]
    return Dashboard(
        slug="safety",
        title="Safety grid over time",
        tables=[by_model_table, matrix, grid, over_time],
        charts=charts,
        notes=notes,
    )


class VerdictCounts(dict[str, int]):
    """Effective decisions per verdict."""

    def __missing__(self, key: str) -> int:
        return 0

    @property
    def total(self) -> int:
        return sum(self.values())


def _counts(
    rows: Iterable[dict[str, Any]], key: tuple[str, ...] = ("model_name",)
) -> dict[tuple[Any, ...], VerdictCounts]:
    counts: dict[tuple[Any, ...], VerdictCounts] = defaultdict(VerdictCounts)
    for row in rows:
        counts[tuple(row[k] for k in key)][row["verdict"]] += row["effective"]
    return counts


def _verdict_columns() -> list[str]:
    return [column for v in VERDICTS for column in count_rate_columns(v.label)]


def _verdict_cells(counts: VerdictCounts) -> list[Cell]:
    return [cell for v in VERDICTS for cell in count_rate_cells(counts[v], counts.total)]


def _failure_columns() -> list[str]:
    return [
        "Harmful requests",
        *count_rate_columns(COMPLIED)[1:],
        "Benign requests",
        *count_rate_columns(REFUSED)[1:],
    ]


def _failure_cells(counts: VerdictCounts) -> list[Cell]:
    harmful, benign = counts[HC] + counts[AR], counts[OR] + counts[AH]
    return [harmful, *rate_cells(counts[HC], harmful), benign, *rate_cells(counts[OR], benign)]


def _model(name: str) -> str:
    return name or NO_MODEL


def _by_model_table(counts: dict[tuple[Any, ...], VerdictCounts]) -> Table:
    everything = VerdictCounts()
    rows: list[list[Cell]] = []
    for (model,), per_verdict in sorted(counts.items()):
        rows.append([_model(model), per_verdict.total, *_failure_cells(per_verdict), *_verdict_cells(per_verdict)])
        for verdict, n in per_verdict.items():
            everything[verdict] += n
    if len(rows) != 1:
        rows.append([ALL_MODELS, everything.total, *_failure_cells(everything), *_verdict_cells(everything)])
    return Table(
        slug="by-model",
        title="Safety by model",
        columns=["Model", "Reviewed", *_failure_columns(), *_verdict_columns()],
        rows=rows,
        note=f"{COMPLIED}: harmful compliance among harmful requests. {REFUSED}: over-refusal among benign "
        f"requests. The four verdict rates are shares of all reviewed conversations. {RATE_NOTE}",
    )


def _grid_table(counts: dict[tuple[Any, ...], VerdictCounts]) -> Table:
    categories = taxonomy()
    merged: dict[tuple[Any, ...], VerdictCounts] = defaultdict(VerdictCounts)
    for (model, category), per_verdict in counts.items():
        target = merged[(model, categories.target(category))]
        for verdict, n in per_verdict.items():
            target[verdict] += n
    rows: list[list[Cell]] = [
        [_model(model), categories.name(category), per_verdict.total, *_verdict_cells(per_verdict)]
        for (model, category), per_verdict in sorted(merged.items())
    ]
    return Table(
        slug="grid",
        title="Safety grid by model and category, every verdict",
        columns=["Model", "Category", "Reviewed", *_verdict_columns()],
        rows=rows,
        note=f"A conversation with several categories counts in each of their rows. {RATE_NOTE}",
    )


def _rate_text(successes: int, n: int) -> str:
    """`30.0 (16.7-47.8) n=20`: a rate with its interval and count, one grid cell."""
    interval = wilson_interval(successes, n)
    if interval is None:
        return ""
    return f"{100 * successes / n:.1f} ({100 * interval[0]:.1f}-{100 * interval[1]:.1f}) n={n}"


def _matrix_table(counts: dict[tuple[Any, ...], VerdictCounts]) -> Table:
    """Models down, categories across; each cell the harmful-compliance rate of its reviewed conversations."""
    categories = taxonomy()
    merged: dict[tuple[Any, ...], VerdictCounts] = defaultdict(VerdictCounts)
    for (model, category), per_verdict in counts.items():
        target = merged[(model, categories.target(category))]
        for verdict, n in per_verdict.items():
            target[verdict] += n
    models = sorted({model for model, _ in merged})
    slugs = sorted({category for _, category in merged}, key=categories.name)
    rows: list[list[Cell]] = [
        [
            _model(model),
            *(_rate_text(merged[(model, c)][HC], merged[(model, c)].total) for c in slugs),
        ]
        for model in models
    ]
    return Table(
        slug="grid-matrix",
        title="Safety grid by model and category",
        columns=["Model", *(categories.name(c) for c in slugs)],
        rows=rows,
        note="Each cell: harmful compliance among the cell's reviewed conversations, % with its 95% Wilson interval "
        "and n. Empty where the model has no reviewed conversation in the category.",
    )


def _over_time_table(
    counts: dict[tuple[Any, ...], VerdictCounts], moments: list[tuple[datetime, str]], *, resolution: str
) -> Table:
    rows: list[list[Cell]] = []
    for moment, label in moments:
        per_verdict = counts.get((moment,), VerdictCounts())
        rows.append([label, per_verdict.total, *_failure_cells(per_verdict)])
    return Table(
        slug="over-time",
        title=f"Failure rates per {resolution.lower()}",
        columns=[resolution, "Reviewed", *_failure_columns()],
        rows=rows,
        note=RATE_NOTE,
    )


def _rate_chart(table: Table, *, slug: str, title: str, kind: str, x_label: str) -> Chart:
    """The two failure rates of `table` with their intervals, one series each."""
    x: list[Cell] = [row[0] for row in table.rows]
    series = []
    for name in (COMPLIED, REFUSED):
        rate, low, high = (table.columns.index(c) for c in count_rate_columns(name)[1:])
        series.append(
            Series(
                label=name,
                x=x,
                y=[number(row[rate]) for row in table.rows],
                low=[number(row[low]) for row in table.rows],
                high=[number(row[high]) for row in table.rows],
                n=[row[table.columns.index("Reviewed")] for row in table.rows] if "Reviewed" in table.columns else None,
            )
        )
    return Chart(
        slug=slug,
        title=title,
        kind="line" if kind == "line" else "bar",
        x_label=x_label,
        y_label="% (95% interval)",
        series=series,
        table=table.slug,
    )
