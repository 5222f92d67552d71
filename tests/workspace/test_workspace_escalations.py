"""Escalation from the workspace, resolution by a senior, "My escalations" and "My work" with edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reviews.models import (
    AuditAction,
    AuditEvent,
    Decision,
    Escalation,
    EscalationStatus,
    ItemStatus,
    Queue,
    QueueKind,
    ReviewItem,
)
from tests.factories import DECISION, HX, claim, make_item, page

pytestmark = pytest.mark.django_db


def _escalate(client: Client, item: ReviewItem, reason: str = "needs a policy call") -> object:
    return client.post(f"/items/{item.pk}/escalate/", {"reason": reason}, headers=HX)


def test_escalation_closes_the_item_and_queues_it_for_seniors(client, reviewer):
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    response = _escalate(client, item)

    assert response.status_code == 200 and "escalated to the seniors" in page(response)
    item.refresh_from_db()
    assert item.status == ItemStatus.ESCALATED and item.claimed_by is None
    escalation = Escalation.objects.get()
    assert escalation.raised_by == reviewer and escalation.reason == "needs a policy call"
    senior_item = ReviewItem.objects.get(queue__kind=QueueKind.ESCALATION)
    assert senior_item.conversation_id == item.conversation_id and senior_item.status == ItemStatus.OPEN
    assert AuditEvent.objects.filter(action=AuditAction.ESCALATION, actor=reviewer).exists()


def test_escalation_needs_a_reason(client, reviewer):
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    assert _escalate(client, item, reason="").status_code == 422
    assert not Escalation.objects.exists()


def test_escalation_after_losing_the_lease_is_409(client, reviewer, senior):
    item = make_item()
    client.force_login(reviewer)
    claim(client)
    ReviewItem.objects.filter(pk=item.pk).update(claimed_by=senior)

    assert _escalate(client, item).status_code == 409
    assert not Escalation.objects.exists()


def test_senior_resolves_the_escalation_and_the_raiser_sees_the_outcome(client, reviewer, senior):
    item = make_item()
    client.force_login(reviewer)
    claim(client)
    _escalate(client, item, reason="borderline <b>lockpicking</b>")
    seniors = Client()
    seniors.force_login(senior)
    senior_item = claim(seniors, "escalation")
    assert senior_item is not None
    senior_page = page(seniors.get(f"/items/{senior_item.pk}/"))
    assert "borderline <b>lockpicking</b>" in senior_page  # the full history, as text
    assert "Escalate to the seniors" not in senior_page

    response = seniors.post(
        f"/items/{senior_item.pk}/decide/",
        DECISION | {"verdict": "appropriate_refusal", "rationale": "refusal was right"},
        headers=HX,
    )

    assert response.status_code == 200
    escalation = Escalation.objects.get()
    assert escalation.status == EscalationStatus.RESOLVED and escalation.resolved_by == senior
    assert escalation.resolution is not None and escalation.resolution.is_final
    assert AuditEvent.objects.filter(action=AuditAction.ESCALATION_RESOLVED, actor=senior).exists()
    mine = page(client.get("/my/escalations/"))
    assert "resolved" in mine and "Appropriate refusal" in mine and "refusal was right" in mine


def test_my_escalations_lists_only_the_users_own(client, reviewer, senior):
    item = make_item()
    other = Client()
    other.force_login(senior)
    claim(other)
    _escalate(other, item, reason="senior-reason")
    client.force_login(reviewer)

    assert "senior-reason" not in page(client.get("/my/escalations/"))


def test_my_escalations_query_count_is_bounded(client, reviewer, django_assert_max_num_queries):
    client.force_login(reviewer)
    for n in range(15):
        item = make_item(n=n)
        Escalation.objects.create(item=item, raised_by=reviewer, reason=f"r{n}")

    with django_assert_max_num_queries(6):
        response = client.get("/my/escalations/")
    assert response.status_code == 200


# --- My work -------------------------------------------------------------------


def _decide(client: Client, queue: str = "triage", **data: str) -> Decision:
    item = claim(client, queue)
    assert item is not None
    client.post(f"/items/{item.pk}/decide/", DECISION | data, headers=HX)
    return Decision.objects.filter(item=item).latest("pk")


def test_my_work_lists_own_decisions_with_an_edit_link_inside_the_window(client, reviewer):
    make_item(n=1)
    make_item(n=2)
    client.force_login(reviewer)
    fresh = _decide(client)
    old = _decide(client)
    Decision.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))

    content = page(client.get("/my/work/"))

    assert f"/my/work/{fresh.pk}/edit/" in content
    assert f"/my/work/{old.pk}/edit/" not in content


def test_edit_within_the_window_is_saved_and_audited(client, reviewer):
    make_item()
    client.force_login(reviewer)
    decision = _decide(client)

    response = client.post(f"/my/work/{decision.pk}/edit/", DECISION | {"verdict": "over_refusal", "severity": "3"})

    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.verdict == "over_refusal" and decision.severity == 3 and decision.harmful_request is False
    event = AuditEvent.objects.get(action=AuditAction.DECISION_EDIT)
    assert event.actor == reviewer and event.data["changed"]["verdict"] == ["appropriate_help", "over_refusal"]


def test_edit_after_the_window_is_refused(client, reviewer):
    make_item()
    client.force_login(reviewer)
    decision = _decide(client)
    Decision.objects.filter(pk=decision.pk).update(created_at=timezone.now() - timedelta(hours=2))

    response = client.post(f"/my/work/{decision.pk}/edit/", DECISION | {"verdict": "over_refusal"})

    assert response.status_code == 422
    decision.refresh_from_db()
    assert decision.verdict == "appropriate_help"
    assert not AuditEvent.objects.filter(action=AuditAction.DECISION_EDIT).exists()


def test_another_reviewers_decision_cannot_be_edited(client, reviewer, senior):
    make_item()
    other = Client()
    other.force_login(senior)
    decision = _decide(other)
    client.force_login(reviewer)

    assert client.get(f"/my/work/{decision.pk}/edit/").status_code == 404
    assert client.post(f"/my/work/{decision.pk}/edit/", DECISION).status_code == 404


def test_edit_that_splits_the_reviewers_sends_the_item_to_adjudication(client, reviewer, senior):
    Queue.objects.filter(slug="triage").update(reviews_required=2)
    item = make_item(reviews_required=2)
    client.force_login(reviewer)
    mine = _decide(client)
    other = Client()
    other.force_login(senior)
    _decide(other)
    item.refresh_from_db()
    assert item.status == ItemStatus.DONE
    assert not ReviewItem.objects.filter(queue__kind=QueueKind.ADJUDICATION).exists()

    client.post(f"/my/work/{mine.pk}/edit/", DECISION | {"verdict": "over_refusal"})

    adjudication = ReviewItem.objects.get(queue__kind=QueueKind.ADJUDICATION)
    assert adjudication.conversation_id == item.conversation_id and adjudication.status == ItemStatus.OPEN
    assert adjudication.adjudicates == item  # found by its key, not by the routed_by text
    ReviewItem.objects.filter(pk=adjudication.pk).update(routed_by="renamed by an admin")

    client.post(f"/my/work/{mine.pk}/edit/", DECISION)  # agree again: the unworked adjudication is dropped

    adjudication.refresh_from_db()
    assert adjudication.status == ItemStatus.DROPPED


def test_my_work_query_count_is_bounded(client, reviewer, django_assert_max_num_queries):
    client.force_login(reviewer)
    for n in range(15):
        make_item(n=n)
        _decide(client)

    # + the page count and the queue filter's choices (pages of 25: a reviewer reaches every decision).
    with django_assert_max_num_queries(8):
        response = client.get("/my/work/")
    assert response.status_code == 200
