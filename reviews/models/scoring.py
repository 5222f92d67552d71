"""What our model says: scoring models (versions of the rescoring head), scores and cached embeddings."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from reviews.models.ingest import Conversation


class ModelStatus(models.TextChoices):
    TRAINING = "training", "Training"
    READY = "ready", "Ready to promote"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    FAILED = "failed", "Failed"


class ScoringModel(models.Model):
    """A versioned classification head over a frozen encoder."""

    version = models.PositiveIntegerField(unique=True)
    encoder = models.CharField(max_length=200)
    labels = models.JSONField(default=list, help_text="Output order: category slugs, then 'harmful'.")
    model_args = models.JSONField(default=dict)
    checkpoint = models.BinaryField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.TRAINING)
    metrics = models.JSONField(default=dict, blank=True)
    training_dataset = models.ForeignKey("Dataset", null=True, blank=True, on_delete=models.SET_NULL)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(db_default=Now())
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_scoring_model"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.status})"


FALLBACK_PRODUCER = "fallback"


def model_producer(version: int) -> str:
    """The Score.producer of a model version's scores."""
    return f"model-v{version}"


class Judged(models.TextChoices):
    """What a score judged: the reply to the last request, or (no reply yet) the request itself."""

    RESPONSE = "response", "The response"
    REQUEST = "request", "The request (no response)"


class Score(models.Model):
    """What one producer (a model version or the detectors' fallback) says of one conversation.

    `risk` is P(harmful compliance): what queues order by. A request with no response has no
    verdict grid, and its risk is P(the request is harmful). `verdicts` holds the four verdict
    probabilities (summing to 1); null for the fallback, for request-only conversations, and for
    heads trained before the verdict grid.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="scores")
    scoring_model = models.ForeignKey(ScoringModel, null=True, blank=True, on_delete=models.PROTECT)
    # "fallback" (detectors' own scores) or "model-v<version>": the uniqueness key for idempotent scoring.
    producer = models.CharField(max_length=50)
    categories = models.JSONField(default=dict)
    risk = models.FloatField()
    verdicts = models.JSONField(
        null=True,
        blank=True,
        help_text="P(verdict) for harmful_compliance, appropriate_refusal, over_refusal, appropriate_help; "
        "null without a verdict grid (fallback, request-only, older heads).",
    )
    judged = models.CharField(max_length=8, choices=Judged.choices, default=Judged.RESPONSE)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "producer"], name="one_score_per_producer"),
            models.CheckConstraint(condition=Q(risk__gte=0) & Q(risk__lte=1), name="score_risk_0_1"),
            models.CheckConstraint(condition=Q(judged__in=Judged.values), name="score_judged_known"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}@{self.producer}={self.risk:.2f}"

    @property
    def is_fallback(self) -> bool:
        return self.producer == FALLBACK_PRODUCER


class Embedding(models.Model):
    """The frozen encoder's vector of a conversation, so retraining a head never re-encodes."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="embeddings")
    encoder = models.CharField(max_length=100)
    vector = models.BinaryField(help_text="float32, little-endian.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "encoder"], name="one_embedding_per_encoder"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}@{self.encoder}"
