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
    ReviewItem,
    RoutingOutcome,
    RoutingRecord,
)
from reviews.routing.facts import hard_limit_slugs, routing_facts
from reviews.routing.policy import Outcome, PolicyDocument, route

DEFAULT_SLA_MINUTES = {"high": 60, "normal": 240, "low": 1440}
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
)


def items_route(*, conversation_ids: Iterable[int]) -> dict[int, Outcome]:
    """Route scored conversations; open items already there take the new risk. Safe to run twice."""
    version = PolicyVersion.objects.get(is_active=True)
    document, hard = _document(version), hard_limit_slugs()
    read = routing_facts(list(conversation_ids), with_metadata=document.uses_metadata(), skip_imported=True)
    facts = {f.conversation_id: f for f in read}
    outcomes = {cid: route(document, f, hard_limits=hard) for cid, f in facts.items()}
    queues = {q.slug: q for q in Queue.objects.filter(slug__in={o.queue for o in outcomes.values() if o.queue})}
    now = timezone.now()
    with transaction.atomic():
        records = [
            (cid, version.pk, o.rule, _outcome_kind(o), queues[o.queue].pk if o.queue else None, now)
            for cid, o in outcomes.items()
        ]
        insert_ignoring_conflicts(RoutingRecord, _RECORD_COLUMNS, records)
        existing: dict[int, list[tuple[int, int, str, float, float]]] = defaultdict(list)
        for pk, cid, queue_id, status, risk, priority in ReviewItem.objects.filter(
            conversation_id__any=list(outcomes)
        ).values_list("pk", "conversation_id", "queue_id", "status", "risk", "priority"):
            existing[cid].append((pk, queue_id, status, risk, priority))
        fresh: list[tuple[object, ...]] = []
        rescored: list[ReviewItem] = []
        touched: set[int] = set()  # queues whose counts or order change
        hard_arrivals: set[int] = set()  # conversations with a hard-limit flag that got a new item
        for cid, o in outcomes.items():
            risk = facts[cid].risk
            # Open work keeps its place whatever the new outcome, but takes the current risk.
            for pk, queue_id, status, old_risk, old_priority in existing[cid]:
                if status == ItemStatus.OPEN and (old_risk, old_priority) != (risk, o.priority):
                    rescored.append(ReviewItem(pk=pk, risk=risk, priority=o.priority))
                    touched.add(queue_id)
            if o.queue is None or any(queue_id == queues[o.queue].pk for _, queue_id, *_ in existing[cid]):
                continue
            queue = queues[o.queue]
            due, required = due_at(queue, risk, now), queue.reviews_required
            if o.double_review:
                required = max(required, 2)
            fresh.append((cid, queue.pk, "open", o.priority, risk, due, required, 0, o.rule, version.pk, now))
            touched.add(queue.pk)
            if facts[cid].flagged & hard:
                hard_arrivals.add(cid)
        insert_ignoring_conflicts(ReviewItem, _ITEM_COLUMNS, fresh)
        ReviewItem.objects.bulk_update(rescored, ["risk", "priority"], batch_size=1000)
        broadcast.queues_changed(queue_ids=touched)
        _announce_hard_limits(hard_arrivals, queue_ids=touched)
    return outcomes


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
