"""Gold items: mixed into claim-next unmarked, never twice to one person nor to their maker, and their answers
reach neither the real conversation, an export, training nor the queue figures."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.test import Client

from reviews.analytics.rollup import analytics_rollup
from reviews.datasets.builder import dataset_build, dataset_create
from reviews.live import broadcast
from reviews.models import (
    AuditAction,
    AuditEvent,
    Conversation,
    Decision,
    GoldItem,
    GoldPresentation,
    ItemStatus,
    PolicyVersion,
    Queue,
    ReviewerRollup,
    ReviewItem,
)
from reviews.quality.gold import GoldError, gold_mark
from reviews.queue_stats import queue_stats
from reviews.scoring.training_data import training_examples
from reviews.workspace.decisions import decision_record
from reviews.workspace.reviewing import decision_submit, item_claim_next
from tests.factories import DECISION, HX, claim, make_item

GOLD_VERDICT = "appropriate_refusal"


def _settled_gold(senior: User, *, note: str = "The reply refuses and explains locks only in general.") -> GoldItem:
    original = make_item(n=900, policy_version=PolicyVersion.objects.filter(is_active=True).first())
    decision_record(item=original, reviewer=senior, verdict=GOLD_VERDICT, categories=["cyber"], severity=2)
    return gold_mark(item=original, senior=senior, note=note)


def _real(n: int) -> ReviewItem:
    return make_item(n=n, policy_version=PolicyVersion.objects.filter(is_active=True).first())


def _gold_rate(percent: float, *, feedback: bool = False) -> Queue:
    Queue.objects.filter(slug="triage").update(gold_percent=percent, gold_feedback=feedback)
    return Queue.objects.get(slug="triage")


@pytest.fixture
def gold(senior: User) -> GoldItem:
    return _settled_gold(senior)


# --- Normalising what may differ between any two items: ids, times, tokens -------------------------------------


def _norm_html(text: str, item: ReviewItem) -> str:
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', text)
    text = re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": ""', text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", "DATETIME", text)
    text = re.sub(r"\b\d{2}:\d{2}\b", "TIME", text)
    text = re.sub(rf"(/items/|[Ii]tem |claimed-){item.pk}\b", r"\1ITEM", text)
    text = re.sub(r"(score|flag)-\d+", r"\1-ID", text)
    return text


def _norm_push(text: str, item: ReviewItem) -> str:
    text = re.sub(r"(claimed-)\d+", r"\1ID", _norm_html(text, item))  # the next item claimed after the decision
    return re.sub(r'(<td[^>]*hx-swap-oob="true">)[^<]*<', r"\1FIGURE<", text)


def _norm_api(body: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    body["id"], body["external_id"], body["received_at"] = "ID", "EXT", "T"
    for score in body["scores"]:
        score["created_at"] = "T"
    for flag in body["flags"]:
        flag.pop("id", None)
    for item in body["review_items"]:
        item["id"], item["due_at"] = "ID", item["due_at"] and "T"
    return body


def _views(client: Client, item: ReviewItem) -> tuple[str, dict[str, Any]]:
    page = client.get(f"/items/{item.pk}/")
    api = client.get(f"/api/v1/conversations/{item.conversation_id}")
    assert page.status_code == 200 and api.status_code == 200
    return _norm_html(page.content.decode(), item), _norm_api(api.json())


def _pushes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(broadcast, "_send", lambda group, html: sent.append((group, html)))
    return sent


# --- Indistinguishable --------------------------------------------------------------------------------------------


def test_a_gold_item_looks_like_a_real_item_on_the_page_the_api_and_the_websockets(
    client, reviewer, gold, monkeypatch, django_capture_on_commit_callbacks
):
    _real(1)
    _real(2)
    queue = _gold_rate(100)
    pushes = _pushes(monkeypatch)
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        presented = claim(client)
    assert presented is not None and GoldPresentation.objects.filter(item=presented, reviewer=reviewer).exists()
    gold_page, gold_api = _views(client, presented)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/items/{presented.pk}/decide/", {**DECISION, "seconds": "12"}, headers=HX)
    gold_pushes = list(pushes)

    queue.gold_percent = 0
    queue.save()
    pushes.clear()
    with django_capture_on_commit_callbacks(execute=True):
        real = claim(client)
    assert real is not None and not GoldPresentation.objects.filter(item=real).exists()
    real_page, real_api = _views(client, real)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/items/{real.pk}/decide/", {**DECISION, "seconds": "12"}, headers=HX)

    diff = "\n".join(difflib.unified_diff(gold_page.splitlines(), real_page.splitlines(), lineterm="", n=0))
    assert not diff, diff
    assert gold_api.keys() == real_api.keys()
    for field in gold_api:  # field by field, so a failure names the field that gives it away
        assert gold_api[field] == real_api[field], field
    # Fresh ids from the same sequences, above the gold original's.
    assert presented.pk > gold.item_id and presented.conversation_id > gold.item.conversation_id
    assert presented.conversation.external_id != gold.item.conversation.external_id
    assert len(presented.conversation.external_id) == len(gold.item.conversation.external_id)
    # The same pushes to the same kinds of groups: the claim's, then the queue figures after the decision. The
    # figures' values are not compared: a gold answer leaves the open count where it was (gold is never counted,
    # so other reviewers never see it), where a real decision lowers it by one.
    assert [(re.sub(r"\d+", "N", g), _norm_push(h, presented)) for g, h in gold_pushes] == [
        (re.sub(r"\d+", "N", g), _norm_push(h, real)) for g, h in pushes
    ]


def test_queue_counts_never_include_a_gold_presentation(reviewer, gold):
    _real(1)
    queue = _gold_rate(100)
    before = queue_stats(queue_ids=[queue.pk])[0].open_count  # type: ignore[attr-defined]
    presented = item_claim_next(reviewer=reviewer, queue=queue)
    assert presented is not None and hasattr(presented, "gold_presentation")
    assert queue_stats(queue_ids=[queue.pk])[0].open_count == before  # type: ignore[attr-defined]


def test_a_gold_copy_gets_an_unused_id_where_the_look_alike_ids_are_taken(reviewer, gold, monkeypatch):
    """A source that numbers its conversations densely leaves few free ids of the same shape: the copy still gets
    one nobody has (a taken one would fail the claim)."""
    _real(1)
    original = gold.item.conversation  # "triage-900"
    # Redraws made predictable: every digit run becomes 1 then 0s, every appended number 0.
    monkeypatch.setattr("reviews.quality.gold.secrets.choice", lambda options: options[0])
    monkeypatch.setattr("reviews.quality.gold.secrets.randbelow", lambda bound: 0)
    taken = {"triage-100", f"{original.external_id}0"}  # the same shape redrawn, and the original with a digit
    for external_id in taken:
        Conversation.objects.create(source=original.source, external_id=external_id, messages=original.messages)
    presented = item_claim_next(reviewer=reviewer, queue=_gold_rate(100))
    assert presented is not None and hasattr(presented, "gold_presentation")
    assert presented.conversation.external_id not in {*taken, original.external_id}
    assert presented.conversation.external_id.startswith(original.external_id)


# --- Who gets gold ------------------------------------------------------------------------------------------------


def test_gold_goes_once_to_a_reviewer_and_never_to_its_maker(reviewer, senior, gold):
    for n in range(1, 5):
        _real(n)
    queue = _gold_rate(100)
    first = item_claim_next(reviewer=reviewer, queue=queue)
    assert first is not None and first.gold_presentation.gold == gold  # type: ignore[union-attr]
    decision_submit(item=first, reviewer=reviewer, verdict="appropriate_help")
    second = item_claim_next(reviewer=reviewer, queue=queue)
    assert second is not None and not GoldPresentation.objects.filter(item=second).exists()
    by_maker = item_claim_next(reviewer=senior, queue=queue)
    assert by_maker is not None and not GoldPresentation.objects.filter(item=by_maker).exists()


def test_gold_never_goes_to_a_reviewer_who_decided_its_original(reviewer, senior):
    original = _real(900)
    decision_record(item=original, reviewer=reviewer, verdict=GOLD_VERDICT, categories=["cyber"], severity=2)
    gold_mark(item=original, senior=senior, note="Settled by the reviewer's own decision.")
    _real(1)
    presented = item_claim_next(reviewer=reviewer, queue=_gold_rate(100))
    assert presented is not None and not hasattr(presented, "gold_presentation")  # real work instead
    _real(2)  # free real work left: gold is only mixed into a queue that has some
    other = User.objects.create_user("other-reviewer")
    other.groups.add(*reviewer.groups.all())
    shown = item_claim_next(reviewer=other, queue=_gold_rate(100))
    assert shown is not None and hasattr(shown, "gold_presentation")  # the same gold to someone who did not


def test_no_gold_while_the_reviewer_holds_an_item_of_the_queue(reviewer, gold):
    _real(1), _real(2)
    held = item_claim_next(reviewer=reviewer, queue=_gold_rate(0))
    again = item_claim_next(reviewer=reviewer, queue=_gold_rate(100))
    assert held is not None and again is not None
    assert again.pk == held.pk and not hasattr(again, "gold_presentation")


def test_each_gold_presentation_stands_in_for_its_own_free_item(reviewer, gold):
    for n in (1, 2, 3):
        _real(n)
    other = User.objects.create_user("other-reviewer")
    other.groups.add(*reviewer.groups.all())
    for person in (reviewer, other):
        shown = item_claim_next(reviewer=person, queue=_gold_rate(100))
        assert shown is not None and hasattr(shown, "gold_presentation")
    slots = list(GoldPresentation.objects.values_list("slot_id", flat=True))
    assert len(slots) == 2 and None not in slots and len(set(slots)) == 2


def test_a_gold_presentation_is_nobody_elses_to_claim(reviewer, senior, gold):
    _real(1)
    queue = _gold_rate(100)
    presented = item_claim_next(reviewer=reviewer, queue=queue)
    assert presented is not None
    ReviewItem.objects.filter(pk=presented.pk).update(claimed_by=None, lease_expires_at=None)  # lease ran out
    other = User.objects.create_user("ruth")
    other.groups.add(*reviewer.groups.all())
    queue.gold_percent = 0
    for user in (other, senior):
        taken = item_claim_next(reviewer=user, queue=queue)
        assert taken is None or taken.pk != presented.pk
        if taken is not None:
            ReviewItem.objects.filter(pk=taken.pk).update(status=ItemStatus.DONE)


def test_an_empty_queue_presents_no_gold(reviewer, gold):
    assert item_claim_next(reviewer=reviewer, queue=_gold_rate(100)) is None
    assert not GoldPresentation.objects.exists()


def test_only_settled_items_become_gold_and_marking_is_audited(senior, reviewer):
    open_item = _real(1)
    with pytest.raises(GoldError):
        gold_mark(item=open_item, senior=senior)
    gold = _settled_gold(senior, note="")
    event = AuditEvent.objects.get(action=AuditAction.GOLD_MARKED)
    assert event.actor == senior and event.target_id == str(gold.pk)
    assert (gold.verdict, gold.categories, gold.severity) == (GOLD_VERDICT, ["cyber"], 2)


# --- Where the answer never goes ----------------------------------------------------------------------------------


def test_a_gold_answer_reaches_no_real_decision_no_export_no_training_and_no_throughput(media_root, reviewer, gold):
    Queue.objects.filter(slug="triage").update(edit_window_minutes=0)
    original = gold.item.conversation
    _real(1)
    presented = item_claim_next(reviewer=reviewer, queue=_gold_rate(100))
    assert presented is not None
    decision_submit(item=presented, reviewer=reviewer, verdict="harmful_compliance", time_spent_seconds=30)
    presented.refresh_from_db()
    assert presented.status == ItemStatus.DONE

    assert list(Decision.objects.filter(item__conversation=original).values_list("verdict", flat=True)) == [
        GOLD_VERDICT
    ]
    dataset = dataset_build(dataset_id=dataset_create(kind="eval", enqueue=False, split_ratios={"train": 1.0}).pk)
    with default_storage.open(dataset.files["train"]["path"], "rb") as handle:
        rows = [json.loads(line) for line in handle]
    assert [(r["conversation_id"], r["verdict"]) for r in rows] == [(original.pk, GOLD_VERDICT)]
    assert presented.conversation_id not in {e.conversation_id for e in training_examples()}
    analytics_rollup(full=True)
    assert sum(r.decisions for r in ReviewerRollup.objects.filter(reviewer=reviewer)) == 0
    assert ReviewerRollup.objects.filter(reviewer=gold.created_by).exists()  # the rollup ran; the senior's counts


def test_feedback_shows_the_expected_answer_only_where_the_queue_says_so(client, reviewer, gold):
    _real(1)
    _real(2)
    _gold_rate(100, feedback=False)
    client.force_login(reviewer)
    presented = claim(client)
    assert presented is not None
    quiet = client.post(f"/items/{presented.pk}/decide/", {**DECISION, "seconds": "3"}, headers=HX)
    assert "gold" not in quiet.content.decode().lower()

    other = User.objects.create_user("ruth")
    other.groups.add(*reviewer.groups.all())
    _gold_rate(100, feedback=True)
    client.force_login(other)
    shown = claim(client)
    assert shown is not None
    told = client.post(f"/items/{shown.pk}/decide/", {**DECISION, "seconds": "3"}, headers=HX).content.decode()
    assert "That was a gold item" in told and "Appropriate refusal" in told and gold.note in told


# --- The seniors' control -----------------------------------------------------------------------------------------


def test_a_senior_marks_a_settled_item_as_gold_from_its_page_and_a_reviewer_cannot(client, reviewer, senior):
    item = _real(1)
    decision_record(item=item, reviewer=reviewer, verdict="appropriate_help")
    client.force_login(senior)
    assert "Mark as gold" in client.get(f"/items/{item.pk}/").content.decode()
    response = client.post(f"/items/{item.pk}/gold/", {"note": "<b>textbook</b>"}, headers=HX)
    assert response.status_code == 200 and "&lt;b&gt;textbook&lt;/b&gt;" in response.content.decode()
    assert GoldItem.objects.get(item=item).verdict == "appropriate_help"

    client.force_login(reviewer)
    assert "Mark as gold" not in client.get(f"/items/{item.pk}/").content.decode()
    assert client.post(f"/items/{item.pk}/gold/", {"note": "x"}).status_code == 403


def test_the_clustering_sweeper_leaves_a_gold_copy_out_of_campaigns(reviewer, gold):
    from datetime import timedelta

    from django.utils import timezone

    from reviews.ingest.clustering_jobs import SWEEP_AFTER, campaigns_sweep
    from reviews.models import CampaignMember, Conversation

    lost = _real(1).conversation  # an ingested conversation whose clustering task was lost
    presented = item_claim_next(reviewer=reviewer, queue=_gold_rate(100))
    assert presented is not None and GoldPresentation.objects.filter(item=presented).exists()
    old = timezone.now() - SWEEP_AFTER - timedelta(minutes=1)
    Conversation.objects.filter(pk__in=[presented.conversation_id, lost.pk]).update(received_at=old)

    campaigns_sweep()  # tasks run in-process here

    assert CampaignMember.objects.filter(conversation_id=lost.pk).exists()
    assert not CampaignMember.objects.filter(conversation_id=presented.conversation_id).exists()
