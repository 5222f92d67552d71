"""Bulk verdicts: a campaign's reviewed sample applied to its other open members, and reverted as a whole.

Every bulk decision is an ordinary Decision recorded by the decision service (reviews/workspace/decisions.py:
audit, consensus, staleness and exports stay one path), linked to its BulkVerdict, whose `applied_by` is the
decision's reviewer and whose `sample_decision_ids` are the sampled decisions it came from. Exports give these
rows `label_source = bulk`. A bulk verdict over more than INLINE_MAX members is applied by a Celery task in
batches (`bulk_verdict_run`), its progress on the campaign page; members past the hard-limit daily cap of their
queue for whoever applied it stay open. Reverting deletes the bulk decisions and reopens their items; each
deletion marks the snapshots that used it stale, and one audit event lists them all.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from reviews import taskqueue
from reviews.audit import audit_record
from reviews.campaigns.selectors import campaign_open_items, campaign_sample
from reviews.datasets.staleness import dataset_mark_stale
from reviews.models import (
    AuditAction,
    BulkStatus,
    BulkVerdict,
    Campaign,
    Category,
    Decision,
    Flag,
    ItemStatus,
    LimitKind,
    ReviewItem,
)
from reviews.permissions import ADMIN, SENIOR, user_roles
from reviews.workspace.decisions import decision_record
from reviews.workspace.errors import WorkspaceError
from reviews.workspace.selectors import hard_limit_exposure_today

INLINE_MAX = 200  # members a bulk verdict decides inside the request; a larger one goes to a task
BATCH = 100  # members per transaction in the task: each commit shows on the page as progress


class CampaignError(WorkspaceError):
    """The bulk verdict cannot be applied or reverted as asked."""


def campaign_sample_decide(*, user: Any, campaign: Campaign, item_id: int, verdict: str) -> Decision:
    """A sampled decision from the campaign page: an ordinary decision on one open member the user may work."""
    item = campaign_open_items(user=user, campaign=campaign).filter(pk=item_id).first()
    if item is None:
        raise CampaignError("That member is not open to you in this campaign any more.")
    return decision_record(item=item, reviewer=user, verdict=verdict, rationale=f"Campaign {campaign.pk} sample.")


def bulk_verdict_apply(*, user: Any, campaign: Campaign) -> BulkVerdict:
    """Apply the campaign's agreeing sample to every other open member the user may work: in this transaction
    up to INLINE_MAX members, else by a task (`bulk_verdict_run`) in batches whose progress the page shows."""
    sample = campaign_sample(user=user, campaign=campaign)
    if not sample.ready or sample.verdict is None:
        raise CampaignError(
            f"A bulk verdict needs at least {sample.needed} settled decisions on this campaign's members, all with "
            f"the same verdict ({len(sample.decisions)} so far, verdicts: {', '.join(sorted(sample.verdicts)) or '—'})."
        )
    with transaction.atomic():
        Campaign.objects.select_for_update().get(pk=campaign.pk)  # one apply at a time per campaign
        if campaign.bulk_verdicts.filter(status=BulkStatus.APPLYING).exists():
            raise CampaignError("A bulk verdict is still being applied to this campaign: wait for it to finish.")
        items = list(campaign_open_items(user=user, campaign=campaign).order_by("pk").values_list("pk", flat=True))
        if not items:
            raise CampaignError("No open member of this campaign is left for you to decide.")
        bulk = BulkVerdict.objects.create(
            campaign=campaign,
            applied_by=user,
            verdict=sample.verdict,
            categories=sample.categories,
            severity=sample.severity,
            sample_decision_ids=[d.pk for d in sample.decisions],
            status=BulkStatus.APPLYING,
            item_ids=items,
        )
        if len(items) > INLINE_MAX:
            transaction.on_commit(lambda: taskqueue.enqueue(taskqueue.BULK_APPLY_TASK, bulk.pk))
            return bulk
        _apply_batch(bulk, items)
        bulk.progress = len(items)
        _finish(bulk)
    return bulk


def bulk_verdict_run(*, bulk_id: int) -> BulkVerdict:
    """The task's work: the bulk verdict's members BATCH at a time, each batch one transaction that also moves
    `progress` on, so a run cut short resumes where it stopped and a second run finds nothing left to do."""
    while True:
        with transaction.atomic():
            bulk = BulkVerdict.objects.select_for_update().select_related("campaign", "applied_by").get(pk=bulk_id)
            if bulk.status != BulkStatus.APPLYING:
                return bulk
            batch = bulk.item_ids[bulk.progress : bulk.progress + BATCH]
            _apply_batch(bulk, batch)
            bulk.progress += len(batch)
            if bulk.progress >= len(bulk.item_ids):
                _finish(bulk)
            else:
                bulk.save(update_fields=["applied_count", "capped_count", "progress"])


def _apply_batch(bulk: BulkVerdict, item_ids: list[int]) -> None:
    """Decide those of `item_ids` still open to whoever applied it. Hard-limit members past their queue's daily
    cap for that person (reviews/workspace/selectors.py) stay open for other reviewers, as in the workspace."""
    user, campaign = bulk.applied_by, bulk.campaign
    still_open = campaign_open_items(user=user, campaign=campaign).filter(pk__in=item_ids)
    items = list(still_open.select_related("queue").order_by("pk"))
    hard = Category.objects.filter(limit=LimitKind.HARD).values("slug")
    flagged = Flag.objects.filter(conversation_id__in=[i.conversation_id for i in items], category__in=hard)
    hard_conversations = set(flagged.values_list("conversation_id", flat=True))
    exposure = hard_limit_exposure_today(user=user) if hard_conversations else 0
    rationale = f"Campaign {campaign.pk}: bulk verdict {bulk.pk}, from sampled decisions {bulk.sample_decision_ids}."
    for item in items:
        is_hard = item.conversation_id in hard_conversations
        cap = item.queue.hard_limit_daily_cap
        if is_hard and cap is not None and exposure >= cap:
            bulk.capped_count += 1
            continue
        decision_record(
            item=item,
            reviewer=user,
            verdict=bulk.verdict,
            categories=bulk.categories,
            severity=bulk.severity,
            rationale=rationale,
            bulk=bulk,
        )
        bulk.applied_count += 1
        exposure += is_hard


def _finish(bulk: BulkVerdict) -> None:
    bulk.status = BulkStatus.APPLIED
    bulk.save(update_fields=["applied_count", "capped_count", "progress", "status"])
    decided = list(Decision.objects.filter(bulk=bulk).order_by("pk").values_list("pk", "item_id"))
    audit_record(
        actor=bulk.applied_by,
        action=AuditAction.BULK_VERDICT,
        target=bulk,
        campaign=bulk.campaign_id,
        verdict=bulk.verdict,
        sample=bulk.sample_decision_ids,
        decisions=[pk for pk, _ in decided],
        items=[item for _, item in decided],
        capped=bulk.capped_count,
    )


def bulk_verdict_revert(*, user: Any, bulk: BulkVerdict) -> int:
    """Take the bulk decisions back and reopen their items; returns how many. Whoever applied it, a senior or an
    admin may revert it. An item whose conversation has opened elsewhere since keeps its decision (counted in
    the audit event as kept)."""
    if user.pk != bulk.applied_by_id and not user_roles(user) & {SENIOR, ADMIN}:
        raise CampaignError("Only whoever applied it, a senior or an admin may revert a bulk verdict.")
    with transaction.atomic():
        bulk = BulkVerdict.objects.select_for_update().get(pk=bulk.pk)
        if bulk.reverted_at is not None:
            raise CampaignError("This bulk verdict has already been reverted.")
        if bulk.status == BulkStatus.APPLYING:
            raise CampaignError("This bulk verdict is still being applied: revert it once it has finished.")
        reverted, kept = [], []
        for decision in Decision.objects.filter(bulk=bulk).order_by("pk"):
            item = ReviewItem.objects.select_for_update().get(pk=decision.item_id)
            elsewhere = ReviewItem.objects.filter(conversation_id=item.conversation_id, status=ItemStatus.OPEN)
            if item.status != ItemStatus.DONE or elsewhere.exists():
                kept.append(decision.pk)
                continue
            pk = decision.pk
            decision.delete()
            decision.pk = pk  # what staleness records as the changed decision
            item.status, item.closed_at, item.reviews_done = ItemStatus.OPEN, None, max(0, item.reviews_done - 1)
            item.save(update_fields=["status", "closed_at", "reviews_done"])
            dataset_mark_stale(decision=decision, edited=True)
            reverted.append(pk)
        bulk.reverted_at, bulk.reverted_by = timezone.now(), user
        bulk.save(update_fields=["reverted_at", "reverted_by"])
        audit_record(actor=user, action=AuditAction.BULK_VERDICT_REVERTED, target=bulk, decisions=reverted, kept=kept)
    return len(reverted)
