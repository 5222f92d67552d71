"""Where conversations go: the taxonomy, the queues, routing policies and each routing decision."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from reviews.models.ingest import Conversation


class LimitKind(models.TextChoices):
    HARD = "hard", "Hard limit"
    SOFT = "soft", "Soft limit"


class Category(models.Model):
    """The taxonomy. Categories are never deleted: merging points one at another."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    limit = models.CharField(max_length=8, choices=LimitKind.choices, default=LimitKind.SOFT)
    blur_by_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


PERCENT = [MinValueValidator(0), MaxValueValidator(100)]
IMPORT_QUEUE = "imported"  # slug of the hidden queue that holds imported labels (reviews/imports/services.py)


class QueueKind(models.TextChoices):
    TRIAGE = "triage", "Triage"
    CALIBRATION = "calibration", "Calibration sample"
    ESCALATION = "escalation", "Escalation (seniors)"
    ADJUDICATION = "adjudication", "Adjudication (seniors)"
    QA = "qa", "QA second review (seniors)"


class Queue(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    instructions = models.TextField(
        blank=True, help_text="Guidelines for this queue's reviewers, shown as plain text beside the decision form."
    )
    kind = models.CharField(max_length=16, choices=QueueKind.choices, default=QueueKind.TRIAGE)
    allowed_groups = models.ManyToManyField(Group, blank=True, help_text="Who may work this queue.")
    reviews_required = models.PositiveSmallIntegerField(default=1)
    blind = models.BooleanField(default=True, help_text="Hide earlier decisions from reviewers.")
    lease_seconds = models.PositiveIntegerField(default=600)
    # SLA minutes per priority band, e.g. {"high": 60, "normal": 240, "low": 1440}.
    sla_minutes = models.JSONField(default=dict, blank=True)
    require_preferred_response = models.BooleanField(default=False)
    edit_window_minutes = models.PositiveIntegerField(default=60)
    hard_limit_daily_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Hard-limit items a reviewer may decide per day before this queue gives them only other items.",
    )
    is_active = models.BooleanField(default=True)
    # Reviewer quality (reviews/quality/): gold items mixed into claims, QA second reviews of settled decisions.
    gold_percent = models.FloatField(
        default=0, validators=PERCENT, help_text="Share of claims (0-100) that present a gold item."
    )
    gold_feedback = models.BooleanField(
        default=False, help_text="After a gold item, show the reviewer the expected answer and the note."
    )
    qa_percent = models.FloatField(
        default=0,
        validators=PERCENT,
        help_text="Share (0-100) of each reviewer's settled decisions a senior reviews again, blind.",
    )

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    """An immutable routing policy. Exactly one is active; every ReviewItem records the one that routed it."""

    number = models.PositiveIntegerField(unique=True)
    # The help text is frozen in migration 0005; the schema now lives in reviews/routing/policy.py.
    document = models.JSONField(help_text="See reviews/policy.py for the schema.")
    is_active = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    diff = models.TextField(blank=True, help_text="Unified diff against the version active before it.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_policy"),
        ]

    def __str__(self) -> str:
        return f"policy v{self.number}"


class PolicyDraft(models.Model):
    """The one policy being edited; activating it creates a PolicyVersion."""

    document = models.JSONField()
    based_on = models.ForeignKey(PolicyVersion, null=True, blank=True, on_delete=models.SET_NULL)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"draft based on v{self.based_on.number if self.based_on else '-'}"


class RoutingOutcome(models.TextChoices):
    QUEUED = "queued", "Queued"
    ESCALATED = "escalated", "Escalated automatically"
    SAMPLED = "sampled", "Sampled for calibration"
    DROPPED = "dropped", "Dropped below threshold"


class RoutingRecord(models.Model):
    """What a policy version decided for a conversation, dropped ones included."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="routing_records")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT)
    rule = models.CharField(max_length=100)
    outcome = models.CharField(max_length=16, choices=RoutingOutcome.choices)
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "policy_version"], name="one_routing_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.outcome} by {self.rule}"
