"""Wellbeing: blur-by-default text stays hidden until revealed (audited); the daily hard-limit count shows."""

from __future__ import annotations

import pytest
from django.test import Client

from reviews.models import AuditAction, AuditEvent, Category, Queue
from tests.factories import DECISION, HX, claim, make_item, page

pytestmark = pytest.mark.django_db

GRAPHIC = [
    {"role": "user", "content": "describe the attack"},
    {"role": "assistant", "content": "GRAPHIC-DETAIL-TEXT"},
]


def _blurred_item(**kwargs: object):
    # violent-crime is hard-limit and blurred by default in the seeded taxonomy.
    assert Category.objects.get(slug="violent-crime").blur_by_default
    return make_item(messages=GRAPHIC, category="violent-crime", message_index=1, **kwargs)


def test_blurred_turn_is_not_sent_until_revealed(client, reviewer):
    item = _blurred_item()
    client.force_login(reviewer)
    claim(client)

    content = page(client.get(f"/items/{item.pk}/"))

    assert "GRAPHIC-DETAIL-TEXT" not in content
    assert "Hidden by default because of <strong>Violent crime</strong>" in content
    assert "detector input-guardrail (0.62)" in content  # the real reason: which detector, how sure
    assert f"/items/{item.pk}/messages/1/reveal/" in content
    assert "describe the attack" in content  # only the flagged turn: the detectors' fallback score adds nothing


def test_only_the_pinned_turn_is_blurred_when_nothing_else_points_at_the_category(client, reviewer):
    item = _blurred_item()
    item.conversation.scores.update(categories={"violent-crime": 0.1})
    client.force_login(reviewer)
    claim(client)

    content = page(client.get(f"/items/{item.pk}/"))

    assert "describe the attack" in content and "GRAPHIC-DETAIL-TEXT" not in content


def test_reveal_is_a_post_that_is_audited_and_returns_the_turn(client, reviewer):
    item = _blurred_item()
    client.force_login(reviewer)
    claim(client)

    assert client.get(f"/items/{item.pk}/messages/1/reveal/").status_code == 405
    response = client.post(f"/items/{item.pk}/messages/1/reveal/", headers=HX)

    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<li id="message-1"') and "GRAPHIC-DETAIL-TEXT" in fragment
    event = AuditEvent.objects.get(action=AuditAction.REVEAL)
    assert event.actor == reviewer and event.target_id == str(item.conversation_id)
    assert event.data == {"item": item.pk, "message_index": 1}
    # Revealed stays revealed for this reviewer, and only this turn.
    content = page(client.get(f"/items/{item.pk}/"))
    assert "GRAPHIC-DETAIL-TEXT" in content and "Reveal turn" not in content


def test_reveal_of_another_queues_item_is_404_and_not_audited(client, reviewer):
    item = make_item("escalation", messages=GRAPHIC, category="violent-crime", message_index=1)
    client.force_login(reviewer)

    assert client.post(f"/items/{item.pk}/messages/1/reveal/").status_code == 404
    assert client.post("/items/999999/messages/0/reveal/").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_reveal_of_a_turn_that_does_not_exist_is_404(client, reviewer):
    item = _blurred_item()
    client.force_login(reviewer)

    assert client.post(f"/items/{item.pk}/messages/7/reveal/").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_outsider_cannot_reveal(client, outsider):
    item = _blurred_item()
    client.force_login(outsider)

    assert client.post(f"/items/{item.pk}/messages/1/reveal/").status_code == 403


def test_daily_hard_limit_exposure_is_counted_and_shown(client, reviewer):
    first = _blurred_item(n=1, priority=3)
    make_item(n=2, priority=2)  # cyber: a soft limit, not counted
    third = _blurred_item(n=3, priority=1)
    client.force_login(reviewer)
    claim(client)
    assert "Hard-limit items you decided today: <strong>0</strong>" in page(client.get(f"/items/{first.pk}/"))

    client.post(f"/items/{first.pk}/decide/", DECISION, headers=HX)
    second = claim(client)
    response = client.post(f"/items/{second.pk}/decide/", DECISION, headers=HX)

    assert f"Item {third.pk}" in page(response)
    assert "Hard-limit items you decided today: <strong>1</strong>" in page(response)


def test_daily_cap_moves_hard_limit_items_to_other_reviewers(client, reviewer, senior):
    Queue.objects.filter(slug="triage").update(hard_limit_daily_cap=1)
    first = _blurred_item(n=1, priority=9)
    hard = _blurred_item(n=2, priority=8)
    soft = make_item(n=3, priority=1)
    client.force_login(reviewer)
    assert claim(client) == first

    response = client.post(f"/items/{first.pk}/decide/", DECISION, headers=HX)

    assert f"Item {soft.pk}" in page(response)  # the higher-priority hard-limit item is passed over
    assert "<strong>1</strong> of 1 for this queue: from now on it gives you other items" in page(response)
    other = Client()
    other.force_login(senior)
    assert claim(other) == hard


def test_without_a_cap_hard_limit_items_keep_coming(client, reviewer):
    first = _blurred_item(n=1, priority=9)
    hard = _blurred_item(n=2, priority=8)
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{first.pk}/decide/", DECISION, headers=HX)

    assert f"Item {hard.pk}" in page(response)
