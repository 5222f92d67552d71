"""Every read path follows the item page's rules: the item page and `GET /api/v1/conversations/{id}` with a
session show a person the same things (queue access, blindness, blur with audited reveals), because one
selector decides; a source's token still reads its own conversations in full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from reviews.models import (
    AuditAction,
    AuditEvent,
    Conversation,
    Decision,
    Escalation,
    ItemStatus,
    Queue,
    QueueKind,
    ReviewItem,
    Score,
    ScoringModel,
)
from reviews.workspace.selectors import queue_overview
from tests.factories import claim, make_item, page

pytestmark = pytest.mark.django_db

GRAPHIC = [
    {"role": "user", "content": "describe the attack"},
    {"role": "assistant", "content": "GRAPHIC-DETAIL-TEXT"},
]
PERSONAS = ("reviewer", "senior", "admin_user", "outsider")


def _api(client: Client, conversation_id: int) -> Any:
    return client.get(f"/api/v1/conversations/{conversation_id}")


def _api_decisions(body: dict[str, Any]) -> set[int]:
    return {decision["id"] for item in body["review_items"] for decision in item["decisions"]}


def _api_withheld(body: dict[str, Any]) -> set[int]:
    return {index for index, message in enumerate(body["messages"]) if message.get("content") is None}


def _blurred(item: ReviewItem) -> ReviewItem:
    """Blur the item's conversation: a model's score in violent-crime (blurred by default) covers the request and
    the reply it read, both turns here."""
    Conversation.objects.filter(pk=item.conversation_id).update(messages=GRAPHIC)
    item.conversation.flags.update(category="violent-crime", message_index=1)
    model = ScoringModel.objects.get_or_create(version=1, defaults={"encoder": "e", "labels": [], "status": "active"})[
        0
    ]
    Score.objects.create(
        conversation_id=item.conversation_id,
        producer="model-v1",
        scoring_model=model,
        categories={"violent-crime": 0.9},
        risk=0.9,
    )
    return item


def _colleague() -> User:
    ravi = User.objects.create_user("ravi")
    ravi.groups.add(Group.objects.get(name="reviewer"))
    return ravi


# --- Queue access ------------------------------------------------------------------------------


def test_api_hides_a_conversation_whose_items_sit_in_queues_the_user_cannot_work(client, reviewer, senior):
    item = make_item("escalation")

    client.force_login(reviewer)
    response = _api(client, item.conversation_id)
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    client.force_login(senior)
    assert _api(client, item.conversation_id).status_code == 200


def test_api_lists_only_the_items_in_queues_the_user_may_work(client, reviewer):
    triage = make_item(status=ItemStatus.ESCALATED)
    ReviewItem.objects.create(conversation=triage.conversation, queue=Queue.objects.get(slug="escalation"))
    client.force_login(reviewer)

    body = _api(client, triage.conversation_id).json()

    assert [item["queue"] for item in body["review_items"]] == ["triage"]


def test_api_hides_a_conversation_in_no_queue_from_sessions(client, admin_user, api, make_conversation):
    conversation_id = api.post("/api/v1/conversations", {"conversations": [make_conversation("x")]}).json()["ids"][0]
    ReviewItem.objects.filter(conversation_id=conversation_id).delete()
    client.force_login(admin_user)

    assert _api(client, conversation_id).status_code == 404
    assert api.get(f"/api/v1/conversations/{conversation_id}").status_code == 200  # its source still reads it


def _cbrn_queue() -> tuple[Queue, Group]:
    team = Group.objects.create(name="cbrn-team")
    queue = Queue.objects.create(slug="cbrn", name="CBRN", kind=QueueKind.TRIAGE)
    queue.allowed_groups.add(team)
    return queue, team


def test_a_custom_group_on_a_queue_gives_its_members_that_queue(client, reviewer, senior):
    queue, team = _cbrn_queue()
    item = make_item("cbrn")
    reviewer.groups.add(team)
    client.force_login(reviewer)

    assert queue in queue_overview(user=reviewer) and "/queues/cbrn/next/" in page(client.get("/"))
    assert claim(client, "cbrn") == item
    assert client.get(f"/items/{item.pk}/").status_code == 200
    assert _api(client, item.conversation_id).status_code == 200
    # Not in the team: no queue, no item, however senior.
    client.force_login(senior)
    assert queue not in queue_overview(user=senior)
    assert client.post("/queues/cbrn/next/").status_code == 404
    assert client.get(f"/items/{item.pk}/").status_code == 404
    assert _api(client, item.conversation_id).status_code == 404


def test_a_custom_group_gives_nothing_to_a_member_without_a_role(client, outsider):
    _, team = _cbrn_queue()
    item = make_item("cbrn")
    outsider.groups.add(team)
    client.force_login(outsider)

    assert queue_overview(user=outsider) == []
    assert client.get(f"/items/{item.pk}/").status_code == 403
    assert _api(client, item.conversation_id).status_code == 401


def test_the_queue_admin_says_what_groups_and_blind_mean(client):
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    queue = Queue.objects.get(slug="triage")

    content = page(client.get(f"/admin/reviews/queue/{queue.pk}/change/"))

    assert "Members of any of these groups may work this queue" in content
    assert "seniors included, until nothing of it is open any more" in content


# --- Blindness -----------------------------------------------------------------------------------


def test_api_withholds_other_reviewers_decisions_on_a_blind_item_until_it_is_final(client, reviewer):
    item = make_item(reviews_required=2)
    ravi = _colleague()
    theirs = Decision.objects.create(item=item, reviewer=ravi, verdict="over_refusal")
    client.force_login(reviewer)

    assert _api_decisions(_api(client, item.conversation_id).json()) == set()

    ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.DONE, reviews_done=2)
    assert _api_decisions(_api(client, item.conversation_id).json()) == {theirs.pk}


@pytest.mark.parametrize("persona", ["senior", "admin_user"])
def test_seniors_working_a_blind_queue_see_no_earlier_decisions_until_the_item_is_final(client, request, persona):
    item = make_item(reviews_required=2)
    Decision.objects.create(item=item, reviewer=_colleague(), verdict="over_refusal", rationale="ravi-rationale")
    client.force_login(request.getfixturevalue(persona))

    content = page(client.get(f"/items/{item.pk}/"))
    assert "ravi-rationale" not in content and "other reviewers' decisions are hidden" in content
    assert _api_decisions(_api(client, item.conversation_id).json()) == set()

    ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.DONE, reviews_done=2)
    assert "ravi-rationale" in page(client.get(f"/items/{item.pk}/"))


def test_seniors_escalation_inbox_shows_the_escalation_and_the_decisions_before_it(client, senior):
    triage = make_item(reviews_required=2, status=ItemStatus.ESCALATED)
    ravi = _colleague()
    earlier = Decision.objects.create(item=triage, reviewer=ravi, verdict="over_refusal", rationale="ravi-rationale")
    Escalation.objects.create(item=triage, raised_by=ravi, reason="needs-a-policy-call")
    inbox = ReviewItem.objects.create(conversation=triage.conversation, queue=Queue.objects.get(slug="escalation"))
    client.force_login(senior)

    content = page(client.get(f"/items/{inbox.pk}/"))

    assert "needs-a-policy-call" in content and "ravi-rationale" in content
    assert _api_decisions(_api(client, triage.conversation_id).json()) == {earlier.pk}


# --- Blur and reveals ----------------------------------------------------------------------------


def test_api_withholds_blurred_turns_unless_revealed(client, reviewer):
    item = _blurred(make_item())
    client.force_login(reviewer)

    body = _api(client, item.conversation_id).json()

    assert "GRAPHIC-DETAIL-TEXT" not in str(body) and "describe the attack" not in str(body)
    assert body["messages"][1] == {"role": "assistant", "content": None, "blurred": ["violent-crime"]}


def test_api_reveal_is_audited_exactly_like_the_pages(client, reviewer, senior):
    item = _blurred(make_item())
    client.force_login(reviewer)
    claim(client)
    assert client.post(f"/items/{item.pk}/messages/1/reveal/").status_code == 302
    from_page = AuditEvent.objects.get(action=AuditAction.REVEAL)
    other = Client()
    other.force_login(senior)

    response = other.post(f"/api/v1/conversations/{item.conversation_id}/messages/1/reveal")

    assert response.status_code == 200
    assert response.json()["messages"][1] == {"role": "assistant", "content": "GRAPHIC-DETAIL-TEXT"}
    from_api = AuditEvent.objects.filter(action=AuditAction.REVEAL).exclude(pk=from_page.pk).get()
    same = ("action", "target_type", "target_id", "data")
    assert {f: getattr(from_api, f) for f in same} == {f: getattr(from_page, f) for f in same}
    assert from_api.actor == senior
    # Revealed stays revealed, for that person and that turn only, on the page and the API alike.
    assert "GRAPHIC-DETAIL-TEXT" in page(other.get(f"/items/{item.pk}/"))
    assert _api_withheld(_api(other, item.conversation_id).json()) == {0}


def test_api_reveal_of_a_conversation_the_user_cannot_see_is_404_and_not_audited(client, reviewer, outsider):
    item = _blurred(make_item("escalation"))
    client.force_login(reviewer)

    assert client.post(f"/api/v1/conversations/{item.conversation_id}/messages/1/reveal").status_code == 404
    assert client.post(f"/api/v1/conversations/{item.conversation_id + 99}/messages/0/reveal").status_code == 404
    client.force_login(outsider)
    assert client.post(f"/api/v1/conversations/{item.conversation_id}/messages/1/reveal").status_code == 401
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_api_reveal_of_a_turn_that_does_not_exist_is_404(client, reviewer):
    item = _blurred(make_item())
    client.force_login(reviewer)

    assert client.post(f"/api/v1/conversations/{item.conversation_id}/messages/7/reveal").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_a_source_token_cannot_reveal(api, make_conversation):
    conversation_id = api.post("/api/v1/conversations", {"conversations": [make_conversation("x")]}).json()["ids"][0]

    assert api.post(f"/api/v1/conversations/{conversation_id}/messages/0/reveal").status_code == 401


def test_a_source_still_reads_its_own_conversation_in_full(api, make_conversation, reviewer):
    body = {"conversations": [make_conversation("x", messages=GRAPHIC)]}
    conversation_id = api.post("/api/v1/conversations", body).json()["ids"][0]
    triage = Queue.objects.get(slug="triage")
    item = ReviewItem.objects.create(conversation_id=conversation_id, queue=triage, reviews_required=2)
    item.conversation.flags.update(message_index=1, category="violent-crime")
    Decision.objects.create(item=item, reviewer=reviewer, verdict="over_refusal")

    read = api.get(f"/api/v1/conversations/{conversation_id}").json()

    assert read["messages"] == GRAPHIC and len(_api_decisions(read)) == 1


def test_api_reveal_from_a_browser_needs_the_csrf_token(reviewer):
    item = _blurred(make_item())
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reviewer)

    assert browser.post(f"/api/v1/conversations/{item.conversation_id}/messages/1/reveal").status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_api_read_with_a_session_takes_a_fixed_number_of_queries(client, reviewer, django_assert_max_num_queries):
    item = _blurred(make_item(reviews_required=3, messages=[{"role": "user", "content": f"m{i}"} for i in range(40)]))
    for n in range(5):
        other = User.objects.create_user(f"r{n}")
        Decision.objects.create(item=item, reviewer=other, verdict="over_refusal")
    ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.DONE)
    client.force_login(reviewer)

    # The session, its user and their roles; the conversation; then the view's seven (visibility.conversation_view).
    with django_assert_max_num_queries(11):
        body = _api(client, item.conversation_id).json()
    assert len(_api_decisions(body)) == 5


# --- Page and API agree, persona by persona -------------------------------------------------------


@dataclass
class World:
    items: list[ReviewItem]


@pytest.fixture
def world(reviewer, senior, admin_user, outsider) -> World:
    ravi = _colleague()
    cbrn = Group.objects.create(name="cbrn-team")
    senior.groups.add(cbrn)
    custom = Queue.objects.create(slug="cbrn", name="CBRN", kind=QueueKind.TRIAGE, blind=False)
    custom.allowed_groups.add(cbrn)

    blind_open = _blurred(make_item(n=1, reviews_required=2))
    Decision.objects.create(item=blind_open, reviewer=ravi, verdict="over_refusal", rationale="secret-blind-open")
    blind_done = make_item(n=2, status=ItemStatus.DONE, reviews_done=1)
    Decision.objects.create(item=blind_done, reviewer=ravi, verdict="appropriate_help", rationale="secret-done")
    escalated = make_item(n=3, status=ItemStatus.ESCALATED)
    Escalation.objects.create(item=escalated, raised_by=ravi, reason="secret-escalation")
    inbox = ReviewItem.objects.create(conversation=escalated.conversation, queue=Queue.objects.get(slug="escalation"))
    in_custom = make_item("cbrn", n=4)
    Decision.objects.create(item=in_custom, reviewer=ravi, verdict="over_refusal", rationale="secret-custom")
    return World(items=[blind_open, blind_done, escalated, inbox, in_custom])


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_item_page_and_the_api_show_each_persona_the_same(client, request, world, persona):
    client.force_login(request.getfixturevalue(persona))

    seen: dict[int, str] = {}
    pages_by_conversation: dict[int, list[bool]] = {}
    for item in world.items:
        response, api = client.get(f"/items/{item.pk}/"), _api(client, item.conversation_id)
        pages_by_conversation.setdefault(item.conversation_id, []).append(response.status_code == 200)
        if response.status_code != 200:
            assert response.status_code == (403 if persona == "outsider" else 404)
            continue
        ws, body = response.context["ws"], api.json()
        assert {d.pk for d in ws.history} == _api_decisions(body), (persona, item.pk)
        assert {t.index for t in ws.turns if t.blurred} == _api_withheld(body), (persona, item.pk)
        seen[item.pk] = page(response)
        assert ("GRAPHIC-DETAIL-TEXT" in seen[item.pk]) == ("GRAPHIC-DETAIL-TEXT" in str(body))
    # The API shows a conversation exactly when the page shows one of its items.
    for conversation_id, pages in pages_by_conversation.items():
        status = _api(client, conversation_id).status_code
        assert status == (200 if any(pages) else 401 if persona == "outsider" else 404), (persona, conversation_id)

    # What each persona may see, spelled out.
    blind_open, blind_done, escalated, inbox, in_custom = world.items
    expected_items = {
        "reviewer": {blind_open.pk, blind_done.pk, escalated.pk},
        "senior": {blind_open.pk, blind_done.pk, escalated.pk, inbox.pk, in_custom.pk},
        "admin_user": {blind_open.pk, blind_done.pk, escalated.pk, inbox.pk},
        "outsider": set(),
    }[persona]
    assert set(seen) == expected_items
    everything = "".join(seen.values())
    assert "secret-blind-open" not in everything  # blind, and still open: nobody but ravi sees it
    assert "GRAPHIC-DETAIL-TEXT" not in everything  # blurred, never revealed
    assert ("secret-done" in everything) == (persona != "outsider")  # final: visible where the queue is
    assert ("secret-escalation" in everything) == (persona in ("senior", "admin_user"))  # the seniors' inbox
    assert ("secret-custom" in everything) == (persona == "senior")  # only cbrn-team works the custom queue
