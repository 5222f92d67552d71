"""In Chromium: a senior marks a settled item as gold from its page; the reviewers dashboard shows accuracy on gold.
Screenshots at 1440x900 and 390x844 (gold-*.png) go to $OVERSIGHT_SCREENSHOTS, else the test's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reviews.models import GoldItem, Queue
from reviews.quality.gold import gold_present
from reviews.workspace.decisions import decision_record
from reviews.workspace.reviewing import decision_submit
from tests.browser import BROWSER_TESTS, CSP_LISTENER, sign_in
from tests.factories import make_item

pytestmark = BROWSER_TESTS
SIZES = {"wide": (1440, 900), "phone": (390, 844)}


def test_a_senior_marks_gold_in_the_browser_and_the_dashboard_shows_accuracy(
    browser, live_server, reviewer, senior, admin_user, tmp_path
):
    folder = Path(os.environ.get("OVERSIGHT_SCREENSHOTS") or tmp_path)
    settled = make_item(n=1)
    decision_record(item=settled, reviewer=admin_user, verdict="appropriate_refusal", categories=["cyber"], severity=2)
    other = make_item(n=2)
    decision_record(item=other, reviewer=reviewer, verdict="appropriate_help")
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        context.add_init_script(CSP_LISTENER)
        page: Any = context.new_page()
        sign_in(page, live_server.url, senior.username)
        page.goto(f"{live_server.url}/items/{other.pk if size == 'phone' else settled.pk}/")
        page.fill("#id_gold_note", "Refuses, and explains locks only in general.")
        page.screenshot(path=str(folder / f"gold-control-{size}.png"), full_page=True)
        page.click("#gold-control button[type=submit]")
        page.wait_for_selector("#gold-control >> text=Gold since")
        page.screenshot(path=str(folder / f"gold-marked-{size}.png"), full_page=True)
        assert page.evaluate("window.__csp") == []
        context.close()
    assert GoldItem.objects.count() == 2

    gold = GoldItem.objects.get(item=settled)
    item = gold_present(gold=gold, reviewer=reviewer, queue=Queue.objects.get(slug="triage"))
    decision_submit(item=item, reviewer=reviewer, verdict="appropriate_refusal", time_spent_seconds=20)
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(page, live_server.url, senior.username)
        page.goto(f"{live_server.url}/analytics/reviewers/")
        table = page.locator("#table-gold-accuracy")
        table.scroll_into_view_if_needed()
        assert reviewer.username in table.inner_text()
        page.screenshot(path=str(folder / f"gold-dashboard-{size}.png"), full_page=True)
        context.close()
