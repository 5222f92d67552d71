"""Campaigns: conversations whose requests are near-duplicates (reviews/ingest/minhash.py), and verdicts
applied to a campaign's open members in bulk."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from reviews.models.ingest import Conversation
from reviews.models.workspace import Verdict

BAND_FIELDS = tuple(f"band{i}" for i in range(12))


class Campaign(models.Model):
    """A cluster of near-duplicate requests, started when a second request matched its seed."""

    seed = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="seeded_campaign")
    # Every member in every queue: orders the campaigns page. What a person is shown is counted under visibility.
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_default=Now())
    last_member_at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [models.Index(models.F("size").desc(), "id", name="campaign_by_size")]

    def __str__(self) -> str:
        return f"campaign {self.pk} ({self.size})"


class CampaignMember(models.Model):
    """A fingerprinted conversation. Seeds (requests that matched no earlier seed) keep their signature, shingle
    hashes and band buckets, and are what later requests are compared with; members that joined a campaign keep
    only the link."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, primary_key=True, related_name="campaign_member"
    )
    # No index of its own: campaign_member_joined (campaign, joined_at) serves every lookup by campaign, and one
    # index less is one write less per filed conversation.
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="members", db_index=False
    )
    joined_at = models.DateTimeField(db_default=Now())
    signature = models.BinaryField(null=True, blank=True)
    grams = models.BinaryField(null=True, blank=True)
    band0 = models.BigIntegerField(null=True, blank=True)
    band1 = models.BigIntegerField(null=True, blank=True)
    band2 = models.BigIntegerField(null=True, blank=True)
    band3 = models.BigIntegerField(null=True, blank=True)
    band4 = models.BigIntegerField(null=True, blank=True)
    band5 = models.BigIntegerField(null=True, blank=True)
    band6 = models.BigIntegerField(null=True, blank=True)
    band7 = models.BigIntegerField(null=True, blank=True)
    band8 = models.BigIntegerField(null=True, blank=True)
    band9 = models.BigIntegerField(null=True, blank=True)
    band10 = models.BigIntegerField(null=True, blank=True)
    band11 = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index("campaign", "joined_at", name="campaign_member_joined"),
            # Only seeds carry buckets: partial indexes stay as small as the set of distinct requests.
            *(
                models.Index(fields=[b], condition=Q((f"{b}__isnull", False)), name=f"campaign_{b}")
                for b in BAND_FIELDS
            ),
        ]

    def __str__(self) -> str:
        return f"member {self.conversation_id} of {self.campaign_id}"


class BulkStatus(models.TextChoices):
    APPLYING = "applying", "Applying"  # a task decides `item_ids` in batches; `progress` of them so far
    APPLIED = "applied", "Applied"


class BulkVerdict(models.Model):
    """A sampled decision applied to a campaign's other open members: one Decision per member, linked here."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="bulk_verdicts")
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=32, choices=Verdict.choices)
    categories = models.JSONField(default=list, blank=True)
    severity = models.PositiveSmallIntegerField(default=0)
    sample_decision_ids = models.JSONField(default=list, help_text="The sampled decisions it was applied from.")
    applied_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=BulkStatus.choices, default=BulkStatus.APPLIED)
    item_ids = models.JSONField(default=list, blank=True, help_text="The open members it was applied to.")
    progress = models.PositiveIntegerField(default=0, help_text="How many of `item_ids` were gone through.")
    capped_count = models.PositiveIntegerField(
        default=0, help_text="Hard-limit members left open: past the queue's daily cap for whoever applied it."
    )
    created_at = models.DateTimeField(db_default=Now())
    reverted_at = models.DateTimeField(null=True, blank=True)
    reverted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index("campaign", "created_at", condition=Q(reverted_at=None), name="bulk_verdict_active")]

    def __str__(self) -> str:
        return f"bulk {self.verdict} on campaign {self.campaign_id}"
