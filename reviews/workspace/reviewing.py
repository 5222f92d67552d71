"""The reviewer workspace's writes: submit under a lease, skip, edit within the window, reveal blurred text.

Each checks the lease in the same transaction as the change, so a decision sent after the lease passed to
someone else records nothing (the view answers 409).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from reviews.audit import audit_record
from reviews.datasets.staleness import dataset_mark_stale
from reviews.live.broadcast import item_claim_changed, queues_changed
from reviews.models import (
    FAILURE_VERDICTS,
    HARMFUL_REQUEST_VERDICTS,
    AuditAction,
    Category,
    ClaimRecord,
    Decision,
    ItemStatus,
    LimitKind,
    Queue,
    QueueKind,
    ReviewItem,
)
from reviews.quality import gold, qa
from reviews.workspace import selectors
from reviews.workspace.claims import item_claim, item_lock_held
from reviews.workspace.decisions import adjudicate_if_split, decision_record, decision_validate
from reviews.workspace.errors import ClaimConflict, DecisionError, RevealError, SkipError
from reviews.workspace.escalations import escalations_resolve

CAP_REACHED = (
    "You reached this queue's daily cap of {cap} hard-limit items: this one goes to other reviewers."
    " Nothing was recorded."
)
EDITABLE_FIELDS = ("verdict", "categories", "severity", "rationale", "preferred_response")


def item_claim_next(*, reviewer: User, queue: Queue) -> ReviewItem | None:
    """Claim next for the workspace: passes over items the reviewer just skipped and, once they reached the
    queue's daily hard-limit cap, hard-limit items (which then go to other reviewers)."""
    avoid = None
    cap = queue.hard_limit_daily_cap
    if cap is not None and selectors.hard_limit_exposure_today(user=reviewer) >= cap:
        avoid = Q(conversation__flags__category__in=Category.objects.filter(limit=LimitKind.HARD).values("slug"))
    exclude = selectors.items_skipped_recently(user=reviewer)
    if queue.kind == QueueKind.QA:  # a senior never second-reviews their own decision
        exclude = [*exclude, *qa.qa_items_of(reviewer=reviewer)]
    item = item_claim_mixed(reviewer=reviewer, queue=queue, exclude=exclude, avoid=avoid)
    if item is not None:
        ClaimRecord.objects.create(item=item, reviewer=reviewer)  # the history's "claimed" line
        item_claim_changed(item=item)
    return item


def item_claim_mixed(
    *, reviewer: User, queue: Queue, exclude: Sequence[int] = (), avoid: Q | None = None
) -> ReviewItem | None:
    """`item_claim` with gold items mixed in at the queue's gold rate (reviews/quality/gold.py): a hidden test
    item, claimed as any other. Not past the daily cap (`avoid`), where gold could be a hard-limit item."""
    if avoid is None and gold.gold_draw(queue=queue):
        presented = gold.gold_claim(reviewer=reviewer, queue=queue)
        if presented is not None:
            return presented
    return item_claim(reviewer=reviewer, queue=queue, exclude=exclude, avoid=avoid)


def _require_preferred(*, item: ReviewItem, verdict: str, preferred_response: str) -> None:
    if item.queue.require_preferred_response and verdict in FAILURE_VERDICTS and not preferred_response.strip():
        raise DecisionError("This queue needs a preferred response for a failure verdict.")


def decision_submit(
    *,
    item: ReviewItem,
    reviewer: User,
    verdict: str,
    categories: Sequence[str] = (),
    severity: int = 0,
    rationale: str = "",
    preferred_response: str = "",
    time_spent_seconds: int = 0,
) -> Decision:
    """A decision from the workspace: refused (ClaimConflict) once the lease passed to someone else.

    In the escalation queue the (senior's) decision is final and resolves the open escalations.
    """
    with transaction.atomic():
        locked = item_lock_held(item=item, reviewer=reviewer)
        if selectors.item_past_daily_cap(item=locked, user=reviewer):
            raise ClaimConflict(CAP_REACHED.format(cap=locked.queue.hard_limit_daily_cap))
        _require_preferred(item=locked, verdict=verdict, preferred_response=preferred_response)
        decision = decision_record(
            item=locked,
            reviewer=reviewer,
            verdict=verdict,
            categories=categories,
            severity=severity,
            rationale=rationale,
            preferred_response=preferred_response,
            time_spent_seconds=time_spent_seconds,
        )
        if locked.queue.kind == QueueKind.ESCALATION:
            escalations_resolve(item=locked, decision=decision, senior=reviewer)
        if gold.gold_answered(item=locked) is None:  # a gold answer settles nothing real
            qa.qa_after_decision(item=locked, decision=decision)
        queues_changed(queue_ids=[locked.queue_id, *_adjudication_queues(locked)])
    return decision


def _adjudication_queues(item: ReviewItem) -> list[int]:
    """Where a split of this item's reviewers would land (counts to refresh)."""
    if item.reviews_required < 2:
        return []
    return list(Queue.objects.filter(kind=QueueKind.ADJUDICATION).values_list("pk", flat=True))


def item_skip(*, item: ReviewItem, reviewer: User, reason: str) -> ReviewItem:
    """Hand the item back to the queue, with a reason (audited)."""
    reason = reason.strip()
    if not reason:
        raise SkipError("Say why you skip this item.")
    with transaction.atomic():
        locked = item_lock_held(item=item, reviewer=reviewer)
        locked.claimed_by, locked.lease_expires_at = None, None
        locked.save(update_fields=["claimed_by", "lease_expires_at"])
        audit_record(actor=reviewer, action=AuditAction.SKIP, target=locked, reason=reason)
        gold.gold_skipped(item=locked)
        item_claim_changed(item=locked)
    return locked


def decision_edit(
    *,
    decision: Decision,
    reviewer: User,
    verdict: str,
    categories: Sequence[str] = (),
    severity: int = 0,
    rationale: str = "",
    preferred_response: str = "",
) -> Decision:
    """Change one's own decision within the queue's window; audited, and consensus re-evaluated."""
    decision_validate(verdict, categories, severity)
    with transaction.atomic():
        locked = Decision.objects.select_for_update(of=("self",)).select_related("item__queue").get(pk=decision.pk)
        if locked.reviewer_id != reviewer.pk:
            raise DecisionError("Only the reviewer who made a decision may edit it.")
        if not locked.is_editable():
            raise DecisionError("The edit window for this decision has closed.")
        _require_preferred(item=locked.item, verdict=verdict, preferred_response=preferred_response)
        before = {field: getattr(locked, field) for field in EDITABLE_FIELDS}
        locked.verdict, locked.categories, locked.severity = verdict, list(categories), severity
        locked.rationale, locked.preferred_response = rationale, preferred_response
        locked.harmful_request = verdict in HARMFUL_REQUEST_VERDICTS
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*EDITABLE_FIELDS, "harmful_request", "updated_at"])
        after = {field: getattr(locked, field) for field in EDITABLE_FIELDS}
        changed = {field: [before[field], after[field]] for field in EDITABLE_FIELDS if before[field] != after[field]}
        audit_record(actor=reviewer, action=AuditAction.DECISION_EDIT, target=locked, changed=changed)
        _consensus_reevaluate(locked.item)
        if changed:
            dataset_mark_stale(decision=locked, edited=True)
        queues_changed(queue_ids=_adjudication_queues(locked.item))
    return locked


def _consensus_reevaluate(item: ReviewItem) -> None:
    """After an edit: a closed item whose reviewers now disagree goes to adjudication; one whose reviewers
    agree again drops the adjudication item that has not been worked yet."""
    if item.status != ItemStatus.DONE or item.decisions.filter(is_final=True).exists():
        return
    if len(set(item.decisions.values_list("verdict", flat=True))) >= 2:
        adjudicate_if_split(item)
        return
    item.adjudications.filter(status=ItemStatus.OPEN, reviews_done=0).update(
        status=ItemStatus.DROPPED, closed_at=timezone.now()
    )


def content_reveal(*, item: ReviewItem, reviewer: User, message_index: int) -> None:
    """Record that the reviewer chose to see a blurred message."""
    if not 0 <= message_index < len(item.conversation.messages):
        raise RevealError("No such message.")
    with transaction.atomic():
        audit_record(
            actor=reviewer,
            action=AuditAction.REVEAL,
            target=item.conversation,
            item=item.pk,
            message_index=message_index,
        )


def content_reveal_all(*, item: ReviewItem, reviewer: User) -> list[int]:
    """Reveal every turn still blurred for the reviewer, as one audited action; returns the turns revealed."""
    turns = selectors.conversation_turns(conversation=item.conversation, user=reviewer)
    hidden = [turn.index for turn in turns if turn.blurred]
    if hidden:
        with transaction.atomic():
            audit_record(
                actor=reviewer,
                action=AuditAction.REVEAL,
                target=item.conversation,
                item=item.pk,
                message_indexes=hidden,
            )
    return hidden
