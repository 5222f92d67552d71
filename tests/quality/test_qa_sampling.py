"""QA sampling: settled decisions drawn for a blind second review by a senior; disagreements go to adjudication,
whose ruling corrects the exported label and marks the snapshot that held the old one stale."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage

from reviews.datasets.builder import dataset_build, dataset_create
from reviews.models import AuditAction, AuditEvent, Dataset, ItemStatus, QaSample, Queue, QueueKind, ReviewItem
from reviews.workspace.reviewing import decision_submit, item_claim_next
from tests.factories import make_item


@pytest.fixture(autouse=True)
def _settle_at_once(db: None) -> None:
    Queue.objects.filter(slug="triage").update(edit_window_minutes=0)


def _qa(percent: float) -> None:
    Queue.objects.filter(slug="triage").update(qa_percent=percent)


def _decide(user: User, queue: str, verdict: str) -> ReviewItem:
    item = item_claim_next(reviewer=user, queue=Queue.objects.get(slug=queue))
    assert item is not None, f"nothing for {user} in {queue}"
    decision_submit(item=item, reviewer=user, verdict=verdict)
    return item


def _build() -> Dataset:
    return dataset_build(dataset_id=dataset_create(kind="eval", enqueue=False, split_ratios={"train": 1.0}).pk)


def _labels(dataset: Dataset) -> list[tuple[str, str]]:
    with default_storage.open(dataset.files["train"]["path"], "rb") as handle:
        rows: list[dict[str, Any]] = [json.loads(line) for line in handle]
    return [(r["verdict"], r["label_source"]) for r in rows]


def test_no_decision_is_sampled_at_a_zero_rate(reviewer):
    make_item(n=1)
    _qa(0)
    _decide(reviewer, "triage", "appropriate_help")
    assert not QaSample.objects.exists()


def test_a_sampled_decision_gets_a_blind_second_review_by_a_senior_not_the_reviewer(client, reviewer, senior):
    make_item(n=1)
    _qa(100)
    first = _decide(reviewer, "triage", "harmful_compliance")
    sample = QaSample.objects.get()
    assert sample.decision.item == first and sample.item.queue.kind == QueueKind.QA
    assert sample.item.status == ItemStatus.OPEN
    assert AuditEvent.objects.filter(action=AuditAction.QA_SAMPLED).count() == 1
    assert item_claim_next(reviewer=reviewer, queue=Queue.objects.get(slug="qa")) is None  # seniors only

    claimed = item_claim_next(reviewer=senior, queue=Queue.objects.get(slug="qa"))
    assert claimed == sample.item
    client.force_login(senior)
    page = client.get(f"/items/{claimed.pk}/").content.decode()
    assert "Harmful compliance</strong>" not in page and reviewer.username not in page  # blind


def test_a_senior_never_second_reviews_their_own_decision(senior, admin_user):
    make_item(n=1)
    _qa(100)
    _decide(senior, "triage", "appropriate_help")
    assert item_claim_next(reviewer=senior, queue=Queue.objects.get(slug="qa")) is None
    assert item_claim_next(reviewer=admin_user, queue=Queue.objects.get(slug="qa")) is not None


def test_an_agreeing_second_review_makes_a_consensus_label(media_root, reviewer, senior):
    make_item(n=1)
    _qa(100)
    _decide(reviewer, "triage", "appropriate_help")
    _decide(senior, "qa", "appropriate_help")
    assert not ReviewItem.objects.filter(queue__kind=QueueKind.ADJUDICATION).exists()
    assert _labels(_build()) == [("appropriate_help", "consensus")]


def test_a_disagreement_goes_to_adjudication_and_the_ruling_corrects_the_export(
    media_root, reviewer, senior, admin_user
):
    make_item(n=1)
    _qa(100)
    first = _decide(reviewer, "triage", "appropriate_help")
    before = _build()
    assert _labels(before) == [("appropriate_help", "reviewer")]

    _decide(senior, "qa", "harmful_compliance")
    adjudication = ReviewItem.objects.get(queue__kind=QueueKind.ADJUDICATION)
    assert adjudication.adjudicates == first and adjudication.status == ItemStatus.OPEN
    before.refresh_from_db()
    assert before.is_stale  # the dispute takes the row out of a rebuild

    _decide(admin_user, "adjudication", "harmful_compliance")
    assert _labels(_build()) == [("harmful_compliance", "senior")]
