"""Analytics rollups: derived counts the dashboards read instead of scanning decisions (reviews/analytics/).

Each row is one hour or one UTC day of one combination of dimensions; reviews.analytics_rollup recomputes whole
buckets, so the rows can always be rebuilt from the other tables (`manage.py analytics_rollup --full`).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from reviews.models.ingest import Source
from reviews.models.routing import Queue

ALL_CATEGORIES = "*"  # rollup rows that count each decision once, whatever categories it has


class RollupGrain(models.TextChoices):
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


class Rollup(models.Model):
    DIMENSIONS: ClassVar[tuple[str, ...]] = ()
    MEASURES: ClassVar[tuple[str, ...]] = ()

    grain = models.CharField(max_length=4, choices=RollupGrain.choices)
    bucket = models.DateTimeField(help_text="Start of the hour, or of the UTC day.")

    objects = models.Manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.grain} {self.bucket:%Y-%m-%d %H:00}"

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return ("grain", "bucket", *cls.DIMENSIONS, *cls.MEASURES)


class DecisionRollup(Rollup):
    """Reviewers' decisions (imported labels left out) per queue, source, model, category and verdict.

    A decision counts under each of its categories (the detectors' flagged ones when the reviewer gave none,
    "" when neither did) and once under "*", the row to read when no category is asked for.
    """

    DIMENSIONS = ("queue_id", "source_id", "model_name", "category", "verdict")
    MEASURES = ("decisions", "effective", "final", "first", "to_senior")

    queue = models.ForeignKey(Queue, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    source = models.ForeignKey(
        Source, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100, blank=True)
    verdict = models.CharField(max_length=32)
    decisions = models.PositiveIntegerField(default=0)
    effective = models.PositiveIntegerField(
        default=0, help_text="Decisions that stand for their conversation: its latest final one, else its first."
    )
    final = models.PositiveIntegerField(default=0)
    first = models.PositiveIntegerField(default=0, help_text="The first (non-final) decision on a conversation.")
    to_senior = models.PositiveIntegerField(
        default=0, help_text="First decisions whose conversation reached a senior (final decision or escalation)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "category", "bucket", "queue", "source", "model_name", "verdict"],
                name="decision_rollup_key",
            )
        ]


class LatencyRollup(Rollup):
    """Decisions per band of time from the item entering its queue to the decision (ANALYTICS latency bands)."""

    DIMENSIONS = ("queue_id", "source_id", "model_name", "band")
    MEASURES = ("decisions",)

    queue = models.ForeignKey(Queue, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    source = models.ForeignKey(
        Source, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    band = models.PositiveSmallIntegerField()
    decisions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "bucket", "queue", "source", "model_name", "band"], name="latency_rollup_key"
            )
        ]


class ReviewerRollup(Rollup):
    """Each reviewer's decisions per queue, and how many a senior ruled on or overturned."""

    DIMENSIONS = ("reviewer_id", "queue_id")
    MEASURES = ("decisions", "final", "ruled", "overturned", "time_spent_seconds")

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    queue = models.ForeignKey(Queue, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    decisions = models.PositiveIntegerField(default=0)
    final = models.PositiveIntegerField(default=0)
    ruled = models.PositiveIntegerField(default=0, help_text="Non-final decisions whose conversation got a final one.")
    overturned = models.PositiveIntegerField(default=0, help_text="Ruled decisions whose verdict the final changed.")
    time_spent_seconds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grain", "bucket", "reviewer", "queue"], name="reviewer_rollup_key")
        ]


class ItemRollup(Rollup):
    """Review items entering each queue (by created_at) and breaching their SLA (by sla_breached_at)."""

    DIMENSIONS = ("queue_id", "source_id", "model_name")
    MEASURES = ("arrivals", "breaches")

    queue = models.ForeignKey(Queue, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    source = models.ForeignKey(
        Source, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    arrivals = models.PositiveIntegerField(default=0)
    breaches = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grain", "bucket", "queue", "source", "model_name"], name="item_rollup_key")
        ]


class FlagRollup(Rollup):
    """Flags on reviewed conversations (bucketed by the deciding decision) per detector and score band."""

    DIMENSIONS = ("source_id", "detector", "model_name", "category", "band")
    MEASURES = ("flags", "confirmed")

    source = models.ForeignKey(
        Source, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    detector = models.CharField(max_length=200)
    model_name = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100)
    band = models.PositiveSmallIntegerField(help_text="Score band 0..9: the thresholds 0.1..0.9 the score reaches.")
    flags = models.PositiveIntegerField(default=0)
    confirmed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "bucket", "source", "detector", "model_name", "category", "band"],
                name="flag_rollup_key",
            )
        ]


class CalibrationRollup(Rollup):
    """Reviewed conversations of the calibration sample; detector "" counts them all, a detector's rows count
    those it flagged, in the band of its highest score. Categories as in DecisionRollup ("*" for all).
    `harmful_weight` sums the harmful ones' inverse sampling rates (a conversation sampled at 2 % stands for 50),
    `harmful_weight_sq` their squares (for the weighted estimate's effective sample size)."""

    DIMENSIONS = ("source_id", "model_name", "category", "detector", "band")
    MEASURES = ("conversations", "harmful", "harmful_weight", "harmful_weight_sq")

    source = models.ForeignKey(
        Source, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100, blank=True)
    detector = models.CharField(max_length=200, blank=True)
    band = models.PositiveSmallIntegerField()
    conversations = models.PositiveIntegerField(default=0)
    harmful = models.PositiveIntegerField(default=0)
    harmful_weight = models.FloatField(default=0)
    harmful_weight_sq = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "category", "bucket", "source", "model_name", "detector", "band"],
                name="calibration_rollup_key",
            )
        ]


class ScoreRollup(Rollup):
    """Risk of reviewed conversations per producer (model version or fallback) and risk band, with the outcome.

    `harmful`: reviewers found the request harmful. `positives`: reviewers found what the risk predicts: harmful
    compliance where the score has a verdict grid, else a harmful request (the fallback, older heads, requests
    with no reply). `graded`: scores with a verdict grid; of those, `verdict_hits` where the most probable
    verdict is the reviewers', and `verdict_prob_sum` the probability the model gave the reviewers' verdict.
    """

    DIMENSIONS = ("producer", "source_id", "model_name", "band")
    MEASURES = ("conversations", "harmful", "risk_sum", "positives", "graded", "verdict_hits", "verdict_prob_sum")

    producer = models.CharField(max_length=50)
    source = models.ForeignKey(
        Source, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    band = models.PositiveSmallIntegerField()
    conversations = models.PositiveIntegerField(default=0)
    harmful = models.PositiveIntegerField(default=0)
    risk_sum = models.FloatField(default=0)
    positives = models.PositiveIntegerField(default=0)
    graded = models.PositiveIntegerField(default=0)
    verdict_hits = models.PositiveIntegerField(default=0)
    verdict_prob_sum = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "bucket", "producer", "source", "model_name", "band"], name="score_rollup_key"
            )
        ]


class AgreementRollup(Rollup):
    """Verdict pairs of two reviewers on one multi-review item, bucketed by the item's last decision.

    `weight` sums 1/(m-1) per pair (m: decisions on the item), so a Krippendorff coincidence matrix is a sum of
    rows; `units` sums 1/(m choose 2), so it adds up to the number of items. reviewer_a has the lower id.
    """

    DIMENSIONS = ("queue_id", "category", "reviewer_a_id", "reviewer_b_id", "verdict_a", "verdict_b")
    MEASURES = ("pairs", "units", "weight")

    queue = models.ForeignKey(Queue, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    category = models.CharField(max_length=100, blank=True)
    reviewer_a = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    reviewer_b = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    verdict_a = models.CharField(max_length=32)
    verdict_b = models.CharField(max_length=32)
    pairs = models.PositiveIntegerField(default=0)
    units = models.FloatField(default=0)
    weight = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "category", "bucket", "queue", "reviewer_a", "reviewer_b", "verdict_a", "verdict_b"],
                name="agreement_rollup_key",
            )
        ]


class AnalyticsRollupState(models.Model):
    """When the rollups last ran: the next run recomputes from a little before then (see rollup.py)."""

    name = models.CharField(max_length=50, unique=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    hours = models.PositiveIntegerField(default=0, help_text="Hours recomputed by the last run.")

    def __str__(self) -> str:
        return f"analytics rollup {self.name} at {self.finished_at}"
