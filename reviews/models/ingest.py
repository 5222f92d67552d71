"""Where conversations come from: sources (and their tokens), conversations and detectors' flags."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class SourceKind(models.TextChoices):
    INPUT_GUARDRAIL = "input_guardrail", "Input guardrail"
    OUTPUT_CLASSIFIER = "output_classifier", "Output safety classifier"
    COT_MONITOR = "cot_monitor", "Chain-of-thought monitor"
    USER_REPORT = "user_report", "User report"
    RED_TEAM = "red_team", "Red team"
    SAMPLER = "sampler", "Sampler (unflagged traffic)"
    IMPORT = "import", "Imported dataset"
    # Not a detector: a client whose token may only export datasets (POST /api/v1/datasets), never ingest.
    ML_EXPORT = "ml_export", "ML export client (dataset token)"


class Source(models.Model):
    """A detector that sends flags. Only a SHA-256 of its token is stored."""

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=SourceKind.choices)
    description = models.TextField(blank=True)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    token_prefix = models.CharField(max_length=12, blank=True, editable=False)
    created_at = models.DateTimeField(db_default=Now())
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.token_hash is not None

    @property
    def can_export(self) -> bool:
        """Export tokens export datasets and do nothing else; every other token only ingests and reads."""
        return self.kind == SourceKind.ML_EXPORT


class ScoringStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a score"
    SCORED = "scored", "Scored"
    PARKED = "parked", "Parked after repeated failures"


class Conversation(models.Model):
    """Messages as the monitored model saw and produced them. Content is untrusted text."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="conversations")
    external_id = models.CharField(max_length=255)
    model_name = models.CharField(max_length=200, blank=True)
    messages = models.JSONField()
    metadata = models.JSONField(default=dict, blank=True)
    # Characters across messages: scoring sorts batches by it to limit padding.
    content_length = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(db_default=Now(), db_index=True)
    scoring_status = models.CharField(max_length=16, choices=ScoringStatus.choices, default=ScoringStatus.PENDING)
    scoring_attempts = models.PositiveSmallIntegerField(default=0)
    scoring_error = models.TextField(blank=True)
    # Last re-enqueue by the sweeper; until then received_at stands for the first enqueue.
    scoring_enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="conversation_unique_per_source"),
        ]
        indexes = [
            # The sweeper looks only at what is still waiting.
            models.Index(fields=["received_at"], condition=Q(scoring_status="pending"), name="conversation_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.external_id}"


class Flag(models.Model):
    """What one detector said about a conversation."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="flags")
    detector = models.CharField(max_length=200)
    category = models.CharField(max_length=100, help_text="Category slug as the detector sent it.")
    score = models.FloatField()
    explanation = models.TextField(blank=True)
    message_index = models.PositiveIntegerField(null=True, blank=True, help_text="The turn the flag concerns.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="flag_score_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.detector}:{self.category}={self.score:.2f}"
