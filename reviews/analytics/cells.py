"""Table cells: rates as percentages with their 95% Wilson interval, numbers kept numbers for the CSV."""

from __future__ import annotations

from datetime import datetime

from reviews.analytics.stats import proportion, weighted_proportion, wilson_interval
from reviews.analytics.types import Cell

RATE_NOTE = "Rates are percentages with a 95% Wilson score interval (low, high); empty where nothing was counted."


def pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def rate_columns(name: str) -> list[str]:
    return [f"{name} %", f"{name} % low", f"{name} % high"]


def rate_cells(successes: int, n: int) -> list[Cell]:
    """[rate %, low %, high %] of successes out of n."""
    interval = wilson_interval(successes, n)
    low, high = interval if interval else (None, None)
    return [pct(proportion(successes, n)), pct(low), pct(high)]


def weighted_rate_cells(hits: float, total: float, total_sq: float) -> list[Cell]:
    """[rate %, low %, high %] of a weighted share (stats.weighted_proportion)."""
    estimate = weighted_proportion(hits, total, total_sq)
    return [pct(value) for value in estimate] if estimate else [None, None, None]


def count_rate_columns(name: str) -> list[str]:
    return [name, *rate_columns(name)]


def count_rate_cells(successes: int, n: int) -> list[Cell]:
    return [successes, *rate_cells(successes, n)]


def when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def number(cell: Cell) -> float | None:
    """A cell as a chart value: numbers as floats, anything else (an empty cell) as a gap."""
    return float(cell) if isinstance(cell, int | float) else None
