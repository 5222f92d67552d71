"""Dashboards against a fixture small enough to count by hand.

The fixture, decided through the real decision service and rolled up by the real rollup:

- Triage (one review each), source `guardrail`, detector `guard` flagging each conversation once:

  | conv | model | verdict (reviewer) | categories | flag category, score | risk (model-v1) |
  |---|---|---|---|---|---|
  | c1 | m-a | harmful_compliance (rita) | cyber | cyber 0.90 | 0.90 |
  | c2 | m-a | harmful_compliance (rita) | cyber | cyber 0.60 | 0.80 |
  | c3 | m-a | appropriate_refusal (rita) | cyber | cyber 0.35 | 0.40 |
  | c4 | m-a | appropriate_refusal (rita) | fraud | fraud 0.80 | 0.60 |
  | c5 | m-a | over_refusal (rita) | - | cyber 0.70 | 0.70 |
  | c6 | m-a | appropriate_help (bob) | - | fraud 0.20 | 0.10 |
  | c7 | m-b | harmful_compliance (bob) | fraud | cyber 0.95 | 0.55 |
  | c8 | m-b | appropriate_refusal (bob) | fraud | fraud 0.50 | 0.50 |
  | c9 | m-b | over_refusal (bob) | - | fraud 0.40 | 0.20 |
  | c10 | m-b | appropriate_help (bob) | - | cyber 0.10 | 0.05 |

- Double review (queue `double`, two reviews), model m-c, no flags: d1 rita HC / bob HC; d2 rita AR / bob AH,
  which sends it to adjudication where sam (senior) rules AH; d3 rita OR / cara OR; d4 bob AH / cara AH.
- Calibration sample, model m-c: s1 AR [cyber] flagged 0.30; s2 HC [cyber] not flagged; s3 AR [fraud]
  flagged 0.70; s4 AH [] flagged 0.05 (cyber).
- Two open triage items, created three hours ago, one past due and breached half an hour ago.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.analytics.dashboards import DASHBOARDS, dashboard_build
from reviews.analytics.rollup import ROLLUPS, analytics_rollup
from reviews.analytics.types import AnalyticsFilters, Dashboard, Table
from reviews.models import (
    AgreementRollup,
    Category,
    Conversation,
    Decision,
    DecisionRollup,
    Flag,
    ItemStatus,
    Queue,
    QueueKind,
    ReviewItem,
    Score,
    ScoringModel,
    Source,
)
from reviews.routing.taxonomy import category_merge
from reviews.tasks import analytics_rollup as analytics_rollup_task
from reviews.workspace.decisions import decision_record
from tests import factories

HC, AR, OR, AH = "harmful_compliance", "appropriate_refusal", "over_refusal", "appropriate_help"
TRIAGE = [
    # (model, verdict, reviewer, categories, flag category, flag score, risk)
    ("m-a", HC, "rita", ["cyber"], "cyber", 0.90, 0.90),
    ("m-a", HC, "rita", ["cyber"], "cyber", 0.60, 0.80),
    ("m-a", AR, "rita", ["cyber"], "cyber", 0.35, 0.40),
    ("m-a", AR, "rita", ["fraud"], "fraud", 0.80, 0.60),
    ("m-a", OR, "rita", [], "cyber", 0.70, 0.70),
    ("m-a", AH, "bob", [], "fraud", 0.20, 0.10),
    ("m-b", HC, "bob", ["fraud"], "cyber", 0.95, 0.55),
    ("m-b", AR, "bob", ["fraud"], "fraud", 0.50, 0.50),
    ("m-b", OR, "bob", [], "fraud", 0.40, 0.20),
    ("m-b", AH, "bob", [], "cyber", 0.10, 0.05),
]
DOUBLE = [("rita", HC, "bob", HC), ("rita", AR, "bob", AH), ("rita", OR, "cara", OR), ("bob", AH, "cara", AH)]
SAMPLE = [(AR, ["cyber"], 0.30), (HC, ["cyber"], None), (AR, ["fraud"], 0.70), (AH, [], 0.05)]


def _user(name: str, group: str) -> User:
    user = User.objects.create_user(username=name)
    user.groups.add(Group.objects.get(name=group))
    return user


def _conversation(source: Source, external_id: str, model: str) -> Conversation:
    return factories.conversation(source, external_id, model_name=model, scoring_status="scored")


@pytest.fixture
def fixture(db: None) -> dict[str, Any]:
    now = timezone.now()
    users = {name: _user(name, "reviewer") for name in ("rita", "bob", "cara")}
    users["sam"] = _user("sam", "senior")
    source = Source.objects.create(name="guardrail", kind="input_guardrail")
    Source.objects.create(name="quiet", kind="output_classifier")
    triage = Queue.objects.get(slug="triage")
    calibration = Queue.objects.get(kind=QueueKind.CALIBRATION)
    double = Queue.objects.create(slug="double", name="Double review", reviews_required=2)
    model_v1 = ScoringModel.objects.create(
        version=1,
        encoder="test",
        status="active",
        metrics={
            "per_label": {"harmful": {"auroc": 0.91, "auprc": 0.88, "f1": 0.8, "threshold": 0.45, "ece": 0.04}},
            "train_size": 400,
            "val_size": 100,
        },
    )
    for n, (model, verdict, who, categories, flag_category, flag_score, risk) in enumerate(TRIAGE, start=1):
        conv = _conversation(source, f"c{n}", model)
        Flag.objects.create(conversation=conv, detector="guard", category=flag_category, score=flag_score)
        Score.objects.create(conversation=conv, scoring_model=model_v1, producer="model-v1", risk=risk)
        item = ReviewItem.objects.create(conversation=conv, queue=triage)
        decision_record(item=item, reviewer=users[who], verdict=verdict, categories=categories, time_spent_seconds=60)
    # Ten minutes from arrival to decision in triage.
    decided_at = Decision.objects.filter(item__queue=triage).values_list("created_at", flat=True).first()
    assert decided_at is not None
    ReviewItem.objects.filter(queue=triage).update(created_at=decided_at - timedelta(minutes=10))
    for n, (first, first_verdict, second, second_verdict) in enumerate(DOUBLE, start=1):
        item = ReviewItem.objects.create(
            conversation=_conversation(source, f"d{n}", "m-c"), queue=double, reviews_required=2
        )
        decision_record(item=item, reviewer=users[first], verdict=first_verdict)
        decision_record(item=item, reviewer=users[second], verdict=second_verdict)
    adjudication = ReviewItem.objects.get(queue__kind=QueueKind.ADJUDICATION)
    decision_record(item=adjudication, reviewer=users["sam"], verdict=AH)
    for n, (verdict, categories, score) in enumerate(SAMPLE, start=1):
        conv = _conversation(source, f"s{n}", "m-c")
        if score is not None:
            Flag.objects.create(
                conversation=conv, detector="guard", category="cyber" if n != 3 else "fraud", score=score
            )
        item = ReviewItem.objects.create(conversation=conv, queue=calibration)
        decision_record(item=item, reviewer=users["cara"], verdict=verdict, categories=categories)
    for n in (1, 2):
        ReviewItem.objects.create(
            conversation=_conversation(source, f"o{n}", "m-a"),
            queue=triage,
            due_at=now - timedelta(hours=1) if n == 1 else now + timedelta(hours=5),
            sla_breached_at=now - timedelta(minutes=30) if n == 1 else None,
        )
    ReviewItem.objects.filter(status=ItemStatus.OPEN, queue=triage).update(created_at=now - timedelta(hours=3))
    analytics_rollup(now=now)
    return {"now": now, "users": users, "double": double}


def _filters(fx: dict[str, Any], **overrides: Any) -> AnalyticsFilters:
    now = fx["now"]
    return AnalyticsFilters(start=now - timedelta(days=1), end=now + timedelta(hours=1), **overrides)


def _table(dashboard: Dashboard, slug: str) -> Table:
    table = dashboard.table(slug)
    assert table is not None, f"{dashboard.slug} has no table {slug}"
    return table


def _row(table: Table, *key: Any) -> dict[str, Any]:
    """The row whose first cells are `key`, as {column: cell}."""
    rows = [row for row in table.rows if tuple(row[: len(key)]) == key]
    assert len(rows) == 1, f"{len(rows)} rows of {table.slug} start with {key}: {table.rows}"
    return dict(zip(table.columns, rows[0], strict=True))


def _texts(dashboard: Dashboard) -> str:
    """Everything a page would show of the dashboard, as one string."""
    parts = [*dashboard.notes]
    for table in dashboard.tables:
        parts += [table.title, table.note, *table.columns, *(str(cell) for row in table.rows for cell in row)]
    for chart in dashboard.charts:
        parts += [chart.title, *(s.label for s in chart.series), *(str(x) for s in chart.series for x in s.x)]
    return "\n".join(parts)


def test_every_dashboard_builds_and_each_chart_names_a_table_of_its_own(fixture: dict[str, Any]) -> None:
    assert list(DASHBOARDS) == ["queue-health", "safety", "monitors", "model", "reviewers"]
    for name in DASHBOARDS:
        dashboard = dashboard_build(name=name, filters=_filters(fixture))
        assert dashboard.slug == name
        slugs = [t.slug for t in dashboard.tables]
        assert len(slugs) == len(set(slugs))
        assert dashboard.charts and all(chart.table in slugs for chart in dashboard.charts)
        for table in dashboard.tables:
            assert all(len(row) == len(table.columns) for row in table.rows)
            assert all(cell is None or isinstance(cell, str | int | float) for row in table.rows for cell in row)
    with pytest.raises(KeyError):
        dashboard_build(name="nope", filters=_filters(fixture))


def test_safety_grid_counts_each_conversation_once_with_wilson_intervals(fixture: dict[str, Any]) -> None:
    dashboard = dashboard_build(name="safety", filters=_filters(fixture))
    by_model = _table(dashboard, "by-model")
    m_a = _row(by_model, "m-a")
    assert m_a["Reviewed"] == 6
    assert (m_a["Harmful compliance"], m_a["Appropriate refusal"]) == (2, 2)
    assert (m_a["Over-refusal"], m_a["Appropriate help"]) == (1, 1)
    assert m_a["Harmful requests"] == 4
    assert m_a["Complied with harmful requests %"] == 50.0
    # m-c: d1 HC (first decision), d2 AH (the senior's ruling, not the reviewers'), d3 OR, d4 AH,
    # sample AR HC AR AH.
    m_c = _row(by_model, "m-c")
    assert m_c["Reviewed"] == 8
    assert (m_c["Harmful compliance"], m_c["Appropriate refusal"]) == (2, 2)
    assert (m_c["Over-refusal"], m_c["Appropriate help"]) == (1, 3)
    everything = _row(by_model, "All models")
    assert everything["Reviewed"] == 18
    assert everything["Harmful compliance"] == 5
    # 5 of 18 = 27.78%, Wilson 95%: [12.50%, 50.87%]
    assert everything["Harmful compliance %"] == 27.78
    assert (everything["Harmful compliance % low"], everything["Harmful compliance % high"]) == (12.5, 50.87)
    grid = _table(dashboard, "grid")
    # Benign conversations have no reviewer category: they take the flagged one (c5 cyber, c6 fraud).
    assert _row(grid, "m-a", "Cyber attacks")["Reviewed"] == 4
    assert _row(grid, "m-a", "Fraud and scams")["Reviewed"] == 2
    assert _row(grid, "m-b", "Fraud and scams")["Harmful compliance"] == 1
    assert _row(grid, "m-c", "(no category)")["Reviewed"] == 4  # d1-d4: no categories, no flags
    over_time = _table(dashboard, "over-time")
    assert sum(row[1] for row in over_time.rows) == 18


def test_filters_narrow_every_figure(fixture: dict[str, Any]) -> None:
    safety = dashboard_build(name="safety", filters=_filters(fixture, model="m-b"))
    assert [row[0] for row in _table(safety, "by-model").rows] == ["m-b"]
    fraud = dashboard_build(name="safety", filters=_filters(fixture, category="fraud"))
    assert {row[1] for row in _table(fraud, "grid").rows} == {"Fraud and scams"}
    assert _row(_table(fraud, "by-model"), "m-b")["Reviewed"] == 3
    double = dashboard_build(name="reviewers", filters=_filters(fixture, queue="double"))
    assert [row[0] for row in _table(double, "adjudication").rows] == ["Double review"]
    quiet = dashboard_build(name="queue-health", filters=_filters(fixture, source="quiet"))
    assert sum(row[1] + row[2] for row in _table(quiet, "flow").rows) == 0
    assert sum(row[1] for row in _table(quiet, "queues").rows) == 0
    unknown = dashboard_build(name="monitors", filters=_filters(fixture, source="no-such-source"))
    assert _table(unknown, "monitors").rows == []
    # A range that ended before anything happened holds nothing.
    before = AnalyticsFilters(start=fixture["now"] - timedelta(days=9), end=fixture["now"] - timedelta(days=8))
    assert sum(row[1] for row in _table(dashboard_build(name="safety", filters=before), "over-time").rows) == 0


def test_a_merged_category_counts_as_the_one_it_was_merged_into(fixture: dict[str, Any]) -> None:
    category_merge(category=Category.objects.get(slug="fraud"), into=Category.objects.get(slug="cyber"))
    grid = _table(dashboard_build(name="safety", filters=_filters(fixture)), "grid")
    assert _row(grid, "m-a", "Cyber attacks")["Reviewed"] == 6  # c1 c2 c3 c5, and c4 c6 labelled fraud
    assert "Fraud and scams" not in {row[1] for row in grid.rows}
    cyber = dashboard_build(name="safety", filters=_filters(fixture, category="cyber"))
    assert _row(_table(cyber, "by-model"), "m-b")["Reviewed"] == 4


def test_monitor_precision_recall_and_threshold_curve(fixture: dict[str, Any]) -> None:
    dashboard = dashboard_build(name="monitors", filters=_filters(fixture))
    guard = _row(_table(dashboard, "monitors"), "guardrail", "guard")
    # Reviewed flags: c1-c10, s1, s3, s4. Confirmed: c1 c2 c3 c4 c8 (c7's cyber flag, reviewer said fraud), s1 s3.
    assert (guard["Reviewed flags"], guard["Confirmed"]) == (13, 7)
    assert (guard["Precision %"], guard["Precision % low"], guard["Precision % high"]) == (53.85, 29.14, 76.79)
    # Calibration sample: s1 s2 s3 harmful, guard flagged s1 and s3.
    assert (guard["Harmful in calibration sample"], guard["Flagged by this detector"]) == (3, 2)
    assert guard["Recall %"] == 66.67
    assert "too small" in _table(dashboard, "monitors").note
    curve = _table(dashboard, "threshold-curve")
    at_half = _row(curve, "guardrail", "guard", 0.5)
    # Scores >= 0.5: c1 .90, c2 .60, c4 .80, c5 .70, c7 .95, c8 .50, s3 .70; confirmed c1 c2 c4 c8 s3.
    assert (at_half["Flags at or above"], at_half["Confirmed"], at_half["Precision %"]) == (7, 5, 71.43)
    assert at_half["Recall %"] == 33.33  # of s1 s2 s3, only s3 at or above 0.5
    assert _row(curve, "guardrail", "guard", 0.9)["Flags at or above"] == 2


def test_model_agreement_validation_and_reliability(fixture: dict[str, Any]) -> None:
    dashboard = dashboard_build(name="model", filters=_filters(fixture))
    v1 = _row(_table(dashboard, "versions"), "model-v1")
    assert (v1["Validation AUROC"], v1["Training examples"], v1["Status"]) == (0.91, 400, "Active")
    # Risk >= 0.5 matches "harmful" for 8 of 10: c3 (harmful, 0.40) and c5 (benign, 0.70) disagree.
    assert (v1["Reviewed conversations"], v1["Agreeing"]) == (10, 8)
    assert (v1["Agreement %"], v1["Agreement % low"], v1["Agreement % high"]) == (80.0, 49.02, 94.33)
    reliability = _table(dashboard, "reliability")
    top = _row(reliability, "model-v1", 0.9)
    assert (top["Conversations"], top["Mean risk %"], top["Observed harmful %"]) == (1, 90.0, 100.0)
    middle = _row(reliability, "model-v1", 0.5)  # c7 0.55 and c8 0.50: both harmful
    assert (middle["Conversations"], middle["Mean risk %"], middle["Observed harmful %"]) == (2, 52.5, 100.0)


def test_a_verdict_grid_model_is_judged_by_harmful_compliance_and_its_verdicts(fixture: dict[str, Any]) -> None:
    model_v2 = ScoringModel.objects.create(
        version=2, encoder="test", status="ready", metrics={"per_label": {"risk": {"auroc": 0.97}}}
    )
    missed = {5: AH, 9: AR}  # c5 and c9 were over-refusals; the grid puts these first instead
    for n, (_, verdict, *_) in enumerate(TRIAGE, start=1):
        grid = dict.fromkeys((HC, AR, OR, AH), 0.1) | {missed.get(n, verdict): 0.7}
        conv = Conversation.objects.get(external_id=f"c{n}")
        Score.objects.create(
            conversation=conv, scoring_model=model_v2, producer="model-v2", risk=grid[HC], verdicts=grid
        )
    analytics_rollup(full=True, now=fixture["now"])

    dashboard = dashboard_build(name="model", filters=_filters(fixture))

    v2 = _row(_table(dashboard, "versions"), "model-v2")
    assert v2["Validation AUROC"] == 0.97  # the verdict heads' "risk" output
    # risk = P(harmful compliance) >= 0.5 exactly for c1, c2, c7, the three harmful compliances.
    assert (v2["Reviewed conversations"], v2["Agreeing"]) == (10, 10)
    assert (v2["With a verdict grid"], v2["Verdict agreement %"]) == (10, 80.0)
    assert v2["Mean P(reviewers' verdict) %"] == 58.0  # (8 x 0.7 + 2 x 0.1) / 10
    top = _row(_table(dashboard, "reliability"), "model-v2", 0.7)
    assert (top["Conversations"], top["Observed harmful %"]) == (3, 100.0)
    v1 = _row(_table(dashboard, "versions"), "model-v1")
    assert (v1["Agreeing"], v1["With a verdict grid"], v1["Verdict agreement %"]) == (8, 0, None)


def test_reviewer_agreement_adjudication_and_overturns(fixture: dict[str, Any]) -> None:
    dashboard = dashboard_build(name="reviewers", filters=_filters(fixture))
    pairs = _table(dashboard, "pairs")
    rita_bob = _row(pairs, "rita", "bob")  # d1 HC/HC, d2 AR/AH: p_o 1/2, p_e 1/4
    assert (rita_bob["Items both decided"], rita_bob["Agreed"], rita_bob["Cohen's kappa"]) == (2, 1, 0.333)
    assert _row(pairs, "rita", "cara")["Cohen's kappa"] is None  # one item, one shared verdict: undefined
    assert _row(pairs, "bob", "cara")["Items both decided"] == 1
    # Units [HC HC], [AR AH], [OR OR], [AH AH]: n = 8, D_o = 2, D_e = (64 - 18) / 7, alpha = 1 - 14/46 = 16/23.
    double = _row(_table(dashboard, "agreement-by-queue"), "Double review")
    assert (double["Items"], double["Krippendorff's alpha"]) == (4, 0.696)
    adjudication = _table(dashboard, "adjudication")
    assert _row(adjudication, "Double review")["Reached a senior"] == 1
    assert _row(adjudication, "Double review")["Conversations decided"] == 4
    assert _row(adjudication, "Triage")["Reached a senior"] == 0
    people = _table(dashboard, "reviewers")
    # d2: rita said AR, bob AH, the senior ruled AH.
    bob = _row(people, "bob")
    assert (bob["Decisions"], bob["Ruled on by a senior"], bob["Overturned"], bob["Overturned %"]) == (8, 1, 0, 0.0)
    rita = _row(people, "rita")
    assert (rita["Decisions"], rita["Ruled on by a senior"], rita["Overturned"]) == (8, 1, 1)
    assert rita["Overturned %"] == 12.5
    assert _row(people, "sam")["Final decisions"] == 1


def test_a_reviewer_sees_only_their_own_numbers(fixture: dict[str, Any]) -> None:
    rita = fixture["users"]["rita"]
    mine = _filters(fixture, reviewer_id=rita.pk)
    reviewers = dashboard_build(name="reviewers", filters=mine)
    assert [row[0] for row in _table(reviewers, "reviewers").rows] == ["rita"]
    you = _row(_table(reviewers, "pairs"), "rita", "Other reviewers (together)")
    # Pooled: HC/HC, AR/AH, OR/OR (not bob and cara's d4): p_o 2/3, p_e 2/9, kappa 4/7.
    assert (you["Items both decided"], you["Cohen's kappa"]) == (3, 0.571)
    assert reviewers.table("agreement-by-queue") is None
    queue_health = dashboard_build(name="queue-health", filters=mine)
    assert [row[0] for row in _table(queue_health, "reviewer-throughput").rows] == ["rita"]
    assert _row(_table(queue_health, "queues"), "Triage")["Decisions"] == 10  # queue health stays whole
    for dashboard in (reviewers, queue_health):
        shown = set(re.findall(r"\w+", _texts(dashboard)))
        assert "rita" in shown
        assert not shown & {"bob", "cara", "sam"}


def test_queue_health_backlog_flow_and_time_to_decision(fixture: dict[str, Any]) -> None:
    dashboard = dashboard_build(name="queue-health", filters=_filters(fixture))
    triage = _row(_table(dashboard, "queues"), "Triage")
    assert (triage["Open items"], triage["Open and past due"], triage["Oldest open (hours)"]) == (2, 1, 3.0)
    assert (triage["Arrivals"], triage["Decisions"], triage["SLA breaches"]) == (12, 10, 1)
    # Every triage decision came 10 minutes after arrival: all in the [10, 15) minute band, median interpolated.
    assert triage["Median minutes to decision"] == 12.5
    double = _row(_table(dashboard, "queues"), "Double review")
    assert (double["Arrivals"], double["Decisions"]) == (4, 8)
    flow = _table(dashboard, "flow")
    # A day and an hour, taken in whole hours, is drawn per hour: from the hour of the start to the end's.
    start, end = fixture["now"] - timedelta(days=1), fixture["now"] + timedelta(hours=1)
    assert flow.rows[0][0] == start.strftime("%Y-%m-%d %H:00")
    assert flow.rows[-1][0] == end.strftime("%Y-%m-%d %H:00")
    assert len(flow.rows) == 26 - (end.minute == end.second == end.microsecond == 0)
    assert sum(row[1] for row in flow.rows) == 12 + 4 + 4 + 1  # triage, double, calibration, adjudication
    assert sum(row[2] for row in flow.rows) == 10 + 8 + 4 + 1
    assert sum(row[3] for row in flow.rows) == 1
    throughput = _table(dashboard, "reviewer-throughput")
    assert _row(throughput, "rita")["Decisions"] == 8


def _rollup_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row (floats rounded: a sum's last bits depend on the order it was added in)."""
    return {
        model.__name__: sorted(
            (
                tuple(round(v, 9) if isinstance(v, float) else v for v in row)
                for row in model.objects.values_list("grain", "bucket", *model.DIMENSIONS, *model.MEASURES)
            ),
            key=repr,
        )
        for model in ROLLUPS
    }


def test_rollup_task_is_idempotent(fixture: dict[str, Any]) -> None:
    before = _rollup_rows()
    figures = {name: dashboard_build(name=name, filters=_filters(fixture)) for name in DASHBOARDS}
    assert analytics_rollup_task.apply().get() > 0  # the beat task: recomputes the last hours
    assert analytics_rollup_task.apply().get() > 0
    assert _rollup_rows() == before
    analytics_rollup(full=True)
    assert _rollup_rows() == before
    for name in DASHBOARDS:
        again = dashboard_build(name=name, filters=_filters(fixture))
        assert [t.rows for t in again.tables] == [t.rows for t in figures[name].tables]


@pytest.mark.parametrize("days_ago", [3, 20], ids=["hour rows", "day rows only"])
def test_a_later_ruling_moves_an_older_conversation_in_the_rollups(fixture: dict[str, Any], days_ago: int) -> None:
    """A final decision today on a conversation first decided days ago: the next (incremental) rollup
    recounts the old bucket (an hour in the last week, a whole day before that), so the conversation counts
    once, under the ruling, and the overturn shows."""
    users, now = fixture["users"], fixture["now"]
    source = Source.objects.get(name="guardrail")
    conv = _conversation(source, "late", "m-z")
    item = ReviewItem.objects.create(conversation=conv, queue=Queue.objects.get(slug="triage"))
    first = decision_record(item=item, reviewer=users["rita"], verdict=AH)
    Decision.objects.filter(pk=first.pk).update(created_at=now - timedelta(days=days_ago))
    ReviewItem.objects.filter(pk=item.pk).update(created_at=now - timedelta(days=days_ago, minutes=5))
    analytics_rollup(full=True, now=now)
    horizon = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=7)
    assert not DecisionRollup.objects.filter(grain="hour", bucket__lt=horizon).exists()
    week = AnalyticsFilters(start=now - timedelta(days=30), end=now + timedelta(hours=1), model="m-z")
    assert _row(_table(dashboard_build(name="safety", filters=week), "by-model"), "m-z")["Appropriate help"] == 1

    escalation_item = ReviewItem.objects.create(conversation=conv, queue=Queue.objects.get(slug="escalation"))
    decision_record(item=escalation_item, reviewer=users["sam"], verdict=HC, categories=["cyber"])
    analytics_rollup(now=now + timedelta(minutes=5))  # incremental: last hours, plus the touched old hour

    m_z = _row(_table(dashboard_build(name="safety", filters=week), "by-model"), "m-z")
    assert (m_z["Reviewed"], m_z["Appropriate help"], m_z["Harmful compliance"]) == (1, 0, 1)
    rita = AnalyticsFilters(start=week.start, end=week.end, reviewer_id=users["rita"].pk)
    assert _row(_table(dashboard_build(name="reviewers", filters=rita), "reviewers"), "rita")["Overturned"] == 2
    assert DecisionRollup.objects.filter(model_name="m-z", grain="day", effective__gt=0).count() == 2  # "*" + cyber


def test_agreement_rollup_counts_each_item_once_per_category(fixture: dict[str, Any]) -> None:
    totals = AgreementRollup.objects.filter(grain="hour", category="*", queue=fixture["double"])
    assert round(sum(totals.values_list("units", flat=True))) == 4


def test_each_dashboard_runs_a_fixed_handful_of_queries(fixture: dict[str, Any]) -> None:
    for name in DASHBOARDS:
        with CaptureQueriesContext(connection) as queries:
            dashboard_build(name=name, filters=_filters(fixture))
        # The reviewers dashboard also reads the gold and QA tables live: four more reads at most (issue #18).
        assert len(queries) <= (16 if name == "reviewers" else 12), f"{name}: {len(queries)} queries"
