"""Comments (escaped, edit window, audited, @mentions that reach only users who may see the item), tags, the
history timeline (blind rules kept) and the seniors' inbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from reviews.models import AuditAction, AuditEvent, Comment, ItemTag, Mention, QueueKind, ReviewItem
from reviews.workspace.decisions import decision_record
from tests.factories import DECISION, HX, claim, make_item, page

pytestmark = pytest.mark.django_db
PAYLOAD = "<img src=x onerror=alert(1)> hi @sam"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_comment_is_escaped_audited_and_mentions_reach_the_other_user(reviewer, senior):
    item = make_item(n=1)
    rita = _client(reviewer)

    response = rita.post(f"/items/{item.pk}/comments/", {"body": PAYLOAD}, headers=HX)

    assert response.status_code == 200
    assert "<img src=x" not in response.content.decode() and "&lt;img src=x" in response.content.decode()
    comment = Comment.objects.get()
    assert Mention.objects.get().user == senior
    event = AuditEvent.objects.get(action=AuditAction.COMMENT)
    assert event.actor == reviewer and event.data["mentioned"] == ["sam"]
    home = page(_client(senior).get("/"))
    assert "rita" in home and f"/items/{item.pk}/#discussion" in home and "<img src=x onerror=alert(1)> hi @sam" in home
    assert "<img src=x" not in _client(senior).get("/").content.decode()
    assert comment.body == PAYLOAD


def test_a_mention_does_not_reach_someone_who_may_not_see_the_item(reviewer, senior):
    item = make_item(n=1)
    bob = User.objects.create_user("bob", password="pw-bob")
    bob.groups.add(Group.objects.get(name="reviewer"))
    sam_item = make_item("escalation", n=2)
    _client(senior).post(f"/items/{sam_item.pk}/comments/", {"body": "@rita look"})
    _client(reviewer).post(f"/items/{item.pk}/comments/", {"body": "@olga @nobody @bob"})

    assert list(Mention.objects.values_list("user__username", flat=True)) == ["bob"]  # rita cannot see sam_item


def test_marking_mentions_read_clears_them_from_home_and_is_audited(reviewer, senior):
    item = make_item(n=1)
    _client(reviewer).post(f"/items/{item.pk}/comments/", {"body": "@sam one"})
    _client(reviewer).post(f"/items/{item.pk}/comments/", {"body": "@sam two"})
    sam = _client(senior)

    assert sam.post("/my/mentions/dismiss/").status_code == 302
    sam.post("/my/mentions/dismiss/")  # nothing left unread: nothing to record

    assert not Mention.objects.filter(read_at=None).exists() and "@sam one" not in page(sam.get("/"))
    event = AuditEvent.objects.get(action=AuditAction.MENTIONS_READ)
    assert event.actor == senior and event.data["mentions"] == 2


def test_comments_are_seen_by_everyone_who_may_see_the_item_only(reviewer, senior, outsider):
    item = make_item(n=1)
    _client(reviewer).post(f"/items/{item.pk}/comments/", {"body": "tricky one"})

    assert "tricky one" in page(_client(senior).get(f"/items/{item.pk}/discussion/"))
    assert _client(outsider).get(f"/items/{item.pk}/discussion/").status_code == 403
    seniors_item = make_item("escalation", n=2)
    assert _client(reviewer).get(f"/items/{seniors_item.pk}/discussion/").status_code == 404
    assert _client(reviewer).post(f"/items/{seniors_item.pk}/comments/", {"body": "x"}).status_code == 404


def test_only_the_author_edits_a_comment_and_only_for_a_while(reviewer, senior):
    item = make_item(n=1)
    rita = _client(reviewer)
    rita.post(f"/items/{item.pk}/comments/", {"body": "first"})
    comment = Comment.objects.get()

    assert _client(senior).post(f"/items/{item.pk}/comments/{comment.pk}/", {"body": "x"}).status_code == 422
    assert rita.post(f"/items/{item.pk}/comments/{comment.pk}/", {"body": "second"}).status_code == 302
    comment.refresh_from_db()
    assert comment.body == "second" and comment.edited_at is not None
    assert AuditEvent.objects.get(action=AuditAction.COMMENT_EDIT).data["before"] == "first"
    Comment.objects.filter(pk=comment.pk).update(created_at=comment.created_at - timedelta(minutes=16))
    assert rita.post(f"/items/{item.pk}/comments/{comment.pk}/", {"body": "third"}).status_code == 422
    assert "Edit</summary>" not in page(rita.get(f"/items/{item.pk}/discussion/"))


def test_empty_comments_are_refused(reviewer):
    item = make_item(n=1)
    response = _client(reviewer).post(f"/items/{item.pk}/comments/", {"body": "   "}, headers=HX)
    assert response.status_code == 422 and not Comment.objects.exists()


def test_tags_are_added_once_removed_and_audited(reviewer):
    item = make_item(n=1)
    rita = _client(reviewer)

    rita.post(f"/items/{item.pk}/tags/", {"name": "Needs Policy"})
    again = rita.post(f"/items/{item.pk}/tags/", {"name": "needs-policy"}, headers=HX)
    bad = rita.post(f"/items/{item.pk}/tags/", {"name": "<b>"}, headers=HX)

    assert list(ItemTag.objects.values_list("name", flat=True)) == ["needs-policy"]
    assert again.status_code == 422 and bad.status_code == 422
    rita.post(f"/items/{item.pk}/tags/remove/", {"name": "needs-policy"})
    assert not ItemTag.objects.exists()
    actions = list(AuditEvent.objects.filter(action__startswith="tag").order_by("pk").values_list("action", flat=True))
    assert actions == [AuditAction.TAG_ADD, AuditAction.TAG_REMOVE]


def _kinds(client: Client, item: ReviewItem) -> list[str]:
    return [event.kind for event in client.get(f"/items/{item.pk}/history/").context["events"]]


def test_history_follows_claim_skip_decide_escalate_and_resolve(reviewer, senior):
    rita, sam = _client(reviewer), _client(senior)
    item = make_item(n=1)
    claim(rita)
    rita.post(f"/items/{item.pk}/skip/", {"reason": "need coffee"})
    ReviewItem.objects.filter(pk=item.pk).update(claimed_by=None)
    claimed = claim(sam)  # sam (a senior) works triage too: claims, and decides nothing yet
    assert claimed is not None and claimed.pk == item.pk
    sam.post(f"/items/{item.pk}/escalate/", {"reason": "policy call"})
    senior_item = ReviewItem.objects.get(queue__kind=QueueKind.ESCALATION)
    assert claim(sam, "escalation") == senior_item
    sam.post(f"/items/{senior_item.pk}/decide/", DECISION)

    kinds = _kinds(sam, senior_item)

    for kind in ("received", "scored", "opened", "claimed", "skipped", "escalated", "decided", "resolved"):
        assert kind in kinds, kind
    assert kinds.index("skipped") < kinds.index("escalated") < kinds.index("decided") <= kinds.index("resolved")
    body = page(sam.get(f"/items/{senior_item.pk}/history/"))
    assert "need coffee" in body and "policy call" in body and f'href="/items/{item.pk}/"' in body


def test_history_hides_others_decisions_while_under_blind_review(reviewer, senior):
    item = make_item(n=1, reviews_required=2)
    decision_record(item=item, reviewer=senior, verdict="over_refusal", rationale="secret")
    rita = _client(reviewer)

    assert "decided" not in _kinds(rita, item)
    assert "secret" not in page(rita.get(f"/items/{item.pk}/history/"))
    decision_record(item=item, reviewer=reviewer, verdict="over_refusal")
    assert _kinds(rita, item).count("decided") == 2  # closed: everyone's decisions show


def test_senior_inbox_lists_open_escalations_sorted_with_a_header_count(reviewer, senior):
    rita, sam = _client(reviewer), _client(senior)
    first, second = make_item(n=1), make_item(n=2)
    for item, reason in ((first, "older <b>one</b>"), (second, "newer one")):
        assert claim(rita) == item
        rita.post(f"/items/{item.pk}/escalate/", {"reason": reason})

    response = sam.get("/inbox/")
    rows = response.context["rows"]

    assert [row.reason for row in rows] == ["older <b>one</b>", "newer one"]
    assert rows[0].raised_by_name == "rita" and rows[0].from_item == first.pk
    body = response.content.decode()
    assert "&lt;b&gt;one" in body and 'id="inbox-link"' in body and ">2</span>" in body
    assert sam.get("/inbox/", {"sort": "newest"}).context["rows"][0].reason == "newer one"
    assert rita.get("/inbox/").status_code == 403 and 'id="inbox-link"' not in rita.get("/").content.decode()
    senior_item = rows[0]
    top = page(sam.get(f"/items/{senior_item.pk}/"))
    assert "older <b>one</b>" in top.split("Routed by")[0] or "older <b>one</b>" in top
    assert top.index('class="escalation-top"') < top.index('class="conversation"')


def test_history_shows_reveals_edits_comments_tags_and_snapshots(reviewer):
    from reviews.datasets.lineage import lineage_record
    from reviews.models import Dataset, DatasetStatus
    from reviews.workspace import reviewing

    rita = _client(reviewer)
    item = make_item(n=1)
    assert claim(rita) == item
    reviewing.content_reveal(item=item, reviewer=reviewer, message_index=1)
    rita.post(f"/items/{item.pk}/decide/", DECISION)
    decision = item.decisions.get()
    reviewing.decision_edit(decision=decision, reviewer=reviewer, verdict="over_refusal", severity=2)
    rita.post(f"/items/{item.pk}/comments/", {"body": "see policy 4.2"})
    rita.post(f"/items/{item.pk}/tags/", {"name": "policy-gap"})
    dataset = Dataset.objects.create(kind="eval", status=DatasetStatus.READY, row_count=1)
    lineage_record(dataset=dataset, first_conversation_id=item.conversation_id,
                   last_conversation_id=item.conversation_id, decision_ids=[decision.pk])  # fmt: skip

    events = rita.get(f"/items/{item.pk}/history/").context["events"]
    texts = {event.kind: event.text for event in events}

    assert texts["revealed"] == "Revealed turn 2"
    assert texts["edited"].startswith("Edited a decision (") and "verdict" in texts["edited"]
    assert texts["commented"] == "Commented" and texts["tagged"] == "Tagged policy-gap"
    assert texts["exported"].startswith(f"Exported in snapshot {dataset.pk}")
