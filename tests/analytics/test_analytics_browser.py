"""Analytics dashboards in headless Debian Chromium: charts drawn, no CSP violations, filters swap in place,
and every CSV download holds exactly the cells of the table on the page.

Needs Chromium at /usr/bin/chromium and the `playwright` package; skipped without them.
"""

from __future__ import annotations

import csv
from typing import Any

import pytest

from reviews.analytics.dashboards import DASHBOARDS
from tests.browser import BROWSER_TESTS, CSP_LISTENER, sign_in
from tests.factories import seed_analytics, unquote

pytestmark = BROWSER_TESTS

# Per canvas: whether Chart.js holds a chart for it, how many pixels it painted, and how many points it plots.
CANVASES = """
() => Array.from(document.querySelectorAll("#analytics-results canvas[data-chart]")).map((canvas) => {
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  const points = chart ? chart.data.datasets.reduce((n, d) => n + d.data.filter((v) => v !== null).length, 0) : 0;
  return {slug: canvas.dataset.chartSlug, chart: Boolean(chart), painted, points, label: canvas.ariaLabel};
})
"""
DOWNLOAD_PACE_MS = 120
TABLE_CELLS = """
(id) => Array.from(document.getElementById(id).rows)
  .filter((row) => !row.classList.contains("empty"))
  .map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()))
"""


@pytest.fixture
def analytics_data(reviewer: Any, senior: Any) -> None:
    seed_analytics(reviewer, senior)


class Watch:
    """Console errors and uncaught exceptions on the analytics pages (the queues page's live socket has no
    ASGI server under live_server, so its errors are not ours to count)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda message: self._add(page, message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self._add(page, str(error)))

    def _add(self, page: Any, text: str) -> None:
        if "/analytics/" in page.url:
            self.errors.append(text)


def _login(browser: Any, live_server: Any, username: str) -> tuple[Any, Watch]:
    page = browser.new_context(accept_downloads=True).new_page()
    page.add_init_script(CSP_LISTENER)
    watch = Watch(page)
    sign_in(page, live_server.url, username)
    return page, watch


def _charts_drawn(page: Any) -> list[dict[str, Any]]:
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#analytics-results canvas[data-chart]'))"
        ".every((c) => c.dataset.drawn === 'true')"
    )
    return page.evaluate(CANVASES)


def test_every_dashboard_draws_its_charts_and_downloads_its_tables(browser, live_server, admin_user, analytics_data):
    page, watch = _login(browser, live_server, "ada")

    for name in DASHBOARDS:
        page.goto(f"{live_server.url}/analytics/{name}/")
        canvases = _charts_drawn(page)

        assert canvases, f"{name} has charts"
        for canvas in canvases:
            assert canvas["chart"] and canvas["painted"] > 500, f"{name}: {canvas['slug']} is drawn"
            assert "The figures are in the table" in canvas["label"]
        assert any(canvas["points"] for canvas in canvases), f"{name} plots the seeded data"

        links = page.locator("#analytics-results a", has_text="Download CSV")
        assert links.count() == page.locator("#analytics-results table.data-table").count() > 0
        for i in range(links.count()):
            link = links.nth(i)
            table_id = link.locator("xpath=ancestor::section[1]//table").get_attribute("id")
            on_page = page.evaluate(TABLE_CELLS, table_id)
            # Chromium starts at most ten downloads a second from one frame and drops the rest without an event; a
            # person does not click that fast, the test waits as long (the reviewers dashboard has eleven tables).
            page.wait_for_timeout(DOWNLOAD_PACE_MS)
            with page.expect_download() as download:
                link.click()
            with open(download.value.path(), newline="", encoding="utf-8") as handle:
                rows = [[unquote(cell) for cell in row] for row in csv.reader(handle)]
            assert rows == on_page, f"{name}: {table_id}"
            download.value.delete()
            assert download.value.suggested_filename.startswith(f"{name}-{table_id.removeprefix('table-')}-")

    assert page.evaluate("window.__csp") == []
    assert watch.errors == []


def test_changing_a_filter_swaps_the_results_without_a_reload(browser, live_server, admin_user, analytics_data):
    page, watch = _login(browser, live_server, "ada")
    page.goto(f"{live_server.url}/analytics/queue-health/")
    before = _charts_drawn(page)
    page.evaluate("window.__notReloaded = true")

    with page.expect_response(lambda response: "queue=triage" in response.url):
        page.select_option("#id_queue", "triage")
    page.wait_for_function("() => document.querySelector('#analytics-results a[href*=\"queue=triage\"]')")
    after = _charts_drawn(page)

    assert page.evaluate("window.__notReloaded") is True
    assert "queue=triage" in page.url  # pushed: the filtered view is a shareable URL
    assert [c["slug"] for c in after] == [c["slug"] for c in before] and all(c["chart"] for c in after)
    queues = page.evaluate(TABLE_CELLS, "table-queues")
    assert [row[0] for row in queues[1:]] == ["Triage"]
    assert page.evaluate("window.__csp") == []
    assert watch.errors == []

    # An invalid range answers with the error in place of the results, still without a reload.
    page.fill("#id_end", "2020-01-01")
    page.click("#analytics-filters button[type=submit]")
    page.wait_for_selector("#filter-errors")
    assert "The end date must be on or after the start date." in page.inner_text("#filter-errors")
    assert page.evaluate("window.__notReloaded") is True


SCALES = """
() => Array.from(document.querySelectorAll("#analytics-results canvas[data-chart]")).map((canvas) => {
  const chart = Chart.getChart(canvas);
  return {
    slug: canvas.dataset.chartSlug,
    yMin: chart.scales.y.min,
    xMin: chart.scales.x.type === "linear" ? chart.scales.x.min : null,
    xMax: chart.scales.x.type === "linear" ? chart.scales.x.max : null,
    yMax: chart.scales.y.max,
    lines: chart.data.datasets.map((d) => d.label),
  };
})
"""


def test_rates_start_at_zero_and_the_reliability_diagram_draws_its_diagonal(
    browser, live_server, admin_user, analytics_data
):
    page, watch = _login(browser, live_server, "ada")

    for name in DASHBOARDS:
        page.goto(f"{live_server.url}/analytics/{name}/")
        _charts_drawn(page)
        for chart in page.evaluate(SCALES):
            assert chart["yMin"] == 0, f"{name}: {chart['slug']} starts at {chart['yMin']}"
    page.goto(f"{live_server.url}/analytics/model/")
    _charts_drawn(page)
    [reliability] = [c for c in page.evaluate(SCALES) if c["slug"] == "reliability"]
    assert (reliability["xMin"], reliability["xMax"], reliability["yMax"]) == (0, 100, 100)
    assert "Perfect calibration" in reliability["lines"]
    assert watch.errors == []


def test_an_empty_chart_is_a_message_not_blank_axes(browser, live_server, admin_user):
    page, watch = _login(browser, live_server, "ada")

    page.goto(f"{live_server.url}/analytics/reviewers/")

    box = page.locator("#chart-alpha-by-queue")
    assert box.locator("canvas").count() == 0
    assert box.locator(".chart-empty").inner_text() == "No double-reviewed items in this range."
    assert watch.errors == []


COUNTS = """
() => Array.from(document.querySelectorAll("#analytics-results canvas[data-chart]")).flatMap((canvas) => {
  const chart = Chart.getChart(canvas);
  const tooltip = chart.options.plugins.tooltip.callbacks.afterLabel;
  return chart.data.datasets.filter((d) => !d.reference).map((d) => {
    const values = d.data.map((v) => (v !== null && typeof v === "object" ? v.y : v));
    return {
      slug: canvas.dataset.chartSlug,
      series: d.label,
      values,
      n: d.n || null,
      estimate: d.estimate,
      low: d.low || null,
      high: d.high || null,
      faded: values.map((v, j) => (d.pointBackgroundColor || [])[j] === "rgba(156, 163, 175, 0.35)"),
      tooltips: values.map((v, j) => tooltip({dataset: d, dataIndex: j})),
      labelled: chart.config.plugins.some((p) => p.id === "oversightCounts"),
    };
  });
})
"""


def test_every_point_of_every_chart_shows_its_n_and_estimates_below_ten_fade_with_their_interval(
    browser, live_server, admin_user, analytics_data
):
    page, watch = _login(browser, live_server, "ada")
    seen = faded = 0
    for name in DASHBOARDS:
        page.goto(f"{live_server.url}/analytics/{name}/")
        _charts_drawn(page)
        for series in page.evaluate(COUNTS):
            where = f"{name}: {series['slug']} / {series['series']}"
            assert series["labelled"], where
            assert series["n"] is not None and len(series["n"]) == len(series["values"]), where
            for j, value in enumerate(series["values"]):
                if value is None:
                    continue
                seen += 1
                n = series["n"][j]
                assert n is not None and series["tooltips"][j].startswith(f"n={n}"), where
                few = series["estimate"] and n < 10
                assert series["faded"][j] == few, f"{where} at {j}: n={n}"
                if few:
                    faded += 1
                if series["estimate"]:
                    assert series["low"][j] is not None and series["high"][j] is not None, f"{where} at {j}"
    assert seen and faded, (seen, faded)  # the seeded data has points, some from fewer than ten items
    assert watch.errors == []


def test_wide_tables_scroll_inside_their_box_on_a_desktop_and_a_phone(browser, live_server, admin_user, analytics_data):
    page, watch = _login(browser, live_server, "ada")
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/analytics/safety/")
        _charts_drawn(page)
        overflow = page.evaluate(
            """() => ({
              boxes: Array.from(document.querySelectorAll(".table-scroll")).map(
                (box) => box.getBoundingClientRect().right - document.documentElement.clientWidth),
              page: document.scrollingElement.scrollWidth - window.innerWidth,
              sticky: Array.from(document.querySelectorAll("table.data-table tr > :first-child")).every(
                (cell) => getComputedStyle(cell).position === "sticky"),
            })"""
        )
        assert all(right <= 0 for right in overflow["boxes"]), f"a table box overflows at {width}px"
        assert overflow["page"] <= 0, f"the page scrolls sideways at {width}px"
        assert overflow["sticky"], "the first column stays in view while a table scrolls"
    assert watch.errors == []
