"""Gold items: a senior marks a settled item as gold; claim-next mixes it into reviewers' streams unmarked.

A presentation is a fresh copy of the gold conversation (messages, metadata, flags, scores) under a look-alike
external id, with one fresh item claimed by the reviewer: its ids come from the same sequences as real work,
its timestamps are those of a recent arrival, and it is the copy's only item, so no other item, decision or
id of the original reaches the page, the API or a websocket. Nobody else can claim it; queue counts, exports,
training and analytics leave copies out (`reviews.models.gold_copy`), but an answered copy takes a real item's
slot in the open count (`_free_slot`), so the count drops as for real work. A gold answer is the reviewer's
decision on the copy, never on the real conversation.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.models import (
    GOLD_SLOT_DAYS,
    AuditAction,
    Conversation,
    Decision,
    Flag,
    GoldItem,
    GoldPresentation,
    ItemStatus,
    PolicyVersion,
    Queue,
    QueueKind,
    ReviewItem,
    Score,
)
from reviews.routing.policy import Weights
from reviews.routing.priority import item_reprioritize

REVIEWER_QUEUES = (QueueKind.TRIAGE, QueueKind.CALIBRATION)
_HEX = set(string.hexdigits.lower() + "-")
PICK = 8  # golds drawn per presentation, before dropping those whose original the reviewer decided


class GoldError(ValueError):
    """The item cannot become gold (the view shows the message)."""


def gold_mark(*, item: ReviewItem, senior: Any, note: str = "") -> GoldItem:
    """Mark a settled item as gold: its final (else agreed) decision becomes the expected answer. Audited."""
    with transaction.atomic():
        item = ReviewItem.objects.select_for_update().get(pk=item.pk)
        answer = gold_answer_of(item)
        if answer is None:
            raise GoldError("Only a settled item (a ruling, or reviewers who agree) can become gold.")
        item = _reviewers_item(item)
        gold, created = GoldItem.objects.update_or_create(
            item=item,
            defaults={
                "queue": item.queue,
                "verdict": answer.verdict,
                "categories": sorted(answer.categories),
                "severity": answer.severity,
                "note": note.strip(),
                "created_by": senior,
                "is_active": True,
            },
        )
        audit_record(actor=senior, action=AuditAction.GOLD_MARKED, target=gold, item=item.pk, created=created)
    return gold


def _reviewers_item(item: ReviewItem) -> ReviewItem:
    """The conversation's item in a reviewers' queue (a ruling's seniors' item points back at it)."""
    if GoldPresentation.objects.filter(item_id=item.pk).exists():
        raise GoldError("A gold presentation cannot itself become gold.")
    found = (
        ReviewItem.objects.filter(conversation_id=item.conversation_id, queue__kind__in=REVIEWER_QUEUES)
        .select_related("queue")
        .order_by("created_at", "pk")
        .first()
    )
    if found is None:
        raise GoldError("Gold items come from work of a reviewers' queue; this conversation was in none.")
    return found


def gold_retire(*, gold: GoldItem, senior: Any) -> None:
    with transaction.atomic():
        GoldItem.objects.filter(pk=gold.pk).update(is_active=False)
        audit_record(actor=senior, action=AuditAction.GOLD_RETIRED, target=gold, item=gold.item_id)


def gold_answer_of(item: ReviewItem) -> Decision | None:
    """The settled answer of a closed item: a senior's final decision on its conversation, else its decisions
    when they all agree on the verdict."""
    conversation = item.conversation_id
    if ReviewItem.objects.filter(conversation_id=conversation, status=ItemStatus.OPEN).exists():
        return None
    final = Decision.objects.filter(item__conversation_id=conversation, is_final=True).order_by("-pk").first()
    if final is not None:
        return final
    if item.status != ItemStatus.DONE:
        return None
    decisions = list(item.decisions.filter(is_imported=False).order_by("pk"))
    if not decisions or len({d.verdict for d in decisions}) != 1 or not decisions[0].verdict:
        return None
    return decisions[0]


def gold_draw(*, queue: Queue) -> bool:
    """Whether this claim presents gold: the queue's gold rate, drawn per claim."""
    return queue.gold_percent > 0 and secrets.randbelow(10_000) < queue.gold_percent * 100


def gold_claim(*, reviewer: Any, queue: Queue) -> ReviewItem | None:
    """A gold presentation leased to `reviewer`, or None (then claim real work as usual): none while they hold
    an item of the queue, none when the queue has no free real work (an item out of an empty queue would
    stand out), never a gold they saw, made, or decided the original of."""
    gold = _gold_pick(reviewer=reviewer, queue=queue)
    return None if gold is None else gold_present(gold=gold, reviewer=reviewer, queue=queue)


def _gold_pick(*, reviewer: Any, queue: Queue) -> GoldItem | None:
    """The gold to present, read with its item (its conversation's messages stay in the database: gold_present
    copies them there), or None when gold_claim says none."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            _PICK.format(**_TABLES),
            {"queue": queue.pk, "reviewer": reviewer.pk, "pick": PICK, "open": ItemStatus.OPEN, "now": now},
        )
        row = cursor.fetchone()
    if row is None:
        return None
    kept = GoldItem.objects.select_related("item__conversation")
    return kept.defer("item__conversation__messages", "item__conversation__metadata").get(pk=row[0])


# Gold presentation reads written out once, in portable SQL: one round trip each, where the ORM took several and
# milliseconds of Python to build them (claim-next's p99 with gold mixed in, bench/claim_next.py).
_TABLES = {
    "gold": GoldItem._meta.db_table,
    "item": ReviewItem._meta.db_table,
    "shown": GoldPresentation._meta.db_table,
    "decision": Decision._meta.db_table,
}
# A few golds drawn at random (the small gold table sorted, no conversation read), then the first whose original
# the reviewer did not decide (cheaper than looking for a decision on every gold); none at all while the reviewer
# holds an item of the queue or the queue has no free real work.
_PICK = """
WITH drawn AS (
    SELECT g.id, i.conversation_id FROM {gold} g JOIN {item} i ON i.id = g.item_id
    WHERE g.queue_id = %(queue)s AND g.is_active AND g.created_by_id <> %(reviewer)s
      AND NOT EXISTS (SELECT 1 FROM {shown} p WHERE p.gold_id = g.id AND p.reviewer_id = %(reviewer)s)
    ORDER BY random() LIMIT %(pick)s
)
SELECT drawn.id FROM drawn
WHERE NOT EXISTS (
    SELECT 1 FROM {decision} d JOIN {item} di ON di.id = d.item_id
    WHERE d.reviewer_id = %(reviewer)s AND di.conversation_id = drawn.conversation_id
)
  AND NOT EXISTS (
    SELECT 1 FROM {item} h WHERE h.queue_id = %(queue)s AND h.status = %(open)s
      AND h.claimed_by_id = %(reviewer)s AND h.lease_expires_at > %(now)s
)
  AND EXISTS (SELECT 1 FROM {item} f WHERE f.queue_id = %(queue)s AND f.status = %(open)s AND f.claimed_by_id IS NULL)
LIMIT 1
"""
# The free real item that claims reach last (the claim index read backwards) and that no copy stands in for.
_FREE_SLOT = """
SELECT i.id FROM {item} i
WHERE i.queue_id = %(queue)s AND i.status = %(open)s AND i.claimed_by_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM {shown} p WHERE p.slot_id = i.id AND p.created_at >= %(since)s)
  AND NOT EXISTS (SELECT 1 FROM {shown} p WHERE p.item_id = i.id)
ORDER BY i.priority, i.created_at DESC, i.id DESC
LIMIT 1
"""


def gold_present(*, gold: GoldItem, reviewer: Any, queue: Queue) -> ReviewItem:
    """Copy the gold conversation and open its one item, leased to `reviewer` (one transaction)."""
    now = timezone.now()
    original, source_item = gold.item.conversation, gold.item
    received = now - timedelta(seconds=120 + secrets.randbelow(18 * 60))
    arrived = received + timedelta(seconds=1 + secrets.randbelow(8))
    outer = connection.in_atomic_block  # a caller's transaction keeps its own durability
    policy = PolicyVersion.objects.filter(is_active=True).only("pk", "document").first()
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            # As a claim's own commit (reviews/workspace/claims.py): lost in a server crash, the presentation
            # leaves nothing behind but a copy nobody holds, and the reviewer's page claims again.
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('synchronous_commit', 'off', true)")
        copy = _copy_conversation(
            original.pk, external_id=_lookalike_id(original.source_id, original.external_id), received_at=received
        )
        _copy_signals(original.pk, copy, scored_at=received + timedelta(seconds=1 + secrets.randbelow(4)))
        item = ReviewItem(
            conversation_id=copy,
            queue=queue,
            risk=source_item.risk,
            priority_base=source_item.priority_base if source_item.priority_base is not None else source_item.priority,
            routed_by=source_item.routed_by,
            policy_version=policy or source_item.policy_version,
            reviews_required=queue.reviews_required,
            created_at=arrived,
            due_at=arrived + (source_item.due_at - source_item.created_at) if source_item.due_at else None,
            claimed_by=reviewer,
            lease_expires_at=now + timedelta(seconds=queue.lease_seconds),
        )
        weights = policy.document.get("weights") if policy and isinstance(policy.document, dict) else None
        item_reprioritize(item, age_weight=Weights.model_validate(weights or {}).age, now=now)
        item.save()
        slot = _free_slot(queue=queue, now=now)
        GoldPresentation.objects.create(gold=gold, reviewer=reviewer, item=item, conversation_id=copy, slot_id=slot)
    return item


def _free_slot(*, queue: Queue, now: datetime) -> int | None:
    """The slot this presentation takes in the queue's open count: the free real item that claims reach last,
    so that the reviewer's own next items are not the one it stands in for, and that no other copy stands in
    for (a slot is held at most GOLD_SLOT_DAYS)."""
    since = connection.ops.adapt_datetimefield_value(now - timedelta(days=GOLD_SLOT_DAYS))
    with connection.cursor() as cursor:
        cursor.execute(_FREE_SLOT.format(**_TABLES), {"queue": queue.pk, "open": ItemStatus.OPEN, "since": since})
        row = cursor.fetchone()
    return None if row is None else int(row[0])


# Copies of the original's flags and scores, each one statement; column names from the models, values as parameters.
_FLAG_COLUMNS = ("detector", "category", "score", "explanation", "message_index")
_SCORE_COLUMNS = ("scoring_model_id", "producer", "categories", "risk", "verdicts", "judged")


def _copy_conversation(original: int, *, external_id: str, received_at: datetime) -> int:
    """The original conversation copied within the database (its messages never travel), with the new external
    id and arrival, its scoring state as a fresh conversation's. Returns the copy's id."""
    table = Conversation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (source_id, external_id, model_name, messages, metadata, content_length,"  # noqa: S608
            " received_at, scoring_status, scoring_attempts, scoring_error)"
            " SELECT source_id, %s, model_name, messages, metadata, content_length, %s, scoring_status, 0, ''"
            f" FROM {table} WHERE id = %s RETURNING id",
            [external_id, received_at, original],
        )
        return int(cursor.fetchone()[0])


def _copy_signals(original: int, copy: int, *, scored_at: datetime) -> None:
    """The original's flags and scores on the copy, scored a moment after it arrived (portable SQL)."""
    flags, scores = Flag._meta.db_table, Score._meta.db_table
    flag_columns, score_columns = ", ".join(_FLAG_COLUMNS), ", ".join(_SCORE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {flags} (conversation_id, {flag_columns})"  # noqa: S608
            f" SELECT %s, {flag_columns} FROM {flags} WHERE conversation_id = %s ORDER BY id",
            [copy, original],
        )
        cursor.execute(
            f"INSERT INTO {scores} (conversation_id, created_at, {score_columns})"  # noqa: S608
            f" SELECT %s, %s, {score_columns} FROM {scores} WHERE conversation_id = %s ORDER BY id",
            [copy, scored_at, original],
        )


def _lookalike_id(source_id: int, external_id: str) -> str:
    """An unused external id of the same shape: each run of digits (and, in a hex id, every hex letter) redrawn,
    a leading zero only where the original had one. Where that shape is nearly used up (a source numbering its
    conversations densely), the original with random digits appended, longer for each. All candidates are drawn
    at once and checked in one read."""
    hexlike = bool(external_id) and set(external_id.lower()) <= _HEX and "-" in external_id
    candidates = [
        "".join(_redraw_hex(ch) for ch in external_id) if hexlike else re.sub(r"\d+", _redraw_digits, external_id)
        for _ in range(4)
    ]
    candidates += [external_id + str(secrets.randbelow(10**digits)).zfill(digits) for digits in range(3, 11)]
    taken = set(
        Conversation.objects.filter(source_id=source_id, external_id__in=candidates).values_list(
            "external_id", flat=True
        )
    )
    free = (c for c in candidates if c != external_id and c not in taken)
    return next(free, f"{external_id}{uuid.uuid4().hex}")  # the last: 10**10 ids of that prefix would be taken


def _redraw_digits(run: re.Match[str]) -> str:
    digits = run.group(0)
    first = secrets.choice(string.digits if digits[0] == "0" else string.digits[1:])
    return first + "".join(secrets.choice(string.digits) for _ in digits[1:])


def _redraw_hex(ch: str) -> str:
    if ch.isdigit() or ch in "abcdef":
        return secrets.choice(string.hexdigits[:16])
    if ch in "ABCDEF":
        return secrets.choice(string.hexdigits[:10] + "ABCDEF")
    return ch


def gold_answered(*, item: ReviewItem) -> GoldPresentation | None:
    """After the reviewer's decision on an item: if it was a gold presentation, close it (its one answer is in)
    and return the presentation (for feedback). Inside the caller's transaction."""
    presentation = GoldPresentation.objects.select_related("gold").filter(item_id=item.pk).first()
    if presentation is None:
        return None
    ReviewItem.objects.filter(pk=item.pk, status=ItemStatus.OPEN).update(
        status=ItemStatus.DONE, closed_at=timezone.now(), claimed_by=None, lease_expires_at=None
    )
    return presentation


def gold_skipped(*, item: ReviewItem) -> None:
    """A skipped gold presentation closes: it goes back to no one else's stream."""
    ReviewItem.objects.filter(pk=item.pk, status=ItemStatus.OPEN, gold_presentation__isnull=False).update(
        status=ItemStatus.DROPPED, closed_at=timezone.now(), claimed_by=None, lease_expires_at=None
    )
