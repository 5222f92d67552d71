"""QA sampling: a share of each reviewer's settled decisions goes to a blind second review by a senior.

When a reviewer's decision closes an item of a reviewers' queue (the reviews it asked for are in, and they
agree), the queue's `qa_percent` draws it for QA: the conversation opens in the seniors' QA queue, which is
blind, so the senior decides without seeing the first decision. An agreeing QA decision makes the label a
consensus; a disagreeing one sends the conversation to adjudication, whose final ruling becomes the exported
label (and marks the snapshots that hold the old one stale, as every ruling does).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.utils import timezone

from reviews.audit import audit_record
from reviews.models import AuditAction, Decision, ItemStatus, QaSample, Queue, QueueKind, ReviewItem
from reviews.routing.open_items import item_open_elsewhere
from reviews.routing.priority import active_age_weight

QA_SAMPLED_QUEUES = (QueueKind.TRIAGE, QueueKind.CALIBRATION)


def qa_draw(*, queue: Queue) -> bool:
    return queue.qa_percent > 0 and secrets.randbelow(10_000) < queue.qa_percent * 100


def qa_after_decision(*, item: ReviewItem, decision: Decision) -> QaSample | ReviewItem | None:
    """After a decision that the workspace recorded (inside its transaction): a QA decision that disagrees opens
    adjudication; a reviewer's decision that settles its item may be drawn for QA."""
    if item.queue.kind == QueueKind.QA:
        return _qa_decided(item=item, decision=decision)
    if item.queue.kind not in QA_SAMPLED_QUEUES or decision.is_final or not qa_draw(queue=item.queue):
        return None
    return qa_sample(item=item, decision=decision)


def qa_sample(*, item: ReviewItem, decision: Decision) -> QaSample | None:
    """Open the conversation in the QA queue for a blind second review of `decision`, if its item is settled."""
    item.refresh_from_db(fields=["status", "reviews_done", "reviews_required"])
    if item.status != ItemStatus.DONE or len(set(item.decisions.values_list("verdict", flat=True))) != 1:
        return None
    if not Queue.objects.filter(kind=QueueKind.QA, is_active=True).exists():
        return None
    now = timezone.now()
    qa_item = item_open_elsewhere(
        source=item,
        kind=QueueKind.QA,
        routed_by="QA sample",
        reopen=False,
        age_weight=active_age_weight(),
        now=now,
    )
    sample, _ = QaSample.objects.get_or_create(item=qa_item, defaults={"decision": decision})
    audit_record(actor=None, action=AuditAction.QA_SAMPLED, target=decision, item=item.pk, qa_item=qa_item.pk)
    return sample


def _qa_decided(*, item: ReviewItem, decision: Decision) -> ReviewItem | None:
    """The senior's QA decision: where it disagrees with the sampled decision, a senior adjudicates."""
    sample = QaSample.objects.select_related("decision__item").filter(item_id=item.pk).first()
    if sample is None or sample.decision.verdict == decision.verdict:
        return None
    return item_open_elsewhere(
        source=item,
        kind=QueueKind.ADJUDICATION,
        routed_by=f"QA disagreed with decision {sample.decision_id}",
        adjudicated=True,
        adjudicates=sample.decision.item,
        reopen=False,
        age_weight=active_age_weight(),
        now=timezone.now(),
    )


def qa_items_of(*, reviewer: Any) -> list[int]:
    """Open QA items that second-review this person's own decisions: never theirs to take."""
    return list(
        QaSample.objects.filter(decision__reviewer=reviewer, item__status=ItemStatus.OPEN).values_list(
            "item_id", flat=True
        )
    )
