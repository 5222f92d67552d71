"""Gold items: a senior marks a settled item as gold; claim-next mixes it into reviewers' streams unmarked.

A presentation is a fresh copy of the gold conversation (messages, metadata, flags, scores) under a look-alike
external id, with one fresh item claimed by the reviewer: its ids come from the same sequences as real work,
its timestamps are those of a recent arrival, and it is the copy's only item, so no other item, decision or
id of the original reaches the page, the API or a websocket. Nobody else can claim it; queue counts, exports,
training and analytics leave copies out (`reviews.models.gold_copy`). A gold answer is the reviewer's decision
on the copy, never on the real conversation.
"""

from __future__ import annotations

import secrets
import string
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from reviews.audit import audit_record
from reviews.models import (
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
from reviews.routing.priority import active_age_weight, item_reprioritize

REVIEWER_QUEUES = (QueueKind.TRIAGE, QueueKind.CALIBRATION)
_HEX = set(string.hexdigits.lower() + "-")


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
    now = timezone.now()
    mine = Q(claimed_by=reviewer, lease_expires_at__gt=now)
    open_items = ReviewItem.objects.filter(queue=queue, status=ItemStatus.OPEN)
    if open_items.filter(mine).exists() or not open_items.filter(claimed_by__isnull=True).exists():
        return None
    decided = Decision.objects.filter(item__conversation_id=OuterRef("item__conversation_id"), reviewer=reviewer)
    gold = (
        GoldItem.objects.filter(queue=queue, is_active=True)
        .exclude(created_by=reviewer)
        .exclude(presentations__reviewer=reviewer)
        .exclude(Exists(decided))
        .select_related("item__conversation")
        .order_by("?")
        .first()
    )
    return None if gold is None else gold_present(gold=gold, reviewer=reviewer, queue=queue)


def gold_present(*, gold: GoldItem, reviewer: Any, queue: Queue) -> ReviewItem:
    """Copy the gold conversation and open its one item, leased to `reviewer` (one transaction)."""
    now = timezone.now()
    original, source_item = gold.item.conversation, gold.item
    received = now - timedelta(seconds=120 + secrets.randbelow(18 * 60))
    arrived = received + timedelta(seconds=1 + secrets.randbelow(8))
    with transaction.atomic():
        copy = Conversation.objects.create(
            source_id=original.source_id,
            external_id=_lookalike_id(original.source_id, original.external_id),
            model_name=original.model_name,
            messages=original.messages,
            metadata=original.metadata,
            content_length=original.content_length,
            received_at=received,
            scoring_status=original.scoring_status,
        )
        _copy_signals(original, copy, shift=received - original.received_at)
        item = ReviewItem(
            conversation=copy,
            queue=queue,
            risk=source_item.risk,
            priority_base=source_item.priority_base if source_item.priority_base is not None else source_item.priority,
            routed_by=source_item.routed_by,
            policy_version=PolicyVersion.objects.filter(is_active=True).first() or source_item.policy_version,
            reviews_required=queue.reviews_required,
            created_at=arrived,
            due_at=arrived + (source_item.due_at - source_item.created_at) if source_item.due_at else None,
            claimed_by=reviewer,
            lease_expires_at=now + timedelta(seconds=queue.lease_seconds),
        )
        item_reprioritize(item, age_weight=active_age_weight(), now=now)
        item.save()
        GoldPresentation.objects.create(gold=gold, reviewer=reviewer, item=item, conversation=copy)
    return item


def _copy_signals(original: Conversation, copy: Conversation, *, shift: timedelta) -> None:
    Flag.objects.bulk_create(
        Flag(
            conversation=copy,
            detector=f.detector,
            category=f.category,
            score=f.score,
            explanation=f.explanation,
            message_index=f.message_index,
        )
        for f in original.flags.order_by("pk")
    )
    Score.objects.bulk_create(
        Score(
            conversation=copy,
            scoring_model_id=s.scoring_model_id,
            producer=s.producer,
            categories=s.categories,
            risk=s.risk,
            verdicts=s.verdicts,
            judged=s.judged,
            created_at=s.created_at + shift,
        )
        for s in original.scores.order_by("pk")
    )


def _lookalike_id(source_id: int, external_id: str) -> str:
    """An unused external id of the same shape: every digit (and, in a hex id, every hex letter) redrawn."""
    hexlike = bool(external_id) and set(external_id.lower()) <= _HEX
    for _ in range(20):
        candidate = "".join(_redraw(ch, hexlike) for ch in external_id)
        taken = Conversation.objects.filter(source_id=source_id, external_id=candidate).exists()
        if candidate != external_id and not taken:
            return candidate
    return f"{external_id}{secrets.randbelow(10**9)}"


def _redraw(ch: str, hexlike: bool) -> str:
    if ch.isdigit() or (hexlike and ch in "abcdef"):
        return secrets.choice(string.hexdigits[:16] if hexlike else string.digits)
    if hexlike and ch in "ABCDEF":
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
