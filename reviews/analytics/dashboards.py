"""The dashboards by slug, in page order, and `dashboard_build`, the one entry point for views."""

from __future__ import annotations

from collections.abc import Callable

from reviews.analytics.model_quality import model_quality
from reviews.analytics.monitors import monitors
from reviews.analytics.queue_health import queue_health
from reviews.analytics.reviewers import reviewers
from reviews.analytics.safety import safety
from reviews.analytics.types import AnalyticsFilters, Dashboard

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
