"""Bulk verdicts: a sample decided, applied to the rest through the decision service, exported as `bulk`,
reverted as a whole; later members get the verdict as a suggestion only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from reviews.campaigns.bulk import CampaignError, bulk_verdict_apply, bulk_verdict_revert, campaign_sample_decide
from reviews.campaigns.selectors import campaign_open_items
from reviews.datasets.builder import dataset_build, dataset_create
from reviews.models import AuditAction, AuditEvent, Campaign, Decision, ItemStatus, ReviewItem
from tests.campaigns.conftest import member


def _sample(user: User, campaign: Campaign, verdicts: list[str]) -> list[Decision]:
    items = list(campaign_open_items(user=user, campaign=campaign).order_by("pk"))
    return [
        campaign_sample_decide(user=user, campaign=campaign, item_id=item.pk, verdict=verdict)
        for item, verdict in zip(items, verdicts, strict=False)
    ]


def _export_rows() -> list[dict[str, Any]]:
    dataset = dataset_build(dataset_id=dataset_create(kind="eval", enqueue=False, split_ratios={"train": 1.0}).pk)
    with default_storage.open(dataset.files["train"]["path"], "rb") as handle:
        return [json.loads(line) for line in handle]


@pytest.mark.django_db
def test_a_bulk_verdict_needs_enough_agreeing_sampled_decisions(reviewer: User, campaign: Campaign) -> None:
    _sample(reviewer, campaign, ["harmful_compliance", "harmful_compliance"])
    with pytest.raises(CampaignError, match="at least 3"):
        bulk_verdict_apply(user=reviewer, campaign=campaign)
    _sample(reviewer, campaign, ["appropriate_refusal"])
    with pytest.raises(CampaignError, match="same verdict"):
        bulk_verdict_apply(user=reviewer, campaign=campaign)
    assert not Decision.objects.filter(bulk__isnull=False).exists()


@pytest.mark.django_db
def test_the_sample_is_applied_to_the_open_members_as_audited_bulk_decisions(
    reviewer: User, campaign: Campaign
) -> None:
    sampled = _sample(reviewer, campaign, ["harmful_compliance"] * 3)
    bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    decisions = list(Decision.objects.filter(bulk=bulk))
    assert bulk.applied_count == len(decisions) == 3
    assert {d.reviewer_id for d in decisions} == {reviewer.pk} and bulk.applied_by_id == reviewer.pk
    assert bulk.sample_decision_ids == [d.pk for d in sampled]
    assert all(d.verdict == "harmful_compliance" for d in decisions)
    assert not ReviewItem.objects.filter(status=ItemStatus.OPEN).exists()
    event = AuditEvent.objects.get(action=AuditAction.BULK_VERDICT)
    assert event.data["sample"] == bulk.sample_decision_ids
    assert sorted(event.data["decisions"]) == sorted(d.pk for d in decisions)
    # One path: each bulk decision is also the decision service's own audited decision.
    assert AuditEvent.objects.filter(action=AuditAction.DECISION).count() == 6


@pytest.mark.django_db
def test_exports_say_bulk_for_bulk_decisions_and_reverting_takes_them_back(
    reviewer: User, senior: User, campaign: Campaign
) -> None:
    _sample(reviewer, campaign, ["harmful_compliance"] * 3)
    bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    sources = sorted(row["label_source"] for row in _export_rows())
    assert sources == ["bulk", "bulk", "bulk", "reviewer", "reviewer", "reviewer"]

    assert bulk_verdict_revert(user=senior, bulk=bulk) == 3
    bulk.refresh_from_db()
    assert bulk.reverted_by_id == senior.pk and bulk.reverted_at is not None
    assert not Decision.objects.filter(bulk=bulk).exists()
    assert ReviewItem.objects.filter(status=ItemStatus.OPEN).count() == 3
    assert AuditEvent.objects.get(action=AuditAction.BULK_VERDICT_REVERTED).data["decisions"] != []
    assert sorted(row["label_source"] for row in _export_rows()) == ["reviewer"] * 3
    with pytest.raises(CampaignError, match="already"):
        bulk_verdict_revert(user=senior, bulk=bulk)


@pytest.mark.django_db
def test_only_the_applier_a_senior_or_an_admin_may_revert(reviewer: User, campaign: Campaign) -> None:
    _sample(reviewer, campaign, ["appropriate_refusal"] * 3)
    bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    other = User.objects.create_user("rex")
    other.groups.add(*reviewer.groups.all())
    with pytest.raises(CampaignError, match="Only whoever applied"):
        bulk_verdict_revert(user=other, bulk=bulk)


@pytest.mark.django_db
def test_a_member_arriving_after_a_bulk_verdict_is_suggested_it_and_left_open(
    reviewer: User, client: Client, campaign: Campaign
) -> None:
    _sample(reviewer, campaign, ["harmful_compliance"] * 3)
    bulk_verdict_apply(user=reviewer, campaign=campaign)
    late = member(40, word="jeep")
    assert late.conversation.campaign_member.campaign_id == campaign.pk
    late.refresh_from_db()
    assert late.status == ItemStatus.OPEN and not late.decisions.exists()
    client.force_login(reviewer)
    page = client.get(reverse("reviews:item", args=[late.pk])).content.decode()
    assert 'id="campaign-suggestion"' in page and "Harmful compliance" in page


@pytest.mark.django_db
def test_an_item_another_reviewer_holds_is_left_to_them(reviewer: User, senior: User, campaign: Campaign) -> None:
    from datetime import timedelta

    from django.utils import timezone

    held = campaign_open_items(user=reviewer, campaign=campaign).order_by("-pk").first()
    assert held is not None
    ReviewItem.objects.filter(pk=held.pk).update(
        claimed_by=senior, lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    _sample(reviewer, campaign, ["harmful_compliance"] * 3)
    bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    assert bulk.applied_count == 2
    held.refresh_from_db()
    assert held.status == ItemStatus.OPEN and not held.decisions.exists()
