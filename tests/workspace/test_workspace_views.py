"""The reviewer workspace: queues page, claim next, the item page, decide, skip, lease conflicts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from reviews.models import (
    AuditAction,
    AuditEvent,
    Decision,
    Flag,
    ItemStatus,
    Queue,
    ReviewItem,
)
from reviews.workspace.selectors import queue_overview
from tests.factories import DECISION, HX, claim, make_item, page

pytestmark = pytest.mark.django_db


def test_queues_page_shows_counts_ages_due_soon_and_breaches(client, reviewer):
    now = timezone.now()
    make_item(n=1, due_at=now + timedelta(minutes=30))
    make_item(n=2, due_at=now - timedelta(minutes=5), sla_breached_at=now)
    make_item(n=3, status=ItemStatus.DONE)
    client.force_login(reviewer)

    response = client.get("/")

    content = page(response)
    triage = Queue.objects.get(slug="triage")
    row = content[content.index(f'id="queue-{triage.pk}"') :].split("</tr>")[0]
    cells = [cell.split(">", 1)[1].split("<")[0].strip() for cell in row.split("<td")[1:]]
    assert cells[2] == "2"  # open
    assert cells[4] == "1"  # due within the hour
    assert cells[5] == "1"  # breached
    assert "Start reviewing" in row
    assert "Escalations" not in content


def test_queues_page_counts_once_for_a_user_in_several_groups(client, reviewer):
    reviewer.groups.add(Group.objects.get(name="senior"))
    make_item(n=1)
    client.force_login(reviewer)

    queues = {q.slug: q for q in queue_overview(user=reviewer)}

    assert queues["triage"].open_count == 1


def test_queues_page_region_polls_and_answers_htmx_with_the_fragment(client, reviewer):
    client.force_login(reviewer)

    response = client.get("/", headers=HX)

    content = response.content.decode()
    assert content.lstrip().startswith('<section id="queues"')
    assert 'hx-trigger="every 15s"' in content
    assert "HX-Request" in response["Vary"]


def test_queues_page_query_count_does_not_grow_with_queues_or_items(client, reviewer, django_assert_max_num_queries):
    for n in range(30):
        make_item(n=n)
        make_item("calibration", n=n)
    client.force_login(reviewer)

    with django_assert_max_num_queries(8):
        client.get("/")


@pytest.mark.parametrize("url", ["/", "/my/work/", "/my/escalations/"])
def test_pages_send_anonymous_users_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("url", ["/my/work/", "/my/escalations/"])
def test_outsider_is_refused_the_workspace_pages(client, outsider, url):
    client.force_login(outsider)

    assert client.get(url).status_code == 403


def test_outsider_cannot_claim(client, outsider):
    make_item()
    client.force_login(outsider)

    assert client.post("/queues/triage/next/").status_code == 403
    assert not ReviewItem.objects.filter(claimed_by__isnull=False).exists()


# --- Claim next and the item page ---------------------------------------------


def test_claim_gives_the_highest_priority_item_and_leases_it(client, reviewer):
    make_item(n=1, priority=1)
    high = make_item(n=2, priority=5)
    client.force_login(reviewer)

    item = claim(client)

    assert item == high
    assert item.claimed_by == reviewer and item.lease_expires_at > timezone.now()


def test_second_reviewer_gets_a_different_item(client, reviewer, senior):
    make_item(n=1)
    make_item(n=2)
    client.force_login(reviewer)
    first = claim(client)
    client.force_login(senior)

    second = claim(client)

    assert first is not None and second is not None and first != second


def test_empty_queue_says_so(client, reviewer):
    client.force_login(reviewer)

    response = client.post("/queues/triage/next/", follow=True)

    assert "Nothing left in this queue" in page(response)


def test_reviewer_may_not_claim_from_the_senior_queue(client, reviewer):
    make_item("escalation")
    client.force_login(reviewer)

    assert client.post("/queues/escalation/next/").status_code == 404


@pytest.mark.parametrize("persona", ["reviewer", "outsider"])
def test_item_in_a_queue_the_user_may_not_work_is_404(client, request, persona):
    item = make_item("escalation")
    user = request.getfixturevalue(persona)
    client.force_login(user)

    status = client.get(f"/items/{item.pk}/").status_code

    assert status == (404 if persona == "reviewer" else 403)


@pytest.mark.parametrize("persona", ["senior", "admin_user"])
def test_seniors_and_admins_may_open_escalation_items(client, request, persona):
    item = make_item("escalation")
    client.force_login(request.getfixturevalue(persona))

    assert client.get(f"/items/{item.pk}/").status_code == 200


def test_item_page_shows_turns_roles_pinned_flags_scores_and_provenance(client, reviewer):
    make_item()
    client.force_login(reviewer)
    item = claim(client)

    content = page(client.get(f"/items/{item.pk}/"))

    first_turn = content[content.index('id="message-0"') : content.index('id="message-1"')]
    assert "How do I pick a lock?" in first_turn and "input-guardrail" in first_turn and "burglary" in first_turn
    assert '<span class="role">assistant</span>' in content
    assert "The detectors' own scores, not a model" in content
    assert "Routed by" in content and "risky" in content
    assert 'id="decision-form"' in content and 'hx-trigger="every 60s"' in content


def test_untrusted_content_is_escaped_never_rendered_as_html(client, reviewer):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)" hx-get="/x">x</a>'
    make_item(messages=[{"role": "user", "content": hostile}])
    client.force_login(reviewer)
    item = claim(client)

    raw = client.get(f"/items/{item.pk}/").content.decode()

    assert "<script>alert(1)" not in raw and "<img src=x" not in raw and '<a href="javascript' not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw


def test_long_messages_collapse_with_show_all(client, reviewer):
    make_item(messages=[{"role": "assistant", "content": "word " * 1000}])
    client.force_login(reviewer)
    item = claim(client)

    content = page(client.get(f"/items/{item.pk}/"))

    assert '<details class="long">' in content and "Show all (5000 characters)" in content


def test_blind_queue_hides_other_reviewers_decisions_from_everyone_until_final(client, reviewer, senior, admin_user):
    item = make_item(reviews_required=2)
    Decision.objects.create(item=item, reviewer=admin_user, verdict="over_refusal", rationale="secret-rationale")

    for user in (reviewer, senior):
        client.force_login(user)
        assert "secret-rationale" not in page(client.get(f"/items/{item.pk}/"))
    ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.DONE, reviews_done=2)
    assert "secret-rationale" in page(client.get(f"/items/{item.pk}/"))


def test_item_page_query_count_is_bounded(client, reviewer, admin_user, django_assert_max_num_queries):
    item = make_item(reviews_required=3, messages=[{"role": "user", "content": f"m{i}"} for i in range(40)])
    for i in range(10):
        Flag.objects.create(
            conversation=item.conversation, detector=f"d{i}", category="cyber", score=0.3, message_index=i
        )
    Decision.objects.create(item=item, reviewer=admin_user, verdict="over_refusal")
    client.force_login(reviewer)
    claim(client)

    with django_assert_max_num_queries(20):
        client.get(f"/items/{item.pk}/")


# --- Decide --------------------------------------------------------------------


def test_decision_saves_and_swaps_in_the_next_item_in_one_response(client, reviewer):
    first = make_item(n=1, priority=5)
    second = make_item(n=2, priority=1)
    client.force_login(reviewer)
    assert claim(client) == first

    response = client.post(f"/items/{first.pk}/decide/", DECISION, headers=HX)

    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="workspace"')
    assert f"Item {second.pk}" in content and "Saved your decision" in content
    assert response["HX-Push-Url"] == f"/items/{second.pk}/"
    decision = Decision.objects.get(item=first)
    assert decision.verdict == "appropriate_help" and decision.reviewer == reviewer
    second.refresh_from_db()
    assert second.claimed_by == reviewer
    assert AuditEvent.objects.filter(action=AuditAction.DECISION, actor=reviewer).count() == 1


def test_decision_after_the_lease_passed_to_someone_else_is_409_and_records_nothing(client, reviewer, senior):
    item = make_item()
    client.force_login(reviewer)
    claim(client)
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    other = Client()
    other.force_login(senior)
    assert claim(other) == item

    response = client.post(f"/items/{item.pk}/decide/", DECISION, headers=HX)

    assert response.status_code == 409
    assert "given to another reviewer" in page(response)
    assert not Decision.objects.exists()
    item.refresh_from_db()
    assert item.claimed_by == senior and item.reviews_done == 0


def test_lease_renewal_extends_the_lease_and_answers_409_once_lost(client, reviewer, senior):
    item = make_item()
    client.force_login(reviewer)
    claim(client)
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=5))

    response = client.post(f"/items/{item.pk}/renew/", headers=HX)

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.lease_expires_at > timezone.now() + timedelta(seconds=500)
    ReviewItem.objects.filter(pk=item.pk).update(claimed_by=senior)
    lost = client.post(f"/items/{item.pk}/renew/", headers=HX)
    assert lost.status_code == 409 and "given to another reviewer" in page(lost)


def test_short_leases_are_renewed_well_before_they_run_out(client, reviewer):
    Queue.objects.filter(slug="triage").update(lease_seconds=45)
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    assert 'hx-trigger="every 15s"' in client.get(f"/items/{item.pk}/").content.decode()
    renewed = client.post(f"/items/{item.pk}/renew/", headers=HX).content.decode()
    assert renewed.lstrip().startswith('<p id="lease"') and 'hx-trigger="every 15s"' in renewed


def test_preferred_response_is_required_for_failure_verdicts_when_the_queue_says_so(client, reviewer):
    Queue.objects.filter(slug="triage").update(require_preferred_response=True)
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{item.pk}/decide/", DECISION | {"verdict": "over_refusal"}, headers=HX)

    assert response.status_code == 422
    assert "needs a preferred response" in page(response)
    assert not Decision.objects.exists()
    ok = client.post(
        f"/items/{item.pk}/decide/",
        DECISION | {"verdict": "over_refusal", "preferred_response": "Sure: here is how locks work."},
        headers=HX,
    )
    assert ok.status_code == 200
    assert Decision.objects.get().preferred_response == "Sure: here is how locks work."


def test_bad_severity_is_a_form_error(client, reviewer):
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{item.pk}/decide/", DECISION | {"severity": "9"}, headers=HX)

    assert response.status_code == 422 and not Decision.objects.exists()


def test_reviewer_never_gets_an_item_they_already_decided(client, reviewer):
    item = make_item(reviews_required=2)
    client.force_login(reviewer)
    claim(client)
    client.post(f"/items/{item.pk}/decide/", DECISION, headers=HX)

    assert claim(client) is None
    item.refresh_from_db()
    assert item.status == ItemStatus.OPEN and item.reviews_done == 1


def test_decision_without_js_redirects_to_the_next_item(client, reviewer):
    first = make_item(n=1, priority=5)
    second = make_item(n=2)
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{first.pk}/decide/", DECISION)

    assert response.status_code == 302 and response["Location"] == f"/items/{second.pk}/"


# --- Skip ------------------------------------------------------------------------


def test_skip_returns_the_item_with_a_reason_and_gives_the_next(client, reviewer):
    first = make_item(n=1, priority=5)
    second = make_item(n=2, priority=1)
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{first.pk}/skip/", {"reason": "not my language"}, headers=HX)

    assert response.status_code == 200 and f"Item {second.pk}" in response.content.decode()
    first.refresh_from_db()
    assert first.claimed_by is None and first.status == ItemStatus.OPEN
    event = AuditEvent.objects.get(action=AuditAction.SKIP)
    assert event.actor == reviewer and event.target_id == str(first.pk) and event.data["reason"] == "not my language"


def test_skip_needs_a_reason(client, reviewer):
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{item.pk}/skip/", {"reason": "  "}, headers=HX)

    assert response.status_code == 422
    item.refresh_from_db()
    assert item.claimed_by == reviewer and not AuditEvent.objects.filter(action=AuditAction.SKIP).exists()


def test_skipped_item_goes_to_another_reviewer(client, reviewer, senior):
    item = make_item()
    client.force_login(reviewer)
    claim(client)
    client.post(f"/items/{item.pk}/skip/", {"reason": "conflict of interest"}, headers=HX)
    assert claim(client) is None
    client.force_login(senior)

    assert claim(client) == item
