"""Analytics pages: who sees which dashboard, the filter bar, htmx fragments and CSV downloads.

The data is real: conversations, flags, scores and decisions made through the services over several days,
with two reviewers deciding the same items. The figures themselves are the service's to test; here we check
that the pages show exactly what `dashboard_build` returns, and that each CSV is the table on the page.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import asdict
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.http import QueryDict
from django.utils import timezone

from reviews.analytics.dashboards import DASHBOARDS, dashboard_build
from reviews.analytics.forms import AnalyticsFilterForm
from reviews.analytics.views import FORMULA_STARTS, cell_text
from reviews.models import (
    Conversation,
    ReviewItem,
    Source,
)
from tests.factories import HOSTILE_MODEL, seed_analytics, unquote

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
ADMIN_ONLY = ["safety", "monitors", "model"]
REVIEWER_VISIBLE = ["queue-health", "reviewers"]


# --- Data -------------------------------------------------------------------------------------------------


@pytest.fixture
def second_reviewer(db: None) -> User:
    user = User.objects.create_user(username="rex", password="pw-rex")
    user.groups.add(Group.objects.get(name="reviewer"))
    return user


@pytest.fixture
def data(reviewer: User, second_reviewer: User) -> list[ReviewItem]:
    return seed_analytics(reviewer, second_reviewer)


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


def default_filters(**query: str) -> AnalyticsFilterForm:
    """The filter form as the page parses it: the last 7 days unless `query` says otherwise."""
    data = QueryDict(mutable=True)
    data.update(query)
    form = AnalyticsFilterForm(data)
    assert form.is_valid(), form.errors
    return form


class TableReader(HTMLParser):
    """The text of every cell of every <table id=...> on a page, by table id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(content: str) -> dict[str, list[list[str]]]:
    reader = TableReader()
    reader.feed(content)
    return reader.tables


def chart_specs(content: str) -> dict[str, Any]:
    """What analytics.js will draw, per chart slug: the JSON in each canvas's data-chart attribute."""
    found = re.findall(r'<canvas [^>]*data-chart-slug="([^"]+)" data-chart="([^"]+)"', content)
    return {slug: json.loads(html.unescape(spec)) for slug, spec in found}


def csv_rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


# --- Access -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin_user", "senior"])
def test_admins_and_seniors_see_every_dashboard_with_its_tables_and_charts(client, request, data, persona):
    client.force_login(request.getfixturevalue(persona))
    filters = default_filters().filters()

    for name, title in DASHBOARDS.items():
        expected = dashboard_build(name=name, filters=filters)
        response = client.get(f"/analytics/{name}/")

        assert response.status_code == 200, name
        content = response.content.decode()
        assert f"<h2>{html.escape(title)}</h2>" in content
        assert expected.tables and expected.charts, f"{name}: every dashboard has tables and charts"
        tables = html_tables(content)
        for table in expected.tables:
            shown = [[cell_text(cell) for cell in row] for row in table.rows] or [["No data for these filters."]]
            assert tables[f"table-{table.slug}"] == [table.columns, *shown], f"{name}/{table.slug}"
            assert f"/analytics/{name}/{table.slug}.csv?" in content
        drawn = chart_specs(content)
        for chart in expected.charts:
            assert drawn[chart.slug]["series"] == [asdict(series) for series in chart.series], f"{name}/{chart.slug}"
            assert drawn[chart.slug]["table_id"] in {f"table-{table.slug}" for table in expected.tables}
        assert content.count("chart.js-4.5.1.umd.min.js") == 1


def test_dashboards_show_the_seeded_activity(client, admin_user, data):
    """Not empty pages: the rollups hold the seeded decisions, and the pages show them."""
    client.force_login(admin_user)

    tables = html_tables(client.get("/analytics/queue-health/").content.decode())

    throughput = {row[0]: row[1] for row in tables["table-reviewer-throughput"][1:]}
    assert throughput == {"rita": "16", "rex": "12"}


def test_reviewer_is_refused_the_admin_only_dashboards_and_their_csv(client, reviewer):
    client.force_login(reviewer)

    for name in ADMIN_ONLY:
        assert client.get(f"/analytics/{name}/").status_code == 403, name
        assert client.get(f"/analytics/{name}/{name}.csv").status_code == 403, name


def test_reviewer_sees_queue_health_and_reviewers_scoped_to_themselves(client, reviewer, data):
    client.force_login(reviewer)

    for name in REVIEWER_VISIBLE:
        response = client.get(f"/analytics/{name}/")

        assert response.status_code == 200
        assert "You see your own numbers here" in page(response)
        tabs = re.findall(r'<nav class="dashboard-tabs".*?</nav>', response.content.decode(), re.S)[0]
        assert [slug for slug in DASHBOARDS if f"/analytics/{slug}/" in tabs] == REVIEWER_VISIBLE


def test_a_reviewer_sees_only_their_own_numbers_where_seniors_see_everyone(client, reviewer, senior, data):
    for name in REVIEWER_VISIBLE:
        client.force_login(senior)
        everyone = page(client.get(f"/analytics/{name}/"))
        client.force_login(reviewer)

        own = page(client.get(f"/analytics/{name}/"))

        assert "<td>rita</td>" in everyone and "<td>rex</td>" in everyone, name
        assert "<td>rita</td>" in own and "rex" not in own, name


def test_anonymous_users_are_sent_to_login(client):
    for url in ["/analytics/", "/analytics/safety/", "/analytics/safety/x.csv"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_outsider_is_refused_analytics(client, outsider):
    client.force_login(outsider)

    for url in ["/analytics/", "/analytics/queue-health/", "/analytics/reviewers/x.csv"]:
        assert client.get(url).status_code == 403, url


def test_unknown_dashboard_is_404(client, admin_user):
    client.force_login(admin_user)

    assert client.get("/analytics/nothing-here/").status_code == 404


def test_index_opens_the_first_dashboard_the_user_may_see(client, reviewer):
    client.force_login(reviewer)

    response = client.get("/analytics/?queue=triage")

    assert response.status_code == 302 and response["Location"] == "/analytics/queue-health/?queue=triage"


def test_nav_shows_analytics_to_people_with_a_role_only(client, reviewer, outsider):
    client.force_login(reviewer)
    assert 'href="/analytics/"' in client.get("/").content.decode()
    client.force_login(outsider)
    assert 'href="/analytics/"' not in client.get("/").content.decode()


# --- Filters ----------------------------------------------------------------------------------------------


def test_filters_default_to_the_last_seven_days(client, admin_user):
    client.force_login(admin_user)
    today = timezone.localdate()

    content = client.get("/analytics/safety/").content.decode()

    assert f'name="start" value="{today - timedelta(days=6):%Y-%m-%d}"' in content
    assert f'name="end" value="{today:%Y-%m-%d}"' in content


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-05-10&end=2026-05-01", "The end date must be on or after the start date."),
        ("start=2024-01-01&end=2025-06-01", "Choose a range of at most 366 days."),
        ("start=2026-02-30", "Enter a valid date."),
        ("start=", "Enter a date."),
        ("queue=no-such-queue", "Select a valid choice."),
        ("end=9999-12-31", "The end date is in the future."),
    ],
)
def test_invalid_filters_show_a_form_error_instead_of_results(client, admin_user, query, message):
    client.force_login(admin_user)

    response = client.get(f"/analytics/safety/?{query}")

    assert response.status_code == 422
    content = page(response)
    assert 'id="filter-errors"' in content and message in content
    assert "<canvas" not in content and "Download CSV" not in content


def test_invalid_filters_refuse_the_csv_with_the_reason(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/analytics/safety/anything.csv?start=2026-05-10&end=2026-05-01")

    assert response.status_code == 400
    assert "The end date must be on or after the start date." in response.content.decode()


def test_htmx_filter_change_returns_only_the_results_region(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/analytics/monitors/?queue=triage", headers=HX)

    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="analytics-results"')
    assert "<html" not in content and 'id="analytics-filters"' not in content
    assert "HX-Request" in response["Vary"]


def test_filters_are_carried_to_csv_links_and_other_dashboards(client, admin_user):
    source = Source.objects.create(name="guardrail", kind="input_guardrail")
    Conversation.objects.create(source=source, external_id="c-1", model_name="assistant-7b", messages=[])
    client.force_login(admin_user)
    today = timezone.localdate()
    start = today - timedelta(days=2)

    content = client.get(f"/analytics/safety/?start={start}&queue=triage&model=assistant-7b").content.decode()

    carried = f"?start={start}&amp;end={today}&amp;queue=triage&amp;model=assistant-7b"
    assert f'href="/analytics/model/{carried}"' in content
    assert re.search(rf'href="/analytics/safety/[\w-]+\.csv{re.escape(carried)}"', content)


def test_page_offers_the_queues_sources_categories_and_models_in_the_database(client, admin_user, data):
    client.force_login(admin_user)

    content = page(client.get("/analytics/queue-health/"))

    for option in ['value="triage"', 'value="cot-monitor"', 'value="fraud"', 'value="assistant-13b"']:
        assert option in content


# --- CSV --------------------------------------------------------------------------------------------------


def test_each_csv_download_equals_the_table_on_the_page(client, admin_user, data):
    client.force_login(admin_user)
    today = timezone.localdate()
    start = today - timedelta(days=3)
    query = f"start={start}&end={today}"

    for name in DASHBOARDS:
        tables = html_tables(client.get(f"/analytics/{name}/?{query}").content.decode())
        expected = dashboard_build(name=name, filters=default_filters(start=str(start)).filters())
        for table in expected.tables:
            response = client.get(f"/analytics/{name}/{table.slug}.csv?{query}")

            assert response.status_code == 200
            assert response["Content-Type"] == "text/csv; charset=utf-8"
            filename = f"{name}-{table.slug}-{start}-{today}.csv"
            assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
            rows = csv_rows(response)
            on_page = tables[f"table-{table.slug}"]
            assert [unquote(cell) for cell in rows[0]] == on_page[0] == table.columns
            assert [[unquote(cell) for cell in row] for row in rows[1:]] == (on_page[1:] if table.rows else [])
            assert len(rows) == len(table.rows) + 1


def test_csv_of_an_unknown_table_is_404(client, admin_user):
    client.force_login(admin_user)

    assert client.get("/analytics/safety/no-such-table.csv").status_code == 404


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted(client, admin_user, data):
    client.force_login(admin_user)
    found = []
    for name in DASHBOARDS:
        for table in dashboard_build(name=name, filters=default_filters().filters()).tables:
            if any(HOSTILE_MODEL in str(cell) for row in table.rows for cell in row):
                found.append((name, table.slug))
    assert found, "the hostile model name appears in some table"

    for name, table in found:
        cells = [cell for row in csv_rows(client.get(f"/analytics/{name}/{table}.csv")) for cell in row]
        assert "'" + HOSTILE_MODEL in cells
        assert HOSTILE_MODEL not in cells
        assert all(_is_number(cell) for cell in cells if cell.startswith(FORMULA_STARTS))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
