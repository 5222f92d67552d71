"""What humans decide: review items, decisions and escalations."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from reviews import vocabulary
from reviews.models.ingest import Conversation
from reviews.models.routing import Queue


class ItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    ESCALATED = "escalated", "Escalated"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped below threshold"
    SUPERSEDED = "superseded", "Closed: another item of the conversation took over"


class ReviewItem(models.Model):
    """A conversation waiting in (or done with) one queue. A conversation has at most one open item: re-routing
    moves it, and an escalation or adjudication closes it before the seniors' item opens (`one_open_item_per_
    conversation`). Priority is kept from its parts by `reviews.routing.priority.item_reprioritize`."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="review_items")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="items")
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    priority = models.FloatField(default=0)
    risk = models.FloatField(default=0)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_items"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    reviews_required = models.PositiveSmallIntegerField(default=1)
    reviews_done = models.PositiveSmallIntegerField(default=0)
    routed_by = models.CharField(max_length=200, blank=True, help_text="The rule that routed it.")
    policy_version = models.ForeignKey("PolicyVersion", null=True, blank=True, on_delete=models.PROTECT)
    adjudicates = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="adjudications",
        help_text="For an adjudication item: the item whose reviewers disagreed.",
    )
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    closed_at = models.DateTimeField(null=True, blank=True)
    # The parts of `priority` that routing cannot re-derive (reviews/routing/priority.py sums them).
    priority_base = models.FloatField(
        null=True, blank=True, help_text="The routing policy's part (risk, severity, rule boost); empty: set by hand."
    )
    escalation_boost = models.BooleanField(
        default=False, db_default=False, help_text="Escalated here by a person or the SLA sweep."
    )
    adjudication_boost = models.BooleanField(default=False, db_default=False, help_text="Reviewers disagreed.")
    age_step_at = models.DateTimeField(null=True, blank=True, help_text="When the age term next grows (SLA sweep).")
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="superseded",
        help_text="The item of the same conversation that took over when this one was closed as superseded.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "queue"], name="one_item_per_queue"),
            # Promoting a model re-routed the backlog into twins: the same conversation open in two queues.
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(status="open"), name="one_open_item_per_conversation"
            ),
        ]
        indexes = [
            # Claim-next reads only open work, highest priority first.
            models.Index(
                "queue",
                models.F("priority").desc(),
                "created_at",
                condition=Q(status="open"),
                name="item_open_by_priority",
            ),
            # The queues page: oldest open item and the (capped) open count, then due-soon and breached counts.
            models.Index("queue", "created_at", condition=Q(status="open"), name="item_open_by_age"),
            models.Index("queue", "due_at", condition=Q(status="open"), name="item_open_by_due"),
            # Analytics rollups: arrivals and SLA breaches of the last hours (reviews/analytics/rollup.py).
            models.Index(fields=["created_at"], name="item_created"),
            # Search sorted by risk (reviews/workspace/search.py): walked highest first, as newest first walks
            # item_created, so a broad filter stops at its first page instead of sorting every item.
            models.Index(fields=["risk", "id"], name="item_risk"),
            models.Index(fields=["sla_breached_at"], condition=Q(sla_breached_at__isnull=False), name="item_breached"),
            # The SLA sweep's age step: open items whose age term is due to grow.
            models.Index(
                fields=["age_step_at"], condition=Q(status="open", age_step_at__isnull=False), name="item_age_step"
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} in {self.queue_id} ({self.status})"


class Verdict(models.TextChoices):
    HARMFUL_COMPLIANCE = "harmful_compliance", "Harmful compliance"
    APPROPRIATE_REFUSAL = "appropriate_refusal", "Appropriate refusal"
    OVER_REFUSAL = "over_refusal", "Over-refusal"
    APPROPRIATE_HELP = "appropriate_help", "Appropriate help"


FAILURE_VERDICTS = frozenset(Verdict(v) for v in vocabulary.FAILURE_VERDICTS)
HARMFUL_REQUEST_VERDICTS = frozenset(Verdict(v) for v in vocabulary.HARMFUL_REQUEST_VERDICTS)


class Decision(models.Model):
    """One reviewer's label of one review item."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions")
    # Blank only for imported labels of sets that hold no response to judge.
    verdict = models.CharField(max_length=32, choices=Verdict.choices, blank=True)
    harmful_request = models.BooleanField(
        null=True, blank=True, help_text="The request is harmful; from the verdict unless imported."
    )
    categories = models.JSONField(default=list, blank=True, help_text="Category slugs.")
    severity = models.PositiveSmallIntegerField(default=0)
    rationale = models.TextField(blank=True)
    preferred_response = models.TextField(blank=True)
    time_spent_seconds = models.PositiveIntegerField(default=0)
    is_final = models.BooleanField(default=False, help_text="A senior's adjudication or escalation resolution.")
    is_imported = models.BooleanField(default=False, help_text="Turned from an imported dataset's label.")
    targets = models.JSONField(
        null=True,
        blank=True,
        help_text="Imported labels of the verdict contract (request_harmful, complied, harmful_response, categories,"
        " pair); a key the set does not give is absent. Null for reviewers' decisions (derived from the verdict).",
    )
    bulk = models.ForeignKey(
        "BulkVerdict",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
        help_text="Applied with a campaign's bulk verdict (its `applied_by` is `reviewer`).",
    )
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="one_decision_per_reviewer"),
            models.CheckConstraint(condition=Q(severity__lte=4), name="decision_severity_0_4"),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} on item {self.item_id}"

    @property
    def editable_until(self) -> datetime:
        """When the queue's edit window closes on it (needs item.queue loaded)."""
        return self.created_at + timedelta(minutes=self.item.queue.edit_window_minutes)

    def is_editable(self, now: datetime | None = None) -> bool:
        """Its reviewer may still change it: within the queue's edit window (needs item.queue loaded); an
        imported label never is."""
        return not self.is_imported and self.editable_until > (now or timezone.now())


class EscalationStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Escalation(models.Model):
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="escalations")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="escalations_raised"
    )
    reason = models.TextField()
    suggested_verdict = models.CharField(
        max_length=32,
        choices=Verdict.choices,
        blank=True,
        default="",
        help_text="The verdict the reviewer had chosen before escalating: their suggestion to the seniors.",
    )
    status = models.CharField(max_length=16, choices=EscalationStatus.choices, default=EscalationStatus.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="escalations_resolved"
    )
    resolution = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(db_default=Now())
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], condition=Q(status="open"), name="escalation_open")]

    def __str__(self) -> str:
        return f"escalation {self.pk} ({self.status})"
