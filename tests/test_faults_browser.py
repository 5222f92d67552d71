"""A reviewer's browser closes mid-item: nothing is decided, the lease runs out, and the item goes back to the queue.

Headless Debian Chromium against the live server; skipped without /usr/bin/chromium.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from reviews.models import Decision, ItemStatus, Queue
from tests.test_workspace_views import make_item

CHROMIUM = Path("/usr/bin/chromium")
playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

LEASE_SECONDS = 8  # long enough to see the item held, short enough to wait out


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an event loop in this thread; our ORM calls here are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def _reviewer(username: str) -> User:
    user = User.objects.create_user(username=username, password=f"pw-{username}")
    user.groups.add(Group.objects.get(name="reviewer"))
    return user


def _signed_in(browser: Any, live_server: Any, username: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return context, page


def _start_reviewing(page: Any, live_server: Any, queue: Queue) -> None:
    page.goto(f"{live_server.url}/")
    page.locator(f"#queue-{queue.pk}").get_by_role("button", name="Start reviewing").click()
    page.wait_for_selector("#workspace")


def test_item_of_a_closed_browser_returns_to_the_queue_when_its_lease_runs_out(browser, live_server):
    queue = Queue.objects.get(slug="triage")
    queue.lease_seconds = LEASE_SECONDS
    queue.save(update_fields=["lease_seconds"])
    item = make_item(n=1)
    rita, rick = _reviewer("rita"), _reviewer("rick")
    rita_context, rita_page = _signed_in(browser, live_server, "rita")
    rick_context, rick_page = _signed_in(browser, live_server, "rick")

    _start_reviewing(rita_page, live_server, queue)
    rita_page.wait_for_selector(f"text=Item {item.pk}")
    item.refresh_from_db()
    assert item.claimed_by == rita
    rita_context.close()  # the browser goes away mid-item: no decision, no skip, no more renewals

    # While the lease holds, the item is Rita's: Rick is told the queue has nothing for him.
    _start_reviewing(rick_page, live_server, queue)
    rick_page.wait_for_selector("text=Nothing left in this queue")
    item.refresh_from_db()
    assert item.claimed_by == rita and timezone.now() < item.lease_expires_at, "checked too late: raise the lease"

    time.sleep(max(0.0, (item.lease_expires_at - timezone.now()).total_seconds()) + 0.5)
    _start_reviewing(rick_page, live_server, queue)
    rick_page.wait_for_selector(f"text=Item {item.pk}")
    rick_context.close()

    item.refresh_from_db()
    assert item.claimed_by == rick and item.lease_expires_at > timezone.now()
    assert item.status == ItemStatus.OPEN and item.reviews_done == 0
    assert not Decision.objects.filter(item=item).exists()
