"""Routing policies: conditions, actions, first match, sampling, validation, versions, dry run, consensus, SLA."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.models import (
    AuditEvent,
    Conversation,
    Escalation,
    PolicyDraft,
    PolicyVersion,
    Queue,
    ReviewItem,
    RoutingRecord,
    Score,
)
from reviews.routing.policies import (
    PolicyInvalid,
    draft_get,
    draft_save,
    policy_activate,
    policy_dry_run,
    policy_rollback,
)
from reviews.routing.policy import Facts, PolicyDocument, route
from reviews.routing.services import items_route
from reviews.routing.sla import BREACH_BOOST, sla_sweep
from reviews.workspace.decisions import decision_record
from reviews.workspace.selectors import decisions_visible, items_claimable

HARD = frozenset({"violent-crime", "self-harm", "weapons-cbrn", "child-safety"})


GRID = {"harmful_compliance": 0.05, "appropriate_refusal": 0.1, "over_refusal": 0.7, "appropriate_help": 0.15}


def facts(**overrides) -> Facts:
    values = {
        "conversation_id": 1,
        "source_kind": "output_classifier",
        "source_name": "prod-classifier",
        "flagged": frozenset({"cyber"}),
        "detector_scores": {"output-safety-classifier": 0.7},
        "risks": {"cyber": 0.6},
        "risk": 0.6,
        "model_name": "assistant-7b@2026-10",
        "metadata": {"channel": "api"},
    }
    return Facts(**(values | overrides))


def policy(*rules, **extra) -> PolicyDocument:
    return PolicyDocument.model_validate({"rules": list(rules), **extra})


def rule(name: str = "r", when: dict | None = None, **then) -> dict:
    return {"name": name, "when": when or {}, "then": then or {"queue": "triage"}}


@pytest.mark.parametrize(
    ("when", "matching", "not_matching"),
    [
        ({"source_kinds": ["red_team"]}, {"source_kind": "red_team"}, {}),
        ({"source_names": ["prod-classifier"]}, {}, {"source_name": "staging"}),
        ({"flagged_categories": ["fraud", "cyber"]}, {}, {"flagged": frozenset({"hate"})}),
        ({"risk": {"cyber": {"min": 0.5, "max": 0.8}}}, {}, {"risks": {"cyber": 0.8}}),
        ({"risk": {"harmful": {"min": 0.9}}}, {"risk": 1.0}, {}),
        ({"detector_scores": {"output-safety-classifier": {"min": 0.65}}}, {}, {"detector_scores": {"other": 0.9}}),
        ({"any_detector_score": {"min": 0.8}}, {"detector_scores": {"a": 0.1, "b": 0.85}}, {}),
        ({"models": ["assistant-7b"]}, {}, {"model_name": "helper-mini@2026-09"}),
        ({"metadata": {"channel": "api"}}, {}, {"metadata": {"channel": "web"}}),
        ({"verdicts": {"over_refusal": {"min": 0.5}}}, {"verdicts": GRID}, {"verdicts": GRID | {"over_refusal": 0.4}}),
        ({"verdicts": {"appropriate_help": {"max": 0.5}}}, {"verdicts": GRID}, {"verdicts": None}),  # no grid: no match
    ],
    ids=["source-kind", "source-name", "flagged", "category-risk", "overall-risk", "detector", "any-detector",
         "model", "metadata", "verdict", "verdict-without-grid"],
)  # fmt: skip
def test_each_condition_matches_and_refuses(when, matching, not_matching):
    document = policy(rule("target", when, queue="calibration"), rule("rest", queue="triage"))

    assert route(document, facts(**matching), hard_limits=HARD).queue == "calibration"
    assert route(document, facts(**not_matching), hard_limits=HARD).rule == "rest"


def test_first_matching_rule_wins():
    document = policy(rule("first", {"flagged_categories": ["cyber"]}, queue="calibration"), rule("second"))

    outcome = route(document, facts(), hard_limits=HARD)

    assert (outcome.rule, outcome.queue) == ("first", "calibration")


def test_drop_is_recorded_with_no_queue_and_unmatched_traffic_takes_the_fallback():
    document = policy(rule("only red team", {"source_kinds": ["red_team"]}), sampling={"low_risk_percent": 0})

    outcome = route(document, facts(risk=0.05), hard_limits=HARD)

    assert outcome.queue is None and outcome.rule == "fallback" and not outcome.sampled


def test_hard_limit_risk_above_threshold_escalates_unless_the_rule_says_not_to():
    hot = facts(risks={"self-harm": 0.95}, risk=0.95)

    escalated = route(policy(rule()), hot, hard_limits=HARD)
    kept = route(policy(rule(queue="triage", auto_escalate=False)), hot, hard_limits=HARD)

    assert escalated.escalated and escalated.queue == "escalation"
    assert not kept.escalated and kept.queue == "triage"


def test_priority_follows_the_documented_formula_and_boost():
    document = policy(rule(queue="triage", priority_boost=2), weights={"risk": 10, "severity": 4})

    outcome = route(document, facts(risks={"self-harm": 0.3}, risk=0.5), hard_limits=HARD)

    # severity: self-harm is a hard limit, 0.3 counts double → 0.6 → round(2.4) = 2 of 4.
    assert outcome.severity == 2
    assert outcome.priority == pytest.approx(10 * 0.5 + 4 * 2 / 4 + 2)


@pytest.mark.parametrize(("kind", "percent"), [("low_risk", 10.0), ("unflagged", 3.0)])
def test_sampling_rates_are_within_statistical_bounds(kind, percent):
    sampling = {"low_risk_percent": 10.0, "unflagged_percent": 3.0, "low_risk_below": 0.2}
    document = policy(rule("red team", {"source_kinds": ["red_team"]}), sampling=sampling)
    flagged = frozenset() if kind == "unflagged" else frozenset({"cyber"})
    n = 20_000

    sampled = sum(
        route(document, facts(conversation_id=i, flagged=flagged, risk=0.1), hard_limits=HARD).sampled for i in range(n)
    )

    expected = n * percent / 100
    sigma = (n * percent / 100 * (1 - percent / 100)) ** 0.5
    assert abs(sampled - expected) < 4 * sigma
    # Deterministic per conversation, so a dry run draws the same sample as activation.
    assert route(document, facts(conversation_id=7, flagged=flagged, risk=0.1), hard_limits=HARD) == route(
        document, facts(conversation_id=7, flagged=flagged, risk=0.1), hard_limits=HARD
    )


def test_high_risk_traffic_is_never_sampled_or_dropped_silently():
    document = policy(rule("red team", {"source_kinds": ["red_team"]}), sampling={"low_risk_percent": 100})

    outcome = route(document, facts(risk=0.5), hard_limits=HARD)

    assert outcome.queue is None and not outcome.sampled  # recorded as dropped, not sampled


# --- Against the database -----------------------------------------------------------------------


def _draft_with(mutate) -> str:
    document = copy.deepcopy(draft_get().document)
    mutate(document)
    return json.dumps(document)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["rules"][0]["then"].update(queue="nowhere"), "unknown queue 'nowhere'"),
        (lambda d: d["rules"][0]["when"].update(flagged_categories=["made-up"]), "unknown category 'made-up'"),
        (lambda d: d["rules"][2]["when"].update(risk={"harmful": {"min": 0.5, "max": 0.5}}), "empty range"),
        (lambda d: d.update(sampling={"low_risk_percent": 150}), "sampling.low_risk_percent"),
        (
            lambda d: d["rules"].insert(3, {"name": "dup", "when": {"risk": {"harmful": {"min": 0.5}}},
                                            "then": {"queue": "calibration"}}),
            "overlapping 'harmful' risk ranges",
        ),
        (lambda d: d["rules"][0].update(then={"queue": "triage", "drop": True}), "needs a queue, or drop"),
        (
            lambda d: d["rules"][0]["when"].update(verdicts={"overrefusal": {"min": 0.5}}),
            "rules[0].when.verdicts: Value error, unknown verdict 'overrefusal': use one of harmful_compliance, "
            "appropriate_refusal, over_refusal, appropriate_help",
        ),
        (
            lambda d: d["rules"][0]["when"].update(verdicts={"over_refusal": {"min": 0.5, "max": 1.5}}),
            "rules[0].when.verdicts.over_refusal.max: Input should be less than or equal to 1",
        ),
        (
            lambda d: d["rules"][0]["when"].update(verdicts={"over_refusal": {"min": 0.6, "max": 0.2}}),
            "empty range: min 0.6 must be below max 0.2",
        ),
        (
            lambda d: d["rules"].append({"name": "over again", "when": {"verdicts": {"over_refusal": {"min": 0.7}}},
                                         "then": {"queue": "calibration"}}),
            "rules 'likely over-refusal' and 'over again' have overlapping 'over_refusal' verdict ranges "
            "[0.5, 1.0) and [0.7, 1.0)",
        ),
    ],
    ids=["unknown-queue", "unknown-category", "empty-range", "percent", "overlap", "queue-and-drop",
         "unknown-verdict", "verdict-above-1", "empty-verdict-range", "overlapping-verdicts"],
)  # fmt: skip
def test_invalid_policy_is_refused_with_a_clear_error_and_nothing_saved(mutate, message, admin_user):
    before = draft_get().document

    with pytest.raises(PolicyInvalid) as caught:
        draft_save(text=_draft_with(mutate), actor=admin_user)

    assert any(message in error for error in caught.value.errors), caught.value.errors
    assert PolicyDraft.objects.get().document == before


@pytest.mark.django_db
def test_invalid_json_is_refused(admin_user):
    with pytest.raises(PolicyInvalid, match="not valid JSON"):
        draft_save(text='{"rules": [', actor=admin_user)


@pytest.fixture
def scored(source_token, django_capture_on_commit_callbacks):
    """60 demo conversations ingested and routed by the active policy (the one the migrations leave)."""
    from reviews.demo.data import generate_conversations

    payloads = [ConversationIn.model_validate(c) for c in generate_conversations(60, seed=5)]
    with django_capture_on_commit_callbacks(execute=True):
        return conversations_ingest(source=source_token[0], conversations=payloads).ids


@pytest.mark.django_db
def test_every_item_records_the_policy_version_and_rule_that_routed_it(scored):
    items = ReviewItem.objects.filter(conversation_id__in=scored)

    assert items.exists()
    active = PolicyVersion.objects.get(is_active=True).number
    assert set(items.values_list("policy_version__number", flat=True)) == {active}
    assert RoutingRecord.objects.filter(conversation_id__in=scored).count() == len(scored)
    dropped = RoutingRecord.objects.filter(outcome="dropped")
    assert not ReviewItem.objects.filter(conversation_id__in=dropped.values("conversation_id")).exists()


@pytest.mark.django_db
def test_dry_run_counts_equal_what_activation_then_produces(scored, admin_user):
    stricter = _draft_with(lambda d: d["rules"].__setitem__(2, {
        "name": "risky", "when": {"risk": {"harmful": {"min": 0.6}}}, "then": {"queue": "triage"}}))  # fmt: skip
    draft_save(text=stricter, actor=admin_user)

    dry = policy_dry_run(document=stricter)
    version = policy_activate(actor=admin_user, note="stricter")
    items_route(conversation_ids=scored)

    produced = Counter(
        record.queue.slug if record.queue else "dropped"
        for record in RoutingRecord.objects.filter(policy_version=version).select_related("queue")
    )
    assert dry.conversations == len(scored)
    assert dict(dry.draft) == dict(produced)
    assert dry.active["dropped"] < dry.draft["dropped"]  # the stricter draft drops more
    assert PolicyDraft.objects.get().based_on == version


@pytest.mark.django_db
def test_activation_creates_an_immutable_version_with_a_diff_and_an_audit_event(admin_user):
    previous = PolicyVersion.objects.get(is_active=True).number
    draft_save(text=_draft_with(lambda d: d["rules"].pop(0)), actor=admin_user)

    version = policy_activate(actor=admin_user, note="no special red team rule")

    assert version.number == previous + 1 and version.is_active
    assert PolicyVersion.objects.filter(is_active=True).count() == 1
    assert '-      "name": "red team findings",' in version.diff
    event = AuditEvent.objects.get(action="policy_change", actor=admin_user)
    assert event.target_id == str(version.pk) and event.data["previous"] == previous
    with pytest.raises(PolicyInvalid, match="same as the active version"):
        policy_activate(actor=admin_user)


@pytest.mark.django_db
def test_rollback_reactivates_an_old_document_as_a_new_version(admin_user):
    original = PolicyVersion.objects.get(number=1)
    draft_save(text=_draft_with(lambda d: d["rules"].pop(0)), actor=admin_user)
    activated = policy_activate(actor=admin_user)

    rolled = policy_rollback(version=original, actor=admin_user)

    assert rolled.number == activated.number + 1 and rolled.is_active and rolled.document == original.document
    assert rolled.note == "rollback to v1"
    assert draft_get().document == original.document
    assert AuditEvent.objects.filter(action="policy_change", actor=admin_user).count() == 2


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite caps parameters per statement, so it splits")
def test_routing_is_one_batched_pass(source_token, django_capture_on_commit_callbacks):
    from reviews.demo.data import generate_conversations

    def queries_to_route(n: int, seed: int) -> int:
        payloads = [ConversationIn.model_validate(c) for c in generate_conversations(n, seed=seed)]
        with django_capture_on_commit_callbacks(execute=False):
            ids = conversations_ingest(source=source_token[0], conversations=payloads).ids
        from reviews.scoring.services import score_with_fallback

        score_with_fallback(conversation_ids=ids)
        with CaptureQueriesContext(connection) as ctx:
            items_route(conversation_ids=ids)
        return len(ctx.captured_queries)

    small, large = queries_to_route(20, seed=1), queries_to_route(400, seed=2)

    assert large == small, (small, large)  # the same statements whatever the batch size
    assert large <= 24  # reads, a staged COPY per table, savepoints


# --- Consensus ------------------------------------------------------------------------------------


@pytest.fixture
def double_review(scored):
    triage = Queue.objects.get(slug="triage")
    triage.reviews_required = 2
    triage.save()
    item = ReviewItem.objects.filter(queue=triage).first()
    item.reviews_required = 2
    item.save()
    return item


@pytest.mark.django_db
def test_blind_double_review_hides_earlier_decisions_and_the_item_from_who_decided(
    double_review, reviewer, senior, django_user_model
):
    second = django_user_model.objects.create_user("ravi")
    second.groups.add(*reviewer.groups.all())
    decision_record(item=double_review, reviewer=reviewer, verdict="appropriate_refusal")

    assert double_review not in items_claimable(user=reviewer, queue=double_review.queue)
    assert double_review in items_claimable(user=second, queue=double_review.queue)
    assert decisions_visible(item=double_review, user=second) == []
    assert decisions_visible(item=double_review, user=senior) == []  # blind for seniors too, until final

    decision_record(item=double_review, reviewer=second, verdict="appropriate_refusal")
    double_review.refresh_from_db()
    assert double_review.status == "done"
    assert not ReviewItem.objects.filter(queue__slug="adjudication").exists()


@pytest.mark.django_db
def test_disagreement_goes_to_adjudication_where_a_seniors_decision_is_final(
    double_review, reviewer, senior, django_user_model
):
    second = django_user_model.objects.create_user("ravi")
    second.groups.add(*reviewer.groups.all())
    decision_record(item=double_review, reviewer=reviewer, verdict="appropriate_refusal")
    decision_record(item=double_review, reviewer=second, verdict="over_refusal")

    adjudication = ReviewItem.objects.get(queue__slug="adjudication", conversation=double_review.conversation)
    assert adjudication.status == "open" and adjudication.priority > double_review.priority
    assert adjudication not in items_claimable(user=reviewer, queue=adjudication.queue)  # seniors only
    assert adjudication in items_claimable(user=senior, queue=adjudication.queue)

    final = decision_record(item=adjudication, reviewer=senior, verdict="over_refusal")
    adjudication.refresh_from_db()
    assert final.is_final and adjudication.status == "done"


# --- SLA ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_items_past_due_are_breaches_that_rise_in_priority_and_hard_limits_escalate(scored):
    items = list(ReviewItem.objects.filter(queue__slug="triage", status="open")[:2])
    soft, hard = items
    Conversation.objects.get(pk=hard.conversation_id).flags.update(category="self-harm")
    Conversation.objects.get(pk=soft.conversation_id).flags.update(category="fraud")
    Score.objects.filter(conversation_id=soft.conversation_id).update(categories={"fraud": 0.9})
    past = timezone.now() - timedelta(minutes=1)
    ReviewItem.objects.filter(pk__in=[soft.pk, hard.pk]).update(due_at=past)

    result = sla_sweep()
    again = sla_sweep()

    soft_after, hard_after = ReviewItem.objects.get(pk=soft.pk), ReviewItem.objects.get(pk=hard.pk)
    assert result.breached >= 2 and again.breached == 0
    assert soft_after.sla_breached_at and soft_after.priority == pytest.approx(soft.priority + BREACH_BOOST)
    assert soft_after.status == "open"
    assert hard_after.status == "escalated"
    assert ReviewItem.objects.filter(queue__slug="escalation", conversation_id=hard.conversation_id).exists()
    assert Escalation.objects.get(item=hard).raised_by is None
