"""Bulk verdicts: a campaign's reviewed sample applied to its other open members, and reverted as a whole.

Every bulk decision is an ordinary Decision recorded by the decision service (reviews/workspace/decisions.py:
audit, consensus, staleness and exports stay one path), linked to its BulkVerdict, whose `applied_by` is the
decision's reviewer and whose `sample_decision_ids` are the sampled decisions it came from. Exports give these
rows `label_source = bulk`. Reverting deletes the bulk decisions and reopens their items; each deletion marks the
snapshots that used it stale, and one audit event lists them all.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.campaigns.selectors import campaign_open_items, campaign_sample
from reviews.datasets.staleness import dataset_mark_stale
from reviews.models import AuditAction, BulkVerdict, Campaign, Decision, ItemStatus, ReviewItem
from reviews.permissions import ADMIN, SENIOR, user_roles
from reviews.workspace.decisions import decision_record
from reviews.workspace.errors import WorkspaceError


class CampaignError(WorkspaceError):
    """The bulk verdict cannot be applied or reverted as asked."""


def campaign_sample_decide(*, user: Any, campaign: Campaign, item_id: int, verdict: str) -> Decision:
    """A sampled decision from the campaign page: an ordinary decision on one open member the user may work."""
    item = campaign_open_items(user=user, campaign=campaign).filter(pk=item_id).first()
    if item is None:
        raise CampaignError("That member is not open to you in this campaign any more.")
    return decision_record(item=item, reviewer=user, verdict=verdict, rationale=f"Campaign {campaign.pk} sample.")


def bulk_verdict_apply(*, user: Any, campaign: Campaign) -> BulkVerdict:
    """Apply the campaign's agreeing sample to every other open member the user may work, in one transaction."""
    sample = campaign_sample(user=user, campaign=campaign)
    if not sample.ready or sample.verdict is None:
        raise CampaignError(
            f"A bulk verdict needs at least {sample.needed} settled decisions on this campaign's members, all with "
            f"the same verdict ({len(sample.decisions)} so far, verdicts: {', '.join(sorted(sample.verdicts)) or '—'})."
        )
    with transaction.atomic():
        items = list(campaign_open_items(user=user, campaign=campaign).order_by("pk"))
        if not items:
            raise CampaignError("No open member of this campaign is left for you to decide.")
        sampled = [d.pk for d in sample.decisions]
        bulk = BulkVerdict.objects.create(
            campaign=campaign,
            applied_by=user,
            verdict=sample.verdict,
            categories=sample.categories,
            severity=sample.severity,
            sample_decision_ids=sampled,
        )
        rationale = f"Campaign {campaign.pk}: bulk verdict {bulk.pk}, from sampled decisions {sampled}."
        decided = [
            decision_record(
                item=item,
                reviewer=user,
                verdict=bulk.verdict,
                categories=bulk.categories,
                severity=bulk.severity,
                rationale=rationale,
                bulk=bulk,
            )
            for item in items
        ]
        bulk.applied_count = len(decided)
        bulk.save(update_fields=["applied_count"])
        audit_record(
            actor=user,
            action=AuditAction.BULK_VERDICT,
            target=bulk,
            campaign=campaign.pk,
            verdict=bulk.verdict,
            sample=sampled,
            decisions=[d.pk for d in decided],
            items=[i.pk for i in items],
        )
    return bulk


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
