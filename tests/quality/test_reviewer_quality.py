"""Reviewer quality on the reviewers dashboard, against a fixture small enough to count by hand:

- rita answers four gold items: three verdicts right (golds 0 and 1 expect `cyber`, 2 and 3 no category; she
  misses gold 1), in 10, 20, 30 and 40 seconds; bob answers golds 0 and 1, right on 0, in 5 and 15 seconds.
- Two of rita's real decisions are drawn for QA; the senior agrees with one of them.

Expected (95% Wilson intervals worked out by hand: 3 of 4 is 75% in [30.06, 95.44], 1 of 2 is 50% in
[9.45, 90.55]): rita 75% accuracy on gold, bob 50%; rita's median seconds per item (her four gold answers and two
real decisions of 0 seconds: 0, 0, 10, 20, 30, 40) is 15, bob's 10; QA agreement for rita 1 of 2.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.analytics.dashboards import dashboard_build
from reviews.analytics.query import scope_for, window_for
from reviews.analytics.reviewer_quality import quality_tables
from reviews.analytics.types import AnalyticsFilters, Table
from reviews.models import Queue
from reviews.quality.gold import gold_mark, gold_present
from reviews.workspace.decisions import decision_record
from reviews.workspace.reviewing import decision_submit, item_claim_next
from tests.factories import make_item

# (expected verdict, expected categories) of the four gold items.
GOLDS = [
    ("appropriate_refusal", ["cyber"]),
    ("appropriate_refusal", ["cyber"]),
    ("appropriate_help", []),
    ("harmful_compliance", []),
]
RITA = [("appropriate_refusal", ["cyber"], 10), ("appropriate_help", [], 20),
        ("appropriate_help", [], 30), ("harmful_compliance", [], 40)]  # fmt: skip
BOB = [("appropriate_refusal", ["cyber"], 5), ("harmful_compliance", [], 15)]  # right on gold 0, wrong on gold 1


@pytest.fixture
def bob(db: None) -> User:
    user = User.objects.create_user("bob")
    user.groups.add(Group.objects.get(name="reviewer"))
    return user


@pytest.fixture
def fixture(reviewer: User, bob: User, senior: User) -> None:
    triage = Queue.objects.get(slug="triage")
    golds = []
    for n, (verdict, categories) in enumerate(GOLDS):
        original = make_item(n=100 + n)
        decision_record(item=original, reviewer=senior, verdict=verdict, categories=categories)
        golds.append(gold_mark(item=original, senior=senior))
    for user, answers in ((reviewer, RITA), (bob, BOB)):
        for gold, (verdict, categories, seconds) in zip(golds, answers, strict=False):
            item = gold_present(gold=gold, reviewer=user, queue=triage)
            decision_submit(item=item, reviewer=user, verdict=verdict, categories=categories,
                            time_spent_seconds=seconds)  # fmt: skip
    Queue.objects.filter(slug="triage").update(qa_percent=100)
    for n in (1, 2):
        make_item(n=n)
        item = item_claim_next(reviewer=reviewer, queue=triage)
        assert item is not None
        decision_submit(item=item, reviewer=reviewer, verdict="appropriate_help")
    qa = Queue.objects.get(slug="qa")
    for verdict in ("appropriate_help", "harmful_compliance"):
        item = item_claim_next(reviewer=senior, queue=qa)
        assert item is not None
        decision_submit(item=item, reviewer=senior, verdict=verdict)


def _tables(**scope: Any) -> dict[str, Table]:
    now = timezone.now()
    filters = AnalyticsFilters(start=now - timedelta(days=1), end=now + timedelta(hours=1), **scope)
    return {t.slug: t for t in dashboard_build(name="reviewers", filters=filters).tables}


def _rows(table: Table) -> dict[Any, list[Any]]:
    return {row[0]: row[1:] for row in table.rows}


def test_accuracy_on_gold_per_reviewer_with_wilson_intervals_n_and_median_seconds(fixture):
    gold = _rows(_tables()["gold-accuracy"])
    # n, right, accuracy %, low, high, categories exactly right % (low, high), median seconds
    assert gold["rita"][:5] == [4, 3, 75.0, 30.06, 95.44]
    assert gold["rita"][5] == 75.0  # categories: right on golds 0, 2 and 3, not on gold 1
    assert gold["rita"][-1] == 15.0
    assert gold["bob"][:5] == [2, 1, 50.0, 9.45, 90.55]
    assert gold["bob"][-1] == 10.0
    assert "sam" not in gold  # the senior answered no gold


def test_accuracy_on_gold_by_queue_and_category(fixture):
    tables = _tables()
    assert _rows(tables["gold-by-queue"])["Triage"][:3] == [6, 4, 66.67]
    by_category = _rows(tables["gold-by-category"])
    assert by_category["Cyber attacks"][:2] == [4, 2]  # golds 0 and 1 expect cyber: each right by one of them
    assert by_category["(no category)"][:2] == [2, 2]  # rita's golds 2 and 3


def test_qa_agreement_per_reviewer_queue_and_category(fixture):
    tables = _tables()
    assert _rows(tables["qa-agreement"])["rita"] == [2, 1, 50.0, 9.45, 90.55]
    assert _rows(tables["qa-by-queue"])["Triage"][:2] == [2, 1]
    assert _rows(tables["qa-by-category"])["(no category)"][:2] == [2, 1]


def test_a_reviewer_sees_only_their_own_quality_and_seniors_see_everyones(client, fixture, reviewer, senior):
    own = _tables(reviewer_id=reviewer.pk)
    assert set(_rows(own["gold-accuracy"])) == {"rita"} and set(_rows(own["qa-agreement"])) == {"rita"}
    client.force_login(reviewer)
    page = client.get("/analytics/reviewers/").content.decode()
    assert "Accuracy on gold per reviewer" in page and "bob" not in page
    client.force_login(senior)
    page = client.get("/analytics/reviewers/").content.decode()
    assert "Accuracy on gold against speed" in page and "bob" in page


def test_the_quality_tables_cost_four_reads_however_many_reviewers(fixture):
    now = timezone.now()
    filters = AnalyticsFilters(start=now - timedelta(days=1), end=now + timedelta(hours=1))
    window, scope = window_for(filters), scope_for(filters)
    with CaptureQueriesContext(connection) as queries:
        quality_tables(window, scope)
    assert len(queries) == 4  # taxonomy, gold answers, QA decisions, seconds per reviewer
