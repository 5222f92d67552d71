"""One open item per conversation; re-routing updates it and keeps its boosts; priority from its parts in one
function, the age term included; the migration that closes today's twins."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.models import Conversation, Decision, ItemStatus, PolicyVersion, Queue, ReviewItem, Score, Source
from reviews.routing.policy import PolicyDocument
from reviews.routing.services import items_route
from reviews.routing.sla import sla_sweep
from reviews.workspace.claims import item_claim
from reviews.workspace.decisions import decision_record
from reviews.workspace.escalations import escalation_raise
from reviews.workspace.reviewing import decision_submit

pytestmark = pytest.mark.django_db

OPEN_ITEM_INDEX = "one_open_item_per_conversation"


@pytest.fixture
def routed(source_token, django_capture_on_commit_callbacks) -> list[ReviewItem]:
    """Demo conversations ingested, scored on the detectors' fallback and routed by the active policy (v1): the
    open triage items."""
    from reviews.demo.data import generate_conversations

    payloads = [ConversationIn.model_validate(c) for c in generate_conversations(40, seed=5)]
    with django_capture_on_commit_callbacks(execute=True):
        conversations_ingest(source=source_token[0], conversations=payloads)
    items = list(ReviewItem.objects.filter(queue__slug="triage", status="open").order_by("pk"))
    assert len(items) >= 3
    return items


def _rescore(item: ReviewItem, *, risk: float, categories: dict[str, float] | None = None) -> None:
    """A new model's score for the item's conversation, then the backlog re-routed, as promoting it does."""
    Score.objects.filter(conversation_id=item.conversation_id).update(
        risk=risk, categories=categories if categories is not None else {"cyber": risk}
    )
    items_route(conversation_ids=[item.conversation_id])


def _open(conversation_id: int) -> list[ReviewItem]:
    return list(ReviewItem.objects.filter(conversation_id=conversation_id, status="open").select_related("queue"))


def _weights() -> PolicyDocument:
    return PolicyDocument.model_validate(PolicyVersion.objects.get(is_active=True).document)


def _base(risk: float, severity: int) -> float:
    weights = _weights().weights
    return weights.risk * risk + weights.severity * severity / 4


# --- One open item per conversation ----------------------------------------------------------------------------


def test_rerouting_into_escalation_moves_the_open_item_and_never_opens_a_twin(routed):
    """The reported case: a promoted model finds a hard limit, and the conversation sat open in two queues."""
    item = routed[0]

    _rescore(item, risk=0.95, categories={"violent-crime": 0.95})

    (only,) = _open(item.conversation_id)
    assert only.pk == item.pk and only.queue.slug == "escalation"
    assert only.risk == pytest.approx(0.95)
    assert only.priority == pytest.approx(_base(0.95, 4))
    sla = only.queue.sla_minutes.get("high", 60)
    assert only.due_at == only.created_at + timedelta(minutes=int(sla))


def test_rerouting_updates_the_open_items_priority_and_due_time_in_place(routed):
    item = routed[0]

    _rescore(item, risk=0.31)

    (only,) = _open(item.conversation_id)
    assert only.pk == item.pk and only.queue.slug == "triage"
    assert only.priority == pytest.approx(_base(0.31, 1))
    normal = only.queue.sla_minutes.get("normal", 240)
    assert only.due_at == only.created_at + timedelta(minutes=int(normal))


def test_the_database_refuses_a_second_open_item_for_a_conversation(routed):
    item = routed[0]

    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewItem.objects.create(conversation_id=item.conversation_id, queue=Queue.objects.get(slug="calibration"))
    ReviewItem.objects.create(
        conversation_id=item.conversation_id, queue=Queue.objects.get(slug="calibration"), status="done"
    )


def test_a_seniors_final_ruling_leaves_no_open_item_of_the_conversation(routed, reviewer, senior):
    item = routed[0]
    _rescore(item, risk=0.95, categories={"violent-crime": 0.95})
    (escalated,) = [i for i in _open(item.conversation_id) if i.queue.slug == "escalation"]
    assert item_claim(reviewer=senior, queue=escalated.queue) == escalated

    decision_submit(item=escalated, reviewer=senior, verdict="harmful_compliance", preferred_response="No.")

    assert _open(item.conversation_id) == []
    triage = Queue.objects.get(slug="triage")
    while (claimed := item_claim(reviewer=reviewer, queue=triage)) is not None:
        assert claimed.conversation_id != item.conversation_id  # nobody is handed what a senior ruled on
        ReviewItem.objects.filter(pk=claimed.pk).update(status="done")


@pytest.fixture
def twins_allowed():
    """Today's database, before the constraint: the partial unique index dropped inside the test's transaction
    (rolled back with it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {OPEN_ITEM_INDEX}")


def test_a_seniors_final_ruling_closes_every_other_open_item_linked_to_it(routed, senior, twins_allowed):
    item = routed[0]
    escalation = Queue.objects.get(slug="escalation")
    senior_item = ReviewItem.objects.create(conversation_id=item.conversation_id, queue=escalation)

    decision_record(item=senior_item, reviewer=senior, verdict="appropriate_refusal")

    item.refresh_from_db()
    assert item.status == ItemStatus.SUPERSEDED and item.superseded_by == senior_item and item.closed_at
    assert _open(item.conversation_id) == []


def _migration():
    return importlib.import_module("reviews.migrations.0018_one_open_item_per_conversation")


def test_the_migration_closes_todays_twins_keeping_the_one_with_decisions_or_a_claim(
    routed, reviewer, senior, twins_allowed
):
    queues = {q.slug: q for q in Queue.objects.all()}
    decided, claimed, alone = routed[0], routed[1], routed[2]
    untouched = set(ReviewItem.objects.filter(status="open").values_list("pk", flat=True)) - {i.pk for i in routed[:3]}
    # A consensus item with one of its two decisions, and a twin a re-route opened in escalation.
    ReviewItem.objects.filter(pk=decided.pk).update(reviews_required=2)
    Decision.objects.create(item=decided, reviewer=reviewer, verdict="appropriate_refusal")
    decided_twin = ReviewItem.objects.create(
        conversation_id=decided.conversation_id, queue=queues["escalation"], priority=99
    )
    # A reviewer holds one; its twin sits unclaimed in calibration.
    ReviewItem.objects.filter(pk=claimed.pk).update(
        claimed_by=reviewer, lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    claimed_twin = ReviewItem.objects.create(
        conversation_id=claimed.conversation_id, queue=queues["calibration"], priority=99
    )
    # Neither has decisions or a claim: the senior queue's stays, its ruling is what the conversation waits for.
    plain_twin = ReviewItem.objects.create(conversation_id=alone.conversation_id, queue=queues["escalation"])

    _migration().close_twins(apps, None)

    by_pk = {i.pk: i for i in ReviewItem.objects.filter(conversation_id__in=[i.conversation_id for i in routed[:3]])}
    assert by_pk[decided.pk].status == "open"
    assert by_pk[decided_twin.pk].status == "superseded" and by_pk[decided_twin.pk].superseded_by_id == decided.pk
    assert by_pk[claimed.pk].status == "open"
    assert by_pk[claimed_twin.pk].status == "superseded" and by_pk[claimed_twin.pk].superseded_by_id == claimed.pk
    assert by_pk[plain_twin.pk].status == "open"
    assert by_pk[alone.pk].status == "superseded" and by_pk[alone.pk].superseded_by_id == plain_twin.pk
    assert all(i.closed_at for i in by_pk.values() if i.status == "superseded")
    assert set(ReviewItem.objects.filter(pk__in=untouched, status="open").values_list("pk", flat=True)) == untouched
    # Every conversation has one open item now: the constraint can be created.
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE UNIQUE INDEX {OPEN_ITEM_INDEX} ON reviews_reviewitem (conversation_id) "
                       "WHERE status = 'open'")  # fmt: skip


# --- Re-routing keeps boosts ---------------------------------------------------------------------------------


def test_rerouting_keeps_the_breach_boost(routed):
    """The reported case: a breached item fell from 15.77 to 5.48 and the sweep never re-added the boost."""
    item = routed[0]
    ReviewItem.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    sla_sweep()
    breached = ReviewItem.objects.get(pk=item.pk)
    assert breached.sla_breached_at and breached.priority == pytest.approx(item.priority + 10)

    _rescore(item, risk=0.55)

    item.refresh_from_db()
    assert item.sla_breached_at is not None
    assert item.priority == pytest.approx(_base(0.55, 2) + 10)  # the breach boost survived the re-route


def test_rerouting_keeps_the_adjudication_bonus(routed, reviewer, senior, django_user_model):
    item = routed[0]
    ReviewItem.objects.filter(pk=item.pk).update(reviews_required=2)
    second = django_user_model.objects.create_user("ravi")
    second.groups.add(*reviewer.groups.all())
    decision_record(item=item, reviewer=reviewer, verdict="appropriate_refusal")
    decision_record(item=item, reviewer=second, verdict="over_refusal")
    (adjudication,) = _open(item.conversation_id)
    assert adjudication.queue.slug == "adjudication"

    _rescore(item, risk=0.55)

    (after,) = _open(item.conversation_id)
    assert after.pk == adjudication.pk and after.queue.slug == "adjudication"
    assert after.priority == pytest.approx(_base(0.55, 2) + 5)


def test_rerouting_keeps_the_escalation_bonus(routed, reviewer):
    item = routed[0]
    assert item_claim(reviewer=reviewer, queue=item.queue, avoid=~_pk(item)) == item
    escalation_raise(item=item, reviewer=reviewer, reason="needs a senior")

    _rescore(item, risk=0.55)

    (after,) = _open(item.conversation_id)
    assert after.queue.slug == "escalation"
    assert after.priority == pytest.approx(_base(0.55, 2) + 5)


def _pk(item: ReviewItem):
    from django.db.models import Q

    return Q(pk=item.pk)


# --- The age term ----------------------------------------------------------------------------------------------


def test_priority_grows_with_waiting_time_by_the_policys_age_weight(routed):
    item = routed[0]
    low = ReviewItem.objects.get(pk=item.pk)
    ReviewItem.objects.filter(pk=item.pk).update(due_at=timezone.now() + timedelta(days=30))  # no breach here

    sla_sweep(now=timezone.now() + timedelta(hours=3, minutes=1))

    item.refresh_from_db()
    assert item.priority == pytest.approx(low.priority + 3 * _weights().weights.age)


def test_the_age_term_is_bounded(routed):
    item = routed[0]
    low = ReviewItem.objects.get(pk=item.pk)
    ReviewItem.objects.filter(pk=item.pk).update(due_at=timezone.now() + timedelta(days=30))

    sla_sweep(now=timezone.now() + timedelta(days=20))

    item.refresh_from_db()
    assert item.priority == pytest.approx(low.priority + 24 * _weights().weights.age)


def test_the_age_term_survives_rerouting(routed):
    item = routed[0]
    ReviewItem.objects.filter(pk=item.pk).update(
        due_at=timezone.now() + timedelta(days=30), created_at=timezone.now() - timedelta(hours=5, minutes=1)
    )

    _rescore(item, risk=0.55)

    item.refresh_from_db()
    assert item.priority == pytest.approx(_base(0.55, 2) + 5 * _weights().weights.age)


def test_items_created_without_a_policy_route_keep_their_priority(routed):
    """Items made by hand (tests, imports) have no parts to recompute from: the sweep leaves them alone."""
    source = Source.objects.create(name="hand", kind="sampler")
    conversation = Conversation.objects.create(source=source, external_id="x", messages=[])
    hand = ReviewItem.objects.create(conversation=conversation, queue=Queue.objects.get(slug="triage"), priority=7)

    sla_sweep(now=timezone.now() + timedelta(hours=3))

    hand.refresh_from_db()
    assert hand.priority == 7


# serialized_rollback: the seeded queues and policy are there, and the flush after it leaves the content types to
# the next transactional test instead of recreating them under it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migration_0018_runs_over_twins_and_leaves_the_constraint_in_place():
    """The whole migration, on the database under test: from the migration before it, with twins, to the latest
    (on PostgreSQL the data step and the new index share one transaction)."""
    from django.db.migrations.executor import MigrationExecutor

    module = _migration()
    before = [dep for dep in module.Migration.dependencies if dep[0] == "reviews"]
    this = ("reviews", module.__name__.rsplit(".", 1)[1])
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("reviews")
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        Queue, Item = old.get_model("reviews", "Queue"), old.get_model("reviews", "ReviewItem")
        source = old.get_model("reviews", "Source").objects.create(name="old", kind="input_guardrail")
        conversation = old.get_model("reviews", "Conversation").objects.create(
            source=source, external_id="c", messages=[]
        )
        version = old.get_model("reviews", "PolicyVersion").objects.get(is_active=True)
        routed = Item.objects.create(
            conversation=conversation, queue=Queue.objects.get(slug="triage"), priority=15.5, policy_version=version,
            sla_breached_at=timezone.now(),
        )  # fmt: skip
        twin = Item.objects.create(conversation=conversation, queue=Queue.objects.get(slug="escalation"), priority=6)

        MigrationExecutor(connection).migrate([this])

        new = MigrationExecutor(connection).loader.project_state([this]).apps.get_model("reviews", "ReviewItem")
        assert new.objects.get(pk=routed.pk).status == "superseded"
        assert new.objects.get(pk=routed.pk).superseded_by_id == twin.pk
        assert new.objects.get(pk=twin.pk).status == "open"
        with pytest.raises(IntegrityError), transaction.atomic():
            new.objects.create(conversation_id=conversation.pk, queue_id=routed.queue_id, status="open")
    finally:
        MigrationExecutor(connection).migrate(latest)


def test_migration_0018_gives_open_items_the_parts_of_their_priority(routed):
    """A routed item breached before the migration: its base is its priority less the breach boost."""
    item = routed[0]
    ReviewItem.objects.filter(pk=item.pk).update(
        priority=item.priority + 10, sla_breached_at=timezone.now(), priority_base=None, age_step_at=None
    )

    _migration().priority_parts(apps, None)

    item.refresh_from_db()
    assert item.priority_base == pytest.approx(item.priority - 10)
    assert item.age_step_at is not None
