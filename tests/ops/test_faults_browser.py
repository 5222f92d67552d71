"""A reviewer's browser closes mid-item: nothing is decided, the lease runs out, and the item goes back to the queue.

Headless Debian Chromium against the live server; skipped without /usr/bin/chromium.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from reviews.models import Decision, ItemStatus, Queue, ReviewItem
from tests.browser import BROWSER_TESTS, sign_in, start_reviewing
from tests.factories import make_item

pytestmark = BROWSER_TESTS

LEASE_SECONDS = 600  # holds however slow the browsers are; the test ends the lease itself


def _reviewer(username: str) -> User:
    user = User.objects.create_user(username=username, password=f"pw-{username}")
    user.groups.add(Group.objects.get(name="reviewer"))
    return user


def _signed_in(browser: Any, live_server: Any, username: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server.url, username)
    return context, page


def _start_reviewing(page: Any, live_server: Any, queue: Queue) -> None:
    page.goto(f"{live_server.url}/")
    start_reviewing(page, queue.pk)


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
    assert item.claimed_by == rita and timezone.now() < item.lease_expires_at

    # The lease runs out: its end moves into the past, as the clock would move it, and nothing renews it.
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    _start_reviewing(rick_page, live_server, queue)
    rick_page.wait_for_selector(f"text=Item {item.pk}")
    rick_context.close()

    item.refresh_from_db()
    assert item.claimed_by == rick and item.lease_expires_at > timezone.now()
    assert item.status == ItemStatus.OPEN and item.reviews_done == 0
    assert not Decision.objects.filter(item=item).exists()
