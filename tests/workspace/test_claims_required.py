"""Deciding, skipping and escalating need the caller's own live claim; only the holder renews a lease; the
hard-limit daily cap holds on every path (claim, direct open, decide)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reviews.models import AuditAction, AuditEvent, Decision, Escalation, Queue, ReviewItem
from tests.factories import DECISION, HX, claim, make_item, page

pytestmark = pytest.mark.django_db

GRAPHIC = [{"role": "user", "content": "describe the attack"}, {"role": "assistant", "content": "HARD-LIMIT-TEXT"}]


def _post(client: Client, item: ReviewItem, action: str, *, htmx: bool) -> object:
    data = DECISION if action == "decide" else {"reason": "not for me"}
    return client.post(f"/items/{item.pk}/{action}/", data, headers=HX if htmx else {})


def _nothing_recorded(item: ReviewItem) -> None:
    assert not Decision.objects.exists()
    assert not Escalation.objects.exists()
    assert not AuditEvent.objects.filter(action__in=[AuditAction.DECISION, AuditAction.SKIP, AuditAction.ESCALATION])
    item.refresh_from_db()
    assert item.status == "open" and item.reviews_done == 0


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
@pytest.mark.parametrize("action", ["decide", "skip", "escalate"])
def test_acting_on_an_unclaimed_item_is_409_and_records_nothing(client, reviewer, action, htmx):
    item = make_item()
    client.force_login(reviewer)

    response = _post(client, item, action, htmx=htmx)

    assert response.status_code == 409
    assert "You have not claimed this item" in page(response)
    _nothing_recorded(item)
    item.refresh_from_db()
    assert item.claimed_by is None


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
@pytest.mark.parametrize("action", ["decide", "skip", "escalate"])
def test_acting_on_an_item_someone_else_holds_is_409_and_records_nothing(client, reviewer, senior, action, htmx):
    item = make_item()
    other = Client()
    other.force_login(senior)
    assert claim(other) == item
    client.force_login(reviewer)

    response = _post(client, item, action, htmx=htmx)

    assert response.status_code == 409
    assert "given to another reviewer" in page(response)
    _nothing_recorded(item)
    item.refresh_from_db()
    assert item.claimed_by == senior


@pytest.mark.parametrize("action", ["decide", "skip", "escalate"])
def test_acting_after_your_own_lease_ran_out_is_409_and_records_nothing(client, reviewer, action):
    item = make_item()
    client.force_login(reviewer)
    assert claim(client) == item
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    response = _post(client, item, action, htmx=True)

    assert response.status_code == 409
    assert "Your lease on this item ran out" in page(response)
    _nothing_recorded(item)


def test_an_unclaimed_decision_cannot_jump_the_claim_order_or_the_recent_skip(client, reviewer):
    """The reported case: the decision went to an item the reviewer had just skipped, past a higher one."""
    skipped = make_item(n=1, priority=1)
    make_item(n=2, priority=9)
    client.force_login(reviewer)
    AuditEvent.objects.create(actor=reviewer, action=AuditAction.SKIP, target_type="reviews.reviewitem",
                              target_id=str(skipped.pk), data={"reason": "r"})  # fmt: skip

    response = client.post(f"/items/{skipped.pk}/decide/", DECISION, headers=HX)

    assert response.status_code == 409
    assert not Decision.objects.exists()


def test_renewing_someone_elses_expired_lease_is_refused_and_takes_nothing(client, reviewer, senior):
    item = make_item()
    other = Client()
    other.force_login(senior)
    assert claim(other) == item
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(reviewer)

    response = client.post(f"/items/{item.pk}/renew/", headers=HX)

    assert response.status_code == 409
    item.refresh_from_db()
    assert item.claimed_by == senior and item.lease_expires_at < timezone.now()


def test_renewing_an_unclaimed_item_is_refused_and_takes_nothing(client, reviewer):
    item = make_item()
    client.force_login(reviewer)

    response = client.post(f"/items/{item.pk}/renew/", headers=HX)

    assert response.status_code == 409
    item.refresh_from_db()
    assert item.claimed_by is None and item.lease_expires_at is None


def test_the_holder_renews_a_live_lease(client, reviewer):
    item = make_item()
    client.force_login(reviewer)
    claim(client)
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=5))

    response = client.post(f"/items/{item.pk}/renew/", headers=HX)

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.lease_expires_at > timezone.now() + timedelta(seconds=60)


# --- The hard-limit daily cap on every path -------------------------------------------------------------------


def _hard(n: int, priority: float = 0.0) -> ReviewItem:
    return make_item(n=n, priority=priority, messages=GRAPHIC, category="violent-crime", message_index=1)


def _reach_the_cap(client: Client, reviewer: object) -> None:
    """Cap 1 in triage, and one hard-limit item decided today."""
    Queue.objects.filter(slug="triage").update(hard_limit_daily_cap=1)
    first = _hard(100, priority=50)
    assert claim(client) == first
    assert client.post(f"/items/{first.pk}/decide/", DECISION).status_code == 302


def test_the_daily_cap_holds_when_claiming(client, reviewer):
    client.force_login(reviewer)
    _reach_the_cap(client, reviewer)
    _hard(1, priority=9)

    assert claim(client) is None


def test_the_daily_cap_holds_when_opening_a_hard_limit_item_directly(client, reviewer):
    client.force_login(reviewer)
    _reach_the_cap(client, reviewer)
    hard = _hard(1, priority=9)

    response = client.get(f"/items/{hard.pk}/")

    assert response.status_code == 403
    assert "HARD-LIMIT-TEXT" not in page(response)
    assert "daily cap" in page(response)


def test_the_daily_cap_holds_when_deciding_a_hard_limit_item_claimed_before_it(client, reviewer):
    """Claimed under the cap, which another decision (in another queue) then reached: the decision is refused."""
    client.force_login(reviewer)
    Queue.objects.filter(slug="triage").update(hard_limit_daily_cap=1)
    held = _hard(1, priority=9)
    assert claim(client) == held
    elsewhere = _hard(2, priority=9)
    ReviewItem.objects.filter(pk=elsewhere.pk).update(queue=Queue.objects.get(slug="calibration"))
    assert claim(client, "calibration").pk == elsewhere.pk
    assert client.post(f"/items/{elsewhere.pk}/decide/", DECISION).status_code == 302

    response = client.post(f"/items/{held.pk}/decide/", DECISION, headers=HX)

    assert response.status_code == 409
    assert "daily cap" in page(response)
    assert not Decision.objects.filter(item=held).exists()


def test_a_soft_limit_item_is_decided_past_the_cap(client, reviewer):
    client.force_login(reviewer)
    _reach_the_cap(client, reviewer)
    soft = make_item(n=1)
    assert claim(client) == soft

    assert client.post(f"/items/{soft.pk}/decide/", DECISION).status_code == 302
    assert Decision.objects.filter(item=soft).exists()
