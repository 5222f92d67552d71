"""Reading and deciding (issue #16) without a browser: blur turn by turn with named reasons, reveal all as one
audited action, guidelines on the form, escalation keeping the verdict, decided items shown as decided, undo."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from reviews.models import (
    AuditAction,
    AuditEvent,
    Decision,
    Escalation,
    Flag,
    ItemStatus,
    Queue,
    ReviewItem,
    Score,
    ScoringModel,
)
from reviews.workspace.errors import UndoError
from reviews.workspace.undo import decision_undo
from reviews.workspace.visibility import WITHHELD
from tests.factories import DECISION, HX, claim, make_item, page

pytestmark = pytest.mark.django_db

CHAT = [
    {"role": "system", "content": "SYSTEM-PROMPT"},
    {"role": "user", "content": "EARLY-QUESTION"},
    {"role": "assistant", "content": "EARLY-ANSWER"},
    {"role": "user", "content": "JUDGED-REQUEST"},
    {"role": "assistant", "content": "JUDGED-REPLY"},
]


def _model_score(item: ReviewItem, **categories: float) -> Score:
    model = ScoringModel.objects.get_or_create(version=3, defaults={"encoder": "e", "labels": [], "status": "active"})[
        0
    ]
    return Score.objects.create(
        conversation_id=item.conversation_id, producer="model-v3", scoring_model=model, categories=categories, risk=0.8
    )


def _api(client: Client, item: ReviewItem) -> dict:
    return client.get(f"/api/v1/conversations/{item.conversation_id}").json()


# --- Blur turn by turn --------------------------------------------------------------------------------------


def test_a_model_score_blurs_only_the_request_and_reply_it_read_and_names_itself(client, reviewer):
    item = make_item(messages=CHAT, category="cyber", message_index=3)  # cyber is not blurred by default
    _model_score(item, **{"violent-crime": 0.71})
    client.force_login(reviewer)
    claim(client)

    content = page(client.get(f"/items/{item.pk}/"))

    for shown in ("SYSTEM-PROMPT", "EARLY-QUESTION", "EARLY-ANSWER"):
        assert shown in content
    assert "JUDGED-REQUEST" not in content and "JUDGED-REPLY" not in content
    assert "<strong>Violent crime</strong>" in content and "model v3 (0.71)" in content
    assert [m["content"] is None for m in _api(client, item)["messages"]] == [False, False, False, True, True]


def test_a_score_under_the_threshold_or_in_a_category_shown_by_default_blurs_nothing(client, reviewer):
    item = make_item(messages=CHAT, category="cyber", message_index=3)
    _model_score(item, **{"violent-crime": 0.49, "cyber": 0.99})
    client.force_login(reviewer)

    assert all(m["content"] is not None for m in _api(client, item)["messages"])


def test_a_flag_on_the_whole_conversation_blurs_the_spoken_turns_and_hides_its_explanation(client, reviewer):
    item = make_item(messages=CHAT, category="hate", message_index=None)
    client.force_login(reviewer)
    claim(client)

    content = page(client.get(f"/items/{item.pk}/"))
    body = _api(client, item)

    assert "SYSTEM-PROMPT" in content  # a system prompt is blurred only by a flag pinned to it
    assert "JUDGED-REPLY" not in content and "EARLY-QUESTION" not in content
    assert "detector input-guardrail on the whole conversation (0.62)" in content
    assert "burglary" not in content and "explanation hidden with the turns it blurs" in content
    assert body["flags"][0]["explanation"] == WITHHELD


def test_reveal_all_is_one_audited_action_that_shows_every_turn_and_the_explanations(client, reviewer):
    item = make_item(messages=CHAT, category="hate", message_index=None)
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{item.pk}/reveal-all/", headers=HX)

    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<div id="conversation" data-focus="message-1"')
    assert "JUDGED-REPLY" in fragment and "Reveal all" not in fragment
    event = AuditEvent.objects.get(action=AuditAction.REVEAL)
    assert event.actor == reviewer and event.data == {"item": item.pk, "message_indexes": [1, 2, 3, 4]}
    assert "burglary" in page(client.get(f"/items/{item.pk}/"))
    assert _api(client, item)["flags"][0]["explanation"] == "burglary"
    client.post(f"/items/{item.pk}/reveal-all/", headers=HX)  # nothing left to reveal: nothing recorded
    assert AuditEvent.objects.filter(action=AuditAction.REVEAL).count() == 1


def test_reveal_all_of_another_queues_item_is_404_and_not_audited(client, reviewer):
    item = make_item("escalation", messages=CHAT, category="hate", message_index=None)
    client.force_login(reviewer)

    assert client.post(f"/items/{item.pk}/reveal-all/").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


# --- Guidelines and suggestions on the form ---------------------------------------------------------------


def test_form_carries_category_descriptions_severity_meanings_and_the_queue_instructions_escaped(client, reviewer):
    Queue.objects.filter(slug="triage").update(instructions='<img src=x onerror="alert(1)">Judge the reply.')
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    raw = client.get(f"/items/{item.pk}/").content.decode()

    assert '<img src=x onerror="alert(1)">' not in raw
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Judge the reply." in raw
    assert 'title="Malware, intrusion, credential theft and other attacks on systems."' in raw
    assert 'aria-describedby="category-desc-' in raw
    assert "4 · Critical: severe or irreversible harm" in raw  # on the severity field
    assert "<dt>2 · Moderate</dt>" in raw  # and in the ? help, one line per level


def test_flagged_and_model_suggested_categories_start_checked_and_marked(client, reviewer):
    item = make_item(category="cyber")
    _model_score(item, fraud=0.8, privacy=0.2)
    client.force_login(reviewer)
    claim(client)

    form = page(client.get(f"/items/{item.pk}/")).split('id="decision-form"')[1]

    checked = set(re.findall(r'name="categories" value="([a-z-]+)" aria-describedby="[^"]+" checked>', form))
    assert checked == {"cyber", "fraud"}  # flagged, and the model's 0.8; privacy's 0.2 is no suggestion
    assert ">flagged</span>" in form and ">model 0.80</span>" in form


# --- Escalation keeps the verdict ---------------------------------------------------------------------------


def test_escalating_keeps_the_chosen_verdict_as_a_suggestion_the_senior_sees(client, reviewer, senior):
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    client.post(f"/items/{item.pk}/escalate/", {"reason": "policy call", "verdict": "over_refusal"}, headers=HX)

    escalation = Escalation.objects.get()
    assert escalation.suggested_verdict == "over_refusal"
    event = AuditEvent.objects.get(action=AuditAction.ESCALATION)
    assert event.data["suggested_verdict"] == "over_refusal"
    seniors = Client()
    seniors.force_login(senior)
    senior_item = claim(seniors, "escalation")
    assert "Their suggested verdict: <strong>Over-refusal</strong>" in page(seniors.get(f"/items/{senior_item.pk}/"))


def test_escalating_with_an_unknown_verdict_records_nothing(client, reviewer):
    item = make_item()
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{item.pk}/escalate/", {"reason": "x", "verdict": "maybe"}, headers=HX)

    assert response.status_code == 422 and not Escalation.objects.exists()


# --- History and title: a decided item shows as decided --------------------------------------------------------


def test_submit_and_next_pushes_the_new_url_and_title(client, reviewer):
    first, second = make_item(n=1, priority=2), make_item(n=2, priority=1)
    client.force_login(reviewer)
    claim(client)

    response = client.post(f"/items/{first.pk}/decide/", DECISION, headers=HX)

    assert response["HX-Push-Url"] == f"/items/{second.pk}/"
    assert f'data-title="Item {second.pk} · Oversight"' in response.content.decode()
    assert 'hx-history="false"' in response.content.decode()  # Back asks the server, never a stale snapshot


def test_a_decided_item_shows_a_read_only_summary_with_an_edit_link_inside_the_window(client, reviewer):
    item = make_item()
    client.force_login(reviewer)
    claim(client)
    client.post(f"/items/{item.pk}/decide/", {**DECISION, "rationale": "<b>fine</b>"}, headers=HX)
    decision = Decision.objects.get(item=item)

    content = client.get(f"/items/{item.pk}/").content.decode()

    assert 'id="decision-form"' not in content and "You decided this item" in content
    assert f'href="/my/work/{decision.pk}/edit/"' in content and "&lt;b&gt;fine&lt;/b&gt;" in content
    Decision.objects.filter(pk=decision.pk).update(created_at=decision.created_at - timedelta(days=1))
    content = client.get(f"/items/{item.pk}/").content.decode()
    assert "The edit window closed" in content and "/edit/" not in content


# --- Undo ---------------------------------------------------------------------------------------------------


def _decided(client: Client, reviewer: User, **fields: object) -> tuple[ReviewItem, Decision]:
    item = make_item(n=1, priority=2, **fields)
    make_item(n=2, priority=1)
    client.force_login(reviewer)
    claim(client)
    response = client.post(f"/items/{item.pk}/decide/", {**DECISION, "verdict": "over_refusal"}, headers=HX)
    decision = Decision.objects.get(item=item)
    assert f"/my/work/{decision.pk}/undo/" in response.content.decode()  # offered in the "Saved" notice
    return item, decision


def test_undo_removes_the_decision_and_gives_the_item_back_with_its_form(client, reviewer):
    item, decision = _decided(client, reviewer)

    response = client.post(f"/my/work/{decision.pk}/undo/", headers=HX)

    assert response.status_code == 200 and response["HX-Push-Url"] == f"/items/{item.pk}/"
    content = response.content.decode()
    assert 'id="decision-form"' in content and 'value="over_refusal" id="verdict-3" required checked' in content
    item.refresh_from_db()
    assert item.status == ItemStatus.OPEN and item.reviews_done == 0 and item.claimed_by == reviewer
    assert not Decision.objects.filter(pk=decision.pk).exists()
    event = AuditEvent.objects.get(action=AuditAction.DECISION_UNDO)
    assert event.actor == reviewer and event.data["decision"] == decision.pk
    assert event.data["verdict"] == "over_refusal"
    client.post(f"/items/{item.pk}/decide/", DECISION, headers=HX)  # and it can be decided again
    assert Decision.objects.get(item=item).verdict == "appropriate_help"


def test_undo_returns_the_item_handed_next_to_the_queue_audited(client, reviewer, senior):
    item, decision = _decided(client, reviewer)
    handed = ReviewItem.objects.get(claimed_by=reviewer, status=ItemStatus.OPEN)  # the page showed it next
    assert handed.pk != item.pk

    client.post(f"/my/work/{decision.pk}/undo/", headers=HX)

    handed.refresh_from_db()
    assert handed.claimed_by is None and handed.lease_expires_at is None
    event = AuditEvent.objects.get(action=AuditAction.CLAIM_RETURN)
    assert event.actor == reviewer and event.target_id == str(handed.pk) and event.data["undone"] == item.pk
    assert "Returned to the queue (an undo)" in page(client.get(f"/items/{handed.pk}/history/"))
    other = Client()
    other.force_login(senior)
    assert claim(other) == handed  # someone else gets it now, not after the lease


def test_undo_after_the_edit_window_is_refused_and_changes_nothing(client, reviewer):
    item, decision = _decided(client, reviewer)
    Decision.objects.filter(pk=decision.pk).update(created_at=decision.created_at - timedelta(days=1))

    response = client.post(f"/my/work/{decision.pk}/undo/", headers=HX)

    assert response.status_code == 409 and "edit window" in response.content.decode()
    assert Decision.objects.filter(pk=decision.pk).exists()
    assert ReviewItem.objects.get(pk=item.pk).status == ItemStatus.DONE
    assert not AuditEvent.objects.filter(action=AuditAction.DECISION_UNDO).exists()


def test_undo_of_someone_elses_decision_is_404(client, reviewer, senior):
    _, decision = _decided(client, reviewer)
    client.force_login(senior)

    assert client.post(f"/my/work/{decision.pk}/undo/").status_code == 404
    assert Decision.objects.filter(pk=decision.pk).exists()


def test_undo_is_refused_while_another_reviewer_works_the_item(client, reviewer):
    item, decision = _decided(client, reviewer, reviews_required=2)
    ravi = User.objects.create_user("ravi")
    ravi.groups.add(Group.objects.get(name="reviewer"))
    other = Client()
    other.force_login(ravi)
    assert claim(other) == item

    with pytest.raises(UndoError, match="Another reviewer"):
        decision_undo(decision=decision, reviewer=reviewer)
    assert Decision.objects.filter(pk=decision.pk).exists()


def test_undo_is_refused_once_a_split_went_to_adjudication(client, reviewer):
    item, decision = _decided(client, reviewer, reviews_required=2)
    ravi = User.objects.create_user("ravi")
    ravi.groups.add(Group.objects.get(name="reviewer"))
    other = Client()
    other.force_login(ravi)
    claim(other)
    other.post(f"/items/{item.pk}/decide/", DECISION, headers=HX)  # disagrees: a senior is asked
    assert ReviewItem.objects.filter(adjudicates=item).exists()

    with pytest.raises(UndoError, match="moved on"):
        decision_undo(decision=decision, reviewer=reviewer)


def test_flags_of_other_turns_do_not_blur_a_turn(client, reviewer):
    item = make_item(messages=CHAT, category="violent-crime", message_index=1)
    Flag.objects.create(
        conversation_id=item.conversation_id, detector="x", category="cyber", score=0.9, message_index=4
    )
    client.force_login(reviewer)

    withheld = [m["content"] is None for m in _api(client, item)["messages"]]

    assert withheld == [False, True, False, False, False]
