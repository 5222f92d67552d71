"""Routing scored conversations into review queues by the active policy, in one batched pass.

Every outcome is recorded (RoutingRecord, dropped ones included); queued outcomes
become ReviewItems carrying the policy version and rule that put them there.
Imported datasets arrive labeled: they are scored but never routed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from reviews.bulk import insert_ignoring_conflicts
from reviews.live import broadcast
from reviews.models import (
    ItemStatus,
    PolicyVersion,
    Queue,
    QueueKind,
    ReviewItem,
    RoutingOutcome,
    RoutingRecord,
)
from reviews.routing.facts import hard_limit_slugs, routing_facts
from reviews.routing.policy import Outcome, PolicyDocument, route
from reviews.routing.priority import HOUR as AGE_STEP
from reviews.routing.priority import PRIORITY_FIELDS, item_reprioritize

DEFAULT_SLA_MINUTES = {"high": 60, "normal": 240, "low": 1440}
SENIOR_KINDS = frozenset({QueueKind.ESCALATION, QueueKind.ADJUDICATION})
# Versions are immutable: parse each once per process. Keyed by (pk, created_at): a pk can
# come back after the database is recreated (tests, a restored backup).
_parsed: dict[tuple[int, object], PolicyDocument] = {}


def sla_band(risk: float) -> str:
    return "high" if risk >= 0.7 else "normal" if risk >= 0.3 else "low"


def due_at(queue: Queue, risk: float, now: datetime) -> datetime:
    minutes = (queue.sla_minutes or {}).get(sla_band(risk)) or DEFAULT_SLA_MINUTES[sla_band(risk)]
    return now + timedelta(minutes=int(minutes))


def _document(version: PolicyVersion) -> PolicyDocument:
    key = (version.pk, version.created_at)
    if key not in _parsed:
        _parsed[key] = PolicyDocument.model_validate(version.document)
    return _parsed[key]


# Plain strings, not enum members: cheaper to write 10,000 at a time.
_DROPPED, _ESCALATED = RoutingOutcome.DROPPED.value, RoutingOutcome.ESCALATED.value
_SAMPLED, _QUEUED = RoutingOutcome.SAMPLED.value, RoutingOutcome.QUEUED.value


def _outcome_kind(outcome: Outcome) -> str:
    if outcome.queue is None:
        return _DROPPED
    if outcome.escalated:
        return _ESCALATED
    return _SAMPLED if outcome.sampled else _QUEUED


_RECORD_COLUMNS = ("conversation_id", "policy_version_id", "rule", "outcome", "queue_id", "created_at")
_ITEM_COLUMNS = (
    "conversation_id",
    "queue_id",
    "status",
    "priority",
    "risk",
    "due_at",
    "reviews_required",
    "reviews_done",
    "routed_by",
    "policy_version_id",
    "created_at",
    "priority_base",
    "age_step_at",
)


def items_route(*, conversation_ids: Iterable[int]) -> dict[int, Outcome]:
    """Route scored conversations. Safe to run twice.

    A conversation has one open item at most (`one_open_item_per_conversation`): where it has one, re-routing
    updates it (`_reroute`) and never opens another; else the outcome's queue gets a new item, unless the
    conversation already has one there (done with).
    """
    version = PolicyVersion.objects.get(is_active=True)
    document, hard = _document(version), hard_limit_slugs()
    read = routing_facts(list(conversation_ids), with_metadata=document.uses_metadata(), skip_imported=True)
    facts = {f.conversation_id: f for f in read}
    outcomes = {cid: route(document, f, hard_limits=hard) for cid, f in facts.items()}
    queues = {q.pk: q for q in Queue.objects.all()}
    by_slug = {q.slug: q for q in queues.values()}
    now, age_weight = timezone.now(), document.weights.age
    with transaction.atomic():
        records = [
            (cid, version.pk, o.rule, _outcome_kind(o), by_slug[o.queue].pk if o.queue else None, now)
            for cid, o in outcomes.items()
        ]
        insert_ignoring_conflicts(RoutingRecord, _RECORD_COLUMNS, records)
        held, open_items = _items_of(list(outcomes))
        fresh: list[tuple[object, ...]] = []
        rerouted: list[ReviewItem] = []
        touched: set[int] = set()  # queues whose counts or order change
        hard_arrivals: set[int] = set()  # conversations with a hard-limit flag that got a new item
        for cid, o in outcomes.items():
            risk = facts[cid].risk
            item = open_items.get(cid)
            if item is not None:
                before = item.queue_id
                if _reroute(item, o, risk=risk, queues=queues, by_slug=by_slug, held=held[cid], version=version,
                            age_weight=age_weight, now=now):  # fmt: skip
                    rerouted.append(item)
                    touched |= {before, item.queue_id}
                continue
            if o.queue is None or by_slug[o.queue].pk in held[cid]:
                continue
            queue = by_slug[o.queue]
            due, required = due_at(queue, risk, now), queue.reviews_required
            if o.double_review:
                required = max(required, 2)
            fresh.append((cid, queue.pk, "open", o.priority, risk, due, required, 0, o.rule, version.pk, now,
                          o.priority, now + AGE_STEP if age_weight > 0 else None))  # fmt: skip
            touched.add(queue.pk)
            if facts[cid].flagged & hard:
                hard_arrivals.add(cid)
        insert_ignoring_conflicts(ReviewItem, _ITEM_COLUMNS, fresh)
        ReviewItem.objects.bulk_update(rerouted, _REROUTED_FIELDS, batch_size=1000)
        broadcast.queues_changed(queue_ids=touched)
        _announce_hard_limits(hard_arrivals, queue_ids=touched)
    return outcomes


def _items_of(conversation_ids: list[int]) -> tuple[dict[int, set[int]], dict[int, ReviewItem]]:
    """The queues where each conversation has an item (any status), and its open item, row-locked: a claim, a
    decision or the SLA sweep must not interleave with the update. Inside the routing transaction."""
    held: dict[int, set[int]] = defaultdict(set)
    for cid, queue_id in ReviewItem.objects.filter(conversation_id__any=conversation_ids).values_list(
        "conversation_id", "queue_id"
    ):
        held[cid].add(queue_id)
    open_items = {
        item.conversation_id: item
        for item in ReviewItem.objects.select_for_update(of=("self",))
        .filter(conversation_id__any=[cid for cid in conversation_ids if held[cid]], status=ItemStatus.OPEN)
        .order_by("pk")
    }
    return held, open_items


_REROUTED_FIELDS = [
    "queue",
    "reviews_required",
    "claimed_by",
    "lease_expires_at",
    "risk",
    "due_at",
    "routed_by",
    "policy_version",
    *PRIORITY_FIELDS,
]
_REROUTED_ATTNAMES = [
    f"{name}_id" if name in ("queue", "claimed_by", "policy_version") else name for name in _REROUTED_FIELDS
]


def _reroute(
    item: ReviewItem,
    outcome: Outcome,
    *,
    risk: float,
    queues: dict[int, Queue],
    by_slug: dict[str, Queue],
    held: set[int],
    version: PolicyVersion,
    age_weight: float,
    now: datetime,
) -> bool:
    """Update the conversation's open item to a new routing outcome, in memory; True if anything changed.

    It takes the new risk and base, and its priority is recomputed from its parts, so a breach, an escalation or
    adjudication boost and the age earned are kept. Items in the seniors' queues stay there (people put them
    there). Any other item moves to the outcome's queue if nobody decided it yet and the conversation has no
    item there already (a dropped outcome leaves it where it is); a move hands back its claim. Its due time
    follows its queue and risk band, counted from when it arrived.
    """
    before = tuple(getattr(item, name) for name in _REROUTED_ATTNAMES)
    queue = queues[item.queue_id]
    routable = queue.kind not in SENIOR_KINDS
    target = by_slug[outcome.queue] if outcome.queue else None
    if routable and target is not None and target.pk != queue.pk and item.reviews_done == 0 and target.pk not in held:
        queue = target
        item.queue_id, item.reviews_required = queue.pk, queue.reviews_required
        item.claimed_by_id, item.lease_expires_at = None, None
    item.risk, item.priority_base = risk, outcome.priority
    if routable:
        item.due_at = due_at(queue, risk, item.created_at)
        item.routed_by, item.policy_version_id = outcome.rule, version.pk
    item_reprioritize(item, age_weight=age_weight, now=now)
    return tuple(getattr(item, name) for name in _REROUTED_ATTNAMES) != before


def _announce_hard_limits(conversation_ids: set[int], *, queue_ids: set[int]) -> None:
    """A notice to whoever works the queue, for each new item flagged in a hard-limit category (after commit)."""
    if not conversation_ids:
        return
    arrived = ReviewItem.objects.filter(conversation_id__in=conversation_ids, queue_id__in=queue_ids, status="open")
    rows = arrived.order_by("queue_id", "-priority", "pk").values_list("queue_id", "pk")
    by_queue: dict[int, list[int]] = defaultdict(list)
    for queue_id, item_id in rows:
        by_queue[queue_id].append(item_id)
    for queue_id, item_ids in by_queue.items():  # the most urgent item first, one notice per queue
        broadcast.hard_limit_arrived(queue_id=queue_id, item_id=item_ids[0], count=len(item_ids))
