"""Analytics dashboards: the filter bar, charts drawn from each dashboard's series, tables, CSV downloads.

The figures come from `reviews.analytics`; these views only check access, parse the filters and
render. Seniors and admins see every dashboard; a plain reviewer sees queue health and the reviewers
dashboard, scoped to their own numbers by `AnalyticsFilters.reviewer_id`.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from reviews.analytics.dashboards import DASHBOARDS, dashboard_build
from reviews.analytics.forms import AnalyticsFilterForm
from reviews.analytics.rollup import analytics_rollup_if_stale
from reviews.analytics.types import AnalyticsFilters, Cell, Chart, Dashboard, Table
from reviews.htmx import HtmxRequest, render_region
from reviews.permissions import ADMIN, SENIOR, reviewer_required, user_roles

PAGE = "reviews/analytics/dashboard.html"
REVIEWER_DASHBOARDS = ("queue-health", "reviewers")
# A spreadsheet runs a cell starting with one of these as a formula; names and labels come from outside.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ...and some skip leading whitespace first (newlines, spaces, no-break spaces) before deciding.
_FORMULA_SIGNS = ("=", "+", "-", "@")


def dashboards_for(user: Any) -> list[str]:
    """The dashboards `user` may open, in menu order."""
    if user_roles(user) & {ADMIN, SENIOR}:
        return list(DASHBOARDS)
    return [slug for slug in DASHBOARDS if slug in REVIEWER_DASHBOARDS]


def _open(request: HttpRequest, name: str) -> tuple[AnalyticsFilterForm, AnalyticsFilters | None, bool]:
    """Access check and filters: 404 for an unknown dashboard, 403 for one the user may not see."""
    if name not in DASHBOARDS:
        raise Http404("No such dashboard.")
    visible = dashboards_for(request.user)
    if name not in visible:
        raise PermissionDenied
    scoped = len(visible) < len(DASHBOARDS)  # a plain reviewer: their own numbers only
    analytics_rollup_if_stale()
    form = AnalyticsFilterForm(request.GET)
    filters = form.filters(reviewer_id=request.user.pk if scoped else None) if form.is_valid() else None
    return form, filters, scoped


@reviewer_required
@require_GET
def analytics(request: HttpRequest) -> HttpResponse:
    query = request.GET.urlencode()
    target = reverse("reviews:analytics-dashboard", args=[dashboards_for(request.user)[0]])
    return redirect(f"{target}?{query}" if query else target)


@reviewer_required
@require_GET
def analytics_dashboard(request: HtmxRequest, name: str) -> HttpResponse:
    form, filters, scoped = _open(request, name)
    dashboard = dashboard_build(name=name, filters=filters) if filters else None
    query = _query(form) if filters else request.GET.urlencode()
    context = {
        "name": name,
        "title": DASHBOARDS[name],
        "form": form,
        "scoped": scoped,
        "tabs": [(slug, DASHBOARDS[slug]) for slug in dashboards_for(request.user)],
        "query": query,
        "dashboard": dashboard,
        "tables": [_table_view(name, table, query) for table in dashboard.tables] if dashboard else [],
        "charts": [_chart_view(chart, dashboard) for chart in dashboard.charts] if dashboard else [],
    }
    return render_region(request, PAGE, "analytics-results", context, status=200 if dashboard else 422)


@reviewer_required
@require_GET
def analytics_csv(request: HttpRequest, name: str, table: str) -> HttpResponse:
    form, filters, _ = _open(request, name)
    if filters is None:
        errors = "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in form.errors.items())
        return HttpResponseBadRequest(f"Invalid filters: {errors}", content_type="text/plain; charset=utf-8")
    found = dashboard_build(name=name, filters=filters).table(table)
    if found is None:
        raise Http404("No such table on this dashboard.")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{table}-{start:%Y-%m-%d}-{end:%Y-%m-%d}.csv"'
    writer = csv.writer(response)
    writer.writerow([csv_safe(column) for column in found.columns])
    writer.writerows([csv_cell(cell) for cell in row] for row in found.rows)
    return response


def cell_text(cell: Cell) -> str:
    """How a cell reads, on the page and in the CSV alike, so the two always match."""
    if cell is None:
        return ""
    if isinstance(cell, float):
        return str(round(cell, 4)) if math.isfinite(cell) else ""
    return str(cell)


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet may run this text: a formula sign first, or after any leading whitespace."""
    return text.startswith(FORMULA_STARTS) or text.lstrip().startswith(_FORMULA_SIGNS)


def csv_safe(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading quote, which makes it plain text there."""
    return "'" + text if runs_as_formula(text) else text


def csv_cell(cell: Cell) -> str:
    # Numbers stay numbers (a negative one is no formula); only text, which may come from outside, is guarded.
    return csv_safe(cell) if isinstance(cell, str) else cell_text(cell)


def _query(form: AnalyticsFilterForm) -> str:
    """The filters as a canonical query string (explicit dates), carried to CSV links and the other dashboards."""
    data = form.cleaned_data
    params = {"start": data["start"].isoformat(), "end": data["end"].isoformat()}
    params.update({key: data[key] for key in ("queue", "source", "category", "model") if data[key]})
    return urlencode(params)


@dataclass(frozen=True)
class TableView:
    table: Table
    headers: list[tuple[str, bool]]  # (column, holds numbers): numbers align right, headings with them
    rows: list[list[tuple[str, bool]]]  # (text, is a number)
    csv_url: str


def _table_view(name: str, table: Table, query: str) -> TableView:
    rows = [[(cell_text(cell), isinstance(cell, int | float)) for cell in row] for row in table.rows]
    headers = [
        (column, _numeric([row[i] for row in table.rows if i < len(row)])) for i, column in enumerate(table.columns)
    ]
    url = reverse("reviews:analytics-csv", args=[name, table.slug])
    return TableView(table=table, headers=headers, rows=rows, csv_url=f"{url}?{query}")


def _numeric(cells: list[Cell]) -> bool:
    """A column of numbers, some perhaps empty."""
    numbers = [isinstance(cell, int | float) for cell in cells if cell is not None]
    return bool(numbers) and all(numbers)


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: such a figure becomes a gap in the chart."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def _chart_view(chart: Chart, dashboard: Dashboard) -> dict[str, Any]:
    table = dashboard.table(chart.table)
    label = f"Chart: {chart.title}."
    if table is not None:
        label += f" The figures are in the table “{table.title}” below."
    data = _finite(asdict(chart))
    data["table_id"] = f"table-{table.slug}" if table else ""
    return {
        "chart": chart,
        "label": label,
        "json": json.dumps(data, cls=DjangoJSONEncoder),
        "table": table,
        "empty": chart.is_empty,
    }
