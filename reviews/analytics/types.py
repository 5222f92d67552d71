"""What an analytics dashboard hands to the page: tables (also served as CSV) and charts.

The queries (reviews/analytics/) fill these in; the views and templates only render them,
so every figure on a page is a figure in a table, and every table downloads as CSV unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Cell = str | int | float | None


@dataclass(frozen=True)
class AnalyticsFilters:
    """The page's filter bar; None means "all". `reviewer_id` scopes a reviewer to their own numbers."""

    start: datetime
    end: datetime
    queue: str | None = None  # Queue.slug
    source: str | None = None  # Source.name
    category: str | None = None  # Category.slug
    model: str | None = None  # Conversation.model_name
    reviewer_id: int | None = None


@dataclass(frozen=True)
class Table:
    slug: str  # unique within a dashboard; the CSV download names it
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""


@dataclass(frozen=True)
class Series:
    label: str
    x: list[Cell]
    y: list[float | None]
    low: list[float | None] | None = None  # 95% interval, when the figure has one
    high: list[float | None] | None = None
    n: list[Cell] | None = None  # items behind each point: shown on the chart, estimates from few drawn faded
    estimate: bool = True  # False for counts: a count is its own n, exact at any size, never faded


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    kind: Literal["line", "bar", "scatter"]
    x_label: str
    y_label: str
    series: list[Series]
    table: str = ""  # slug of the table that holds the same figures (the accessible reading of the chart)
    empty: str = "Nothing to chart in this range."  # shown instead of blank axes when no series has a value
    diagonal: bool = False  # draw y = x (a reliability diagram's perfect calibration), both axes 0..100

    @property
    def is_empty(self) -> bool:
        return not any(value is not None for series in self.series for value in series.y)


@dataclass(frozen=True)
class Dashboard:
    slug: str
    title: str
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, slug: str) -> Table | None:
        return next((t for t in self.tables if t.slug == slug), None)
