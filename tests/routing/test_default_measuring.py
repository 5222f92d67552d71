"""The default policy gives the metrics data: a calibration sample for recall, double review for agreement."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from reviews.models import (
    AgreementRollup,
    Conversation,
    Decision,
    Flag,
    PolicyVersion,
    QueueKind,
    ReviewItem,
    Score,
    Source,
)
from reviews.routing.policy import DEFAULT_POLICY, Facts, PolicyDocument, route
from reviews.routing.services import items_route

pytestmark = pytest.mark.measuring  # these tests are about the draws the other tests turn off


def _facts(cid: int, *, risk: float, flagged: bool) -> Facts:
    return Facts(
        conversation_id=cid,
        source_kind="output_classifier",
        source_name="guard",
        flagged=frozenset({"cyber"}) if flagged else frozenset(),
        detector_scores={"d": risk} if flagged else {},
        risks={"cyber": risk},
        risk=risk,
        model_name="m",
    )


@pytest.mark.django_db
def test_the_active_default_policy_samples_for_calibration_and_double_reviews_a_share():
    active = PolicyVersion.objects.get(is_active=True)
    document = PolicyDocument.model_validate(active.document)
    assert 0 < document.sampling.low_risk_percent <= 5 and 0 < document.sampling.unflagged_percent <= 5
    assert 0 < document.double_review.percent <= 10
    assert PolicyDocument.model_validate(DEFAULT_POLICY).double_review.percent == document.double_review.percent

    outcomes = Counter()
    for cid in range(1, 4001):
        risky = route(document, _facts(cid, risk=0.6, flagged=True), hard_limits=frozenset())
        quiet = route(document, _facts(cid, risk=0.05, flagged=False), hard_limits=frozenset())
        outcomes["double"] += risky.queue == "triage" and risky.double_review
        outcomes["sampled"] += quiet.sampled and quiet.queue == "calibration"
    assert 3 < 100 * outcomes["double"] / 4000 < 7  # about 5 %
    assert 2 < 100 * outcomes["sampled"] / 4000 < 4  # about 3 %


@pytest.mark.django_db
def test_a_double_review_draw_makes_a_triage_item_that_needs_two_reviews():
    source = Source.objects.create(name="guard", kind="output_classifier")
    ids = []
    for n in range(100):
        conversation = Conversation.objects.create(source=source, external_id=f"c{n}", messages=[])
        Flag.objects.create(conversation=conversation, detector="d", category="cyber", score=0.6)
        Score.objects.create(conversation=conversation, producer="fallback", categories={"cyber": 0.6}, risk=0.6)
        ids.append(conversation.pk)

    outcomes = items_route(conversation_ids=ids)

    doubled = {cid for cid, outcome in outcomes.items() if outcome.double_review}
    assert doubled
    items = ReviewItem.objects.filter(conversation_id__in=ids, queue__slug="triage")
    assert {i.conversation_id for i in items if i.reviews_required == 2} == doubled


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_demo_shows_double_reviews_and_decides_its_calibration_sample_first():
    call_command("seed_demo", "--conversations", "300", "--no-train", stdout=StringIO())

    assert AgreementRollup.objects.exists()  # kappa and alpha have items
    assert ReviewItem.objects.filter(reviews_required=2, reviews_done=2).exists()
    sampled = ReviewItem.objects.filter(queue__kind=QueueKind.CALIBRATION)
    assert sampled.exists()  # from the traffic the detectors let pass
    assert Decision.objects.filter(item__in=sampled).count() == sampled.count()  # recall gets all the sample
