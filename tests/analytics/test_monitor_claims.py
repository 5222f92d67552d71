"""Monitor precision by what each kind of monitor claims."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from reviews.analytics.dashboards import dashboard_build
from reviews.analytics.rollup import analytics_rollup
from reviews.analytics.types import AnalyticsFilters
from reviews.models import Flag, PolicyVersion, Queue, ReviewItem, RoutingRecord, Source
from reviews.routing.policy import DEFAULT_POLICY
from reviews.workspace.decisions import decision_record
from tests import factories

HC, AR, OR, AH = "harmful_compliance", "appropriate_refusal", "over_refusal", "appropriate_help"


def _flagged(source: Source, n: int, verdict: str, reviewer: Any) -> None:
    conversation = factories.conversation(source, f"{source.name}-{n}", model_name="m", scoring_status="scored")
    Flag.objects.create(conversation=conversation, detector="d", category="cyber", score=0.9)
    item = ReviewItem.objects.create(conversation=conversation, queue=Queue.objects.get(slug="triage"))
    decision_record(item=item, reviewer=reviewer, verdict=verdict, categories=["cyber"] if verdict != AH else [])


def _precision(source: str) -> tuple[Any, ...]:
    now = timezone.now()
    analytics_rollup(now=now)
    filters = AnalyticsFilters(start=now - timedelta(days=1), end=now + timedelta(hours=1))
    dashboard = dashboard_build(name="monitors", filters=filters)
    table = dashboard.table("monitors")
    assert table is not None
    [row] = [dict(zip(table.columns, r, strict=True)) for r in table.rows if r[0] == source]
    return row["Reviewed flags"], row["Confirmed"], row["Precision %"]


@pytest.mark.django_db
def test_an_output_classifier_whose_flagged_requests_were_all_refused_has_precision_zero(reviewer):
    classifier = Source.objects.create(name="reply-classifier", kind="output_classifier")
    for n in range(4):
        _flagged(classifier, n, AR, reviewer)  # harmful requests, rightly refused: the reply was fine

    assert _precision("reply-classifier") == (4, 0, 0.0)


@pytest.mark.django_db
def test_each_kind_of_monitor_is_confirmed_by_what_it_claims(reviewer):
    kinds = {"cot": "cot_monitor", "guard": "input_guardrail", "reports": "user_report"}
    sources = {name: Source.objects.create(name=name, kind=kind) for name, kind in kinds.items()}
    for source in sources.values():
        for n, verdict in enumerate((HC, AR, OR, AH)):
            _flagged(source, n, verdict, reviewer)

    assert _precision("cot") == (4, 1, 25.0)  # harmful compliance only
    assert _precision("guard") == (4, 2, 50.0)  # a harmful request: harmful compliance or appropriate refusal
    assert _precision("reports") == (4, 3, 75.0)  # anything but appropriate help


@pytest.mark.django_db
def test_the_dashboard_says_what_confirms_each_kind_of_monitor():
    now = timezone.now()
    dashboard = dashboard_build(name="monitors", filters=AnalyticsFilters(start=now - timedelta(days=1), end=now))
    notes = " ".join(dashboard.notes)
    assert "output classifiers and chain-of-thought monitors by harmful compliance" in notes
    assert "user reports by any verdict other than appropriate help" in notes


def _sampled(source: Source, name: str, version: PolicyVersion, *, flag: bool, verdict: str, reviewer: Any) -> None:
    conversation = factories.conversation(source, name, model_name="m", scoring_status="scored")
    if flag:
        Flag.objects.create(conversation=conversation, detector="d", category="cyber", score=0.1)
    calibration = Queue.objects.get(slug="calibration")
    RoutingRecord.objects.create(
        conversation=conversation, policy_version=version, rule="fallback", outcome="sampled", queue=calibration
    )
    item = ReviewItem.objects.create(conversation=conversation, queue=calibration)
    decision_record(item=item, reviewer=reviewer, verdict=verdict, categories=["cyber"] if verdict == HC else [])


@pytest.mark.django_db
def test_recall_weighs_each_sampled_conversation_by_its_inverse_sampling_rate(reviewer):
    document = {**DEFAULT_POLICY, "sampling": {"low_risk_percent": 25.0, "unflagged_percent": 5.0}}
    version = PolicyVersion.objects.create(number=90, document=document)
    guard = Source.objects.create(name="guard", kind="input_guardrail")
    # Harmful: two flagged low-risk conversations (sampled at 25 %: weight 4 each) and one unflagged (5 %: 20).
    _sampled(guard, "a1", version, flag=True, verdict=HC, reviewer=reviewer)
    _sampled(guard, "a2", version, flag=True, verdict=HC, reviewer=reviewer)
    _sampled(guard, "b1", version, flag=False, verdict=HC, reviewer=reviewer)
    _sampled(guard, "c1", version, flag=True, verdict=AH, reviewer=reviewer)  # not harmful: not in recall

    now = timezone.now()
    analytics_rollup(now=now)
    table = dashboard_build(
        name="monitors", filters=AnalyticsFilters(start=now - timedelta(days=1), end=now + timedelta(hours=1))
    ).table("monitors")
    assert table is not None
    [row] = [dict(zip(table.columns, r, strict=True)) for r in table.rows if r[0] == "guard"]

    # By hand: recall = (4 + 4) / (4 + 4 + 20) = 8/28 (unweighted it would be 2/3). The interval is Wilson's at
    # the effective sample size n = 28² / (4² + 4² + 20²) = 784 / 432.
    p, n, z = 8 / 28, 784 / 432, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (row["Harmful in calibration sample"], row["Flagged by this detector"]) == (3, 2)
    assert row["Recall %"] == round(100 * p, 2) == 28.57
    assert (row["Recall % low"], row["Recall % high"]) == (
        round(100 * (centre - margin), 2),
        round(100 * (centre + margin), 2),
    )


@pytest.mark.django_db
def test_a_reviewers_escalations_count_as_escalations_on_the_reviewers_dashboard(reviewer, senior):
    from reviews.workspace.escalations import escalation_raise
    from reviews.workspace.reviewing import decision_submit

    source = Source.objects.create(name="guard", kind="input_guardrail")
    triage = Queue.objects.get(slug="triage")
    for n in range(5):
        conversation = factories.conversation(source, f"e{n}", model_name="m", scoring_status="scored")
        lease = timezone.now() + timedelta(minutes=10)  # the workspace acts on live claims only
        item = ReviewItem.objects.create(
            conversation=conversation, queue=triage, claimed_by=reviewer, lease_expires_at=lease
        )
        if n < 2:
            decision_record(item=item, reviewer=reviewer, verdict=AH)
            continue
        escalation_raise(item=item, reviewer=reviewer, reason="needs a policy call")
        senior_item = ReviewItem.objects.get(conversation=conversation, queue__slug="escalation")
        ReviewItem.objects.filter(pk=senior_item.pk).update(claimed_by=senior, lease_expires_at=lease)
        decision_submit(item=senior_item, reviewer=senior, verdict=AR)

    now = timezone.now()
    analytics_rollup(now=now)
    start, end = now - timedelta(days=1), now + timedelta(hours=1)
    mine = dashboard_build(name="reviewers", filters=AnalyticsFilters(start, end, reviewer_id=reviewer.pk))
    table = mine.table("reviewers")
    assert table is not None
    [row] = [dict(zip(table.columns, r, strict=True)) for r in table.rows]
    assert (row["Decisions"], row["Escalated"], row["Escalations ruled on"]) == (2, 3, 3)

    team = dashboard_build(name="reviewers", filters=AnalyticsFilters(start, end)).table("adjudication")
    assert team is not None
    [triage_row] = [dict(zip(team.columns, r, strict=True)) for r in team.rows if r[0] == triage.name]
    assert (triage_row["Conversations decided"], triage_row["Escalated undecided"]) == (2, 3)
    assert (triage_row["Reached a senior"], triage_row["Reached a senior %"]) == (3, 60.0)


@pytest.mark.django_db
def test_the_safety_grid_is_models_by_categories_with_rate_interval_and_n(reviewer):
    source = Source.objects.create(name="guard", kind="input_guardrail")
    triage = Queue.objects.get(slug="triage")
    plan = [("m-a", HC, ["cyber"])] * 3 + [("m-a", AR, ["cyber"])] * 7 + [("m-b", HC, ["fraud"])] * 2
    for n, (model, verdict, categories) in enumerate(plan):
        conversation = factories.conversation(source, f"g{n}", model_name=model, scoring_status="scored")
        item = ReviewItem.objects.create(conversation=conversation, queue=triage)
        decision_record(item=item, reviewer=reviewer, verdict=verdict, categories=categories)
    now = timezone.now()
    analytics_rollup(now=now)

    dashboard = dashboard_build(
        name="safety", filters=AnalyticsFilters(now - timedelta(days=1), now + timedelta(hours=1))
    )
    grid = dashboard.table("grid-matrix")
    assert grid is not None and grid.title == "Safety grid by model and category"
    cyber, fraud = grid.columns[1:]
    cells = {row[0]: dict(zip(grid.columns[1:], row[1:], strict=True)) for row in grid.rows}
    # 3 of 10: Wilson 95 % interval 10.8-60.3.
    assert cells["m-a"][cyber] == "30.0 (10.8-60.3) n=10" and cells["m-a"][fraud] == ""
    assert cells["m-b"][fraud] == "100.0 (34.2-100.0) n=2"
