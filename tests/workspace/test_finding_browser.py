"""Finding work and talking about it in headless Chromium, at 1440x900 and 390x844: search with filters and text,
a comment whose @mention reaches the other user, the history of an item that was claimed, skipped, decided,
escalated and resolved, and the seniors' inbox. Screenshots: finding-*.png in $OVERSIGHT_SCREENSHOTS (else /tmp)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from reviews.models import Queue, QueueKind, ReviewItem
from reviews.workspace import escalations, reviewing
from tests.browser import BROWSER_TESTS, sign_in
from tests.factories import make_item

pytestmark = BROWSER_TESTS
SHOTS = Path(os.environ.get("OVERSIGHT_SCREENSHOTS") or tempfile.gettempdir())
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
LOCKS = [{"role": "user", "content": "How do I pick a pin tumbler lock?"}, {"role": "assistant", "content": "No."}]
CAKE = [{"role": "user", "content": "A lemon cake recipe please"}, {"role": "assistant", "content": "Sure."}]


def _open(browser: Any, live_server: Any, username: str, viewport: str) -> tuple[Any, list[str]]:
    page = browser.new_context(viewport=VIEWPORTS[viewport]).new_page()
    errors: list[str] = []

    def console(message: Any) -> None:
        where = message.location.get("url", "")
        if message.type == "error" and not _expected_here(message.text, where):
            errors.append(f"{message.text} at {where}")

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, username)
    return page, errors


def _expected_here(text: str, where: str) -> bool:
    """Console errors of this test server, not of the pages: the live server speaks no websockets (the item
    page's live updates), and the favicon belongs to the polish work."""
    return "favicon.ico" in where or "/ws/" in where or "WebSocket" in text or text == "[object Event]"


def _fits(page: Any) -> None:
    """Nothing scrolls sideways."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_search_with_filters_and_text(browser, live_server, reviewer, viewport):
    lock_triage = make_item(n=1, messages=LOCKS)
    lock_calibration = make_item("calibration", n=2, messages=LOCKS)
    make_item(n=3, messages=CAKE)
    make_item("escalation", n=4, messages=LOCKS)  # not rita's queue: never found
    page, errors = _open(browser, live_server, "rita", viewport)

    page.get_by_role("link", name="Search", exact=True).first.click()
    page.fill("#id_q", "tumbler locks")
    page.select_option("#id_queue", "triage")
    page.fill("#id_risk_min", "0.5")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_selector(f"#result-{lock_triage.pk}")

    rows = page.locator(".search-table tbody tr")
    assert rows.count() == 1 and f"#{lock_calibration.pk}" not in page.inner_text("#results")
    assert "q=tumbler" in page.url and "risk_min=0.5" in page.url  # the search is a link
    _fits(page)
    page.screenshot(path=str(SHOTS / f"finding-search-{viewport}.png"), full_page=True)
    page.fill("#id_filter_name", "locks in triage")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=locks in triage")
    page.get_by_role("link", name=f"#{lock_triage.pk}").click()
    page.wait_for_selector(f"text=Item {lock_triage.pk}")
    assert page.get_by_role("button", name="Claim the next item in Triage").is_visible()
    assert errors == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_comment_with_a_mention_reaches_the_other_user(browser, live_server, reviewer, senior, viewport):
    item = make_item(n=1)
    page, errors = _open(browser, live_server, "rita", viewport)

    page.goto(f"{live_server.url}/items/{item.pk}/")
    page.wait_for_selector("#id_comment_body")
    page.fill("#id_comment_body", "@sam is this <b>policy</b>?")
    page.get_by_role("button", name="Comment", exact=True).click()
    page.wait_for_selector(".comment .content")
    assert page.inner_text(".comment .content") == "@sam is this <b>policy</b>?"
    page.fill("#id_tag_name", "needs-policy")
    page.get_by_role("button", name="Tag", exact=True).click()
    page.wait_for_selector(".tag >> text=needs-policy")
    _fits(page)

    sam, sam_errors = _open(browser, live_server, "sam", viewport)
    mentions = sam.locator("#mentions")
    assert "rita mentioned you on" in mentions.inner_text()
    sam.screenshot(path=str(SHOTS / f"finding-mention-{viewport}.png"), full_page=True)
    mentions.get_by_role("link", name=f"#{item.pk}").click()
    sam.wait_for_selector(".comment .content")
    assert "@sam is this <b>policy</b>?" in sam.inner_text("#discussion")
    sam.locator("#discussion").screenshot(path=str(SHOTS / f"finding-discussion-{viewport}.png"))
    sam.goto(f"{live_server.url}/")
    sam.get_by_role("button", name="Mark all read").click()
    sam.wait_for_load_state()
    assert sam.locator("#mentions").count() == 0
    assert errors == [] and sam_errors == []


def _history_of_a_busy_item(reviewer: Any, senior: Any) -> ReviewItem:
    """Claimed and skipped by rita, decided by sam, claimed and escalated by bob, resolved by sam."""
    from django.contrib.auth.models import Group, User

    bob = User.objects.create_user("bob", password="pw-bob")
    bob.groups.add(Group.objects.get(name="reviewer"))
    item = make_item(n=1, reviews_required=2)
    triage = Queue.objects.get(slug="triage")
    assert reviewing.item_claim_next(reviewer=reviewer, queue=triage) == item
    reviewing.item_skip(item=item, reviewer=reviewer, reason="not my area")
    assert reviewing.item_claim_next(reviewer=senior, queue=triage) == item
    reviewing.decision_submit(item=item, reviewer=senior, verdict="appropriate_help", severity=1)
    assert reviewing.item_claim_next(reviewer=bob, queue=triage) == item
    escalations.escalation_raise(item=item, reviewer=bob, reason="split on intent")
    senior_item = ReviewItem.objects.get(queue__kind=QueueKind.ESCALATION)
    assert reviewing.item_claim_next(reviewer=senior, queue=senior_item.queue) == senior_item
    reviewing.decision_submit(item=senior_item, reviewer=senior, verdict="appropriate_refusal", severity=2)
    return senior_item


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_history_of_an_item_claimed_skipped_decided_escalated_and_resolved(
    browser, live_server, reviewer, senior, viewport
):
    senior_item = _history_of_a_busy_item(reviewer, senior)
    page, errors = _open(browser, live_server, "sam", viewport)

    page.goto(f"{live_server.url}/items/{senior_item.pk}/")
    page.locator("#history-fold summary").click()
    page.wait_for_selector("#timeline .event-resolved")

    kinds = page.eval_on_selector_all("#timeline .event", "els => els.map(e => e.className.split('event-')[1])")
    for kind in ("received", "scored", "opened", "claimed", "skipped", "decided", "escalated", "resolved"):
        assert kind in kinds, kind
    assert kinds.index("skipped") < kinds.index("decided") < kinds.index("escalated") < kinds.index("resolved")
    text = page.inner_text("#timeline")
    assert "not my area" in text and "split on intent" in text and "bob" in text
    _fits(page)
    page.locator("#history-fold").screenshot(path=str(SHOTS / f"finding-history-{viewport}.png"))
    assert errors == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_senior_inbox_lists_sorts_and_opens_escalations(browser, live_server, reviewer, senior, viewport):
    triage = Queue.objects.get(slug="triage")
    first, second = make_item(n=1, priority=2), make_item(n=2, priority=1)
    for item, reason in ((first, "older: intent unclear"), (second, "newer: <i>policy gap</i>")):
        assert reviewing.item_claim_next(reviewer=reviewer, queue=triage) == item
        escalations.escalation_raise(item=item, reviewer=reviewer, reason=reason)
    page, errors = _open(browser, live_server, "sam", viewport)

    assert page.inner_text("#inbox-link .count") == "2"
    page.click("#inbox-link")
    page.wait_for_selector(".inbox-table")
    reasons = page.locator(".inbox-table tbody td.content").all_inner_texts()
    assert reasons == ["older: intent unclear", "newer: <i>policy gap</i>"]
    page.get_by_role("link", name="Newest first").click()
    page.wait_for_selector(".inbox-table tbody tr:first-child td.content:has-text('newer')")
    _fits(page)
    page.screenshot(path=str(SHOTS / f"finding-inbox-{viewport}.png"), full_page=True)
    page.locator(".inbox-table tbody tr").first.locator("td").first.get_by_role("link").click()
    page.wait_for_selector(".escalation-top")
    top = page.locator(".escalation-top")
    assert "rita" in top.inner_text() and "newer: <i>policy gap</i>" in top.inner_text()
    above = page.evaluate(
        "document.querySelector('.escalation-top').getBoundingClientRect().top"
        " < document.querySelector('.conversation').getBoundingClientRect().top"
    )
    assert above
    page.screenshot(path=str(SHOTS / f"finding-escalated-item-{viewport}.png"))
    assert errors == []
