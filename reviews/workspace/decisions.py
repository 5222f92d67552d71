"""Recording reviewers' decisions on review items."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.datasets.staleness import dataset_mark_stale
from reviews.models import (
    HARMFUL_REQUEST_VERDICTS,
    AuditAction,
    BulkVerdict,
    Category,
    Decision,
    ItemStatus,
    QueueKind,
    ReviewItem,
    Verdict,
)
from reviews.routing.open_items import item_open_elsewhere, items_supersede
from reviews.routing.priority import ADJUDICATION_BOOST as ADJUDICATION_BOOST  # where callers have always found it
from reviews.routing.priority import active_age_weight
from reviews.workspace.errors import DecisionError

SENIOR_QUEUES = frozenset({QueueKind.ESCALATION, QueueKind.ADJUDICATION})


def decision_validate(verdict: str, categories: Sequence[str], severity: int) -> None:
    if verdict not in Verdict.values:
        raise DecisionError(f"Unknown verdict {verdict!r}.")
    if not 0 <= severity <= 4:
        raise DecisionError("Severity must be between 0 and 4.")
    unknown = set(categories) - set(Category.objects.filter(slug__in=categories).values_list("slug", flat=True))
    if unknown:
        raise DecisionError(f"Unknown categories: {', '.join(sorted(unknown))}.")


def decision_record(
    *,
    item: ReviewItem,
    reviewer: User,
    verdict: str,
    categories: Sequence[str] = (),
    severity: int = 0,
    rationale: str = "",
    preferred_response: str = "",
    time_spent_seconds: int = 0,
    is_final: bool = False,
    bulk: BulkVerdict | None = None,
) -> Decision:
    """One reviewer's label; the item closes once it has the reviews it needs.

    In the escalation and adjudication queues a (senior's) decision is final. A decision applied with a
    campaign's bulk verdict (`bulk`, reviews/campaigns/bulk.py) closes its item whatever reviews it asked for.
    """
    decision_validate(verdict, categories, severity)
    with transaction.atomic():
        item = ReviewItem.objects.select_for_update().select_related("queue").get(pk=item.pk)
        is_final = is_final or item.queue.kind in SENIOR_QUEUES
        if item.status != ItemStatus.OPEN:
            raise DecisionError(f"Item {item.pk} is {item.status}; it takes no more decisions.")
        try:
            with transaction.atomic():
                decision = Decision.objects.create(
                    item=item,
                    reviewer=reviewer,
                    verdict=verdict,
                    harmful_request=verdict in HARMFUL_REQUEST_VERDICTS,
                    categories=list(categories),
                    severity=severity,
                    rationale=rationale,
                    preferred_response=preferred_response,
                    time_spent_seconds=time_spent_seconds,
                    is_final=is_final,
                    bulk=bulk,
                )
        except IntegrityError:
            raise DecisionError("You have already decided this item.") from None
        item.reviews_done += 1
        item.claimed_by, item.lease_expires_at = None, None
        now = timezone.now()
        closes = decision.is_final or bulk is not None or item.reviews_done >= item.reviews_required
        if closes:
            item.status, item.closed_at = ItemStatus.DONE, now
        item.save(update_fields=["reviews_done", "claimed_by", "lease_expires_at", "status", "closed_at"])
        if decision.is_final:  # the ruling settles the conversation: nothing of it stays open elsewhere
            items_supersede(conversation_id=item.conversation_id, by=item, now=now)
        elif closes:  # closed first: the adjudication item becomes the conversation's one open item
            adjudicate_if_split(item)
        audit_record(actor=reviewer, action=AuditAction.DECISION, target=decision, item=item.pk, verdict=verdict)
        dataset_mark_stale(decision=decision)  # marks the snapshots a rebuild would now make differently
    return decision


def adjudicate_if_split(item: ReviewItem) -> None:
    """Reviewers who disagree on the verdict hand the item to a senior, whose decision is final."""
    if len(set(item.decisions.values_list("verdict", flat=True))) < 2:
        return
    item_open_elsewhere(
        source=item,
        kind=QueueKind.ADJUDICATION,
        routed_by=f"reviewers disagreed on item {item.pk}",
        adjudicated=True,
        adjudicates=item,
        reopen=False,
        age_weight=active_age_weight(),
        now=timezone.now(),
    )
