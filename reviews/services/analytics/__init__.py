"""Analytics dashboards: each one a Dashboard of tables (also served as CSV) and charts, built from rollups.

`dashboard_build(name=..., filters=...)` is the one entry point for views. Figures over time come from the
rollup tables that `analytics_rollup` (rollup.py) keeps current; the backlog "now" from the open-item
indexes; both stay cheap with millions of decisions (bench/dashboard.py). Access is the caller's to decide;
a build only honours `filters.reviewer_id`, limiting per-reviewer figures to that reviewer.
"""

from __future__ import annotations

from collections.abc import Callable

from reviews.services.analytics.model_quality import model_quality
from reviews.services.analytics.monitors import monitors
from reviews.services.analytics.queue_health import queue_health
from reviews.services.analytics.reviewers import reviewers
from reviews.services.analytics.rollup import analytics_rollup, analytics_rollup_if_stale, rollup_finished_at
from reviews.services.analytics.safety import safety
from reviews.services.analytics.types import AnalyticsFilters, Chart, Dashboard, Series, Table

# Slug -> title, in page order.
DASHBOARDS: dict[str, str] = {
    "queue-health": "Queue health",
    "safety": "Safety grid over time",
    "monitors": "Monitor quality",
    "model": "Rescoring model",
    "reviewers": "Reviewers",
}
_BUILDERS: dict[str, Callable[[AnalyticsFilters], Dashboard]] = {
    "queue-health": queue_health,
    "safety": safety,
    "monitors": monitors,
    "model": model_quality,
    "reviewers": reviewers,
}


def dashboard_build(*, name: str, filters: AnalyticsFilters) -> Dashboard:
    """The dashboard `name` (a DASHBOARDS slug; KeyError otherwise) for the filters."""
    if filters.end <= filters.start:
        raise ValueError("The range must end after it starts.")
    return _BUILDERS[name](filters)


__all__ = [
    "DASHBOARDS",
    "AnalyticsFilters",
    "Chart",
    "Dashboard",
    "Series",
    "Table",
    "analytics_rollup",
    "analytics_rollup_if_stale",
    "dashboard_build",
    "rollup_finished_at",
]
