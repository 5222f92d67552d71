"""The review domain: what detectors flag, what our model scores, and what humans decide."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from reviews import vocabulary


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


class QueueKind(models.TextChoices):
    TRIAGE = "triage", "Triage"
    CALIBRATION = "calibration", "Calibration sample"
    ESCALATION = "escalation", "Escalation (seniors)"
    ADJUDICATION = "adjudication", "Adjudication (seniors)"


class Queue(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
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

    def __str__(self) -> str:
        return self.name


class ItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    ESCALATED = "escalated", "Escalated"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped below threshold"


class ReviewItem(models.Model):
    """A conversation waiting in (or done with) one queue."""

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
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "queue"], name="one_item_per_queue"),
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
            # Analytics rollups: arrivals and SLA breaches of the last hours (reviews/services/analytics/rollup.py).
            models.Index(fields=["created_at"], name="item_created"),
            models.Index(fields=["sla_breached_at"], condition=Q(sla_breached_at__isnull=False), name="item_breached"),
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
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="one_decision_per_reviewer"),
            models.CheckConstraint(condition=Q(severity__lte=4), name="decision_severity_0_4"),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} on item {self.item_id}"


class EscalationStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Escalation(models.Model):
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="escalations")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="escalations_raised"
    )
    reason = models.TextField()
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


class DatasetKind(models.TextChoices):
    PREFERENCE = "preference", "Preference pairs"
    SFT = "sft", "Supervised fine-tuning"
    CLASSIFIER = "classifier", "Classifier labels"
    EVAL = "eval", "Evaluation set"


class DatasetFormat(models.TextChoices):
    JSONL = "jsonl", "JSONL"
    JSONL_GZ = "jsonl.gz", "JSONL (gzip)"
    PARQUET = "parquet", "Parquet"


class DatasetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Dataset(models.Model):
    """An immutable snapshot of decisions turned into training data."""

    kind = models.CharField(max_length=16, choices=DatasetKind.choices)
    format = models.CharField(max_length=16, choices=DatasetFormat.choices, default=DatasetFormat.JSONL)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.PENDING)
    row_count = models.PositiveIntegerField(default=0)
    split_counts = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=dict, blank=True, help_text="Split name → {path, sha256, rows}.")
    card = models.TextField(blank=True)
    taxonomy_version = models.CharField(max_length=64, blank=True)
    policy_version = models.CharField(max_length=64, blank=True)
    is_stale = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(db_default=Now())
    # Build options and lineage (see reviews/services/datasets/).
    seed = models.PositiveIntegerField(default=0, help_text="Split seed: a conversation's split is a hash of it.")
    split_ratios = models.JSONField(default=dict, blank=True, help_text="Split name → share, e.g. train 0.8.")
    license = models.CharField(max_length=100, blank=True)
    label_distribution = models.JSONField(default=dict, blank=True)
    skipped = models.JSONField(default=dict, blank=True, help_text="Reason → conversations left out.")
    stale_changes = models.JSONField(default=list, blank=True, help_text="What changed since the build.")
    # Work state of the build task.
    progress = models.PositiveIntegerField(default=0, help_text="Conversations read so far.")
    total = models.PositiveIntegerField(default=0, help_text="Conversations to read (estimated at start).")
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} dataset {self.pk}"

    @property
    def percent(self) -> int:
        return 100 if self.status == DatasetStatus.READY else min(99, 100 * self.progress // max(1, self.total))


class DatasetLineage(models.Model):
    """The decisions a snapshot used, for one chunk of conversations: ids packed, not one row per decision.

    A row per decision cost the build more than writing the files (index and foreign-key work per row, and
    a row lock on every decision referenced); a snapshot of 1M decisions now adds ~200 rows of 40 KB.
    Conversation ranges of a snapshot's chunks do not overlap, so "which snapshots used this conversation's
    decisions" reads the few rows whose range holds it. See reviews/services/datasets/lineage.py.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="lineage")
    first_conversation_id = models.BigIntegerField()
    last_conversation_id = models.BigIntegerField()
    decision_ids = models.BinaryField(help_text="Ascending int64, little-endian.")

    class Meta:
        indexes = [models.Index(fields=["last_conversation_id", "first_conversation_id"], name="lineage_range")]

    def __str__(self) -> str:
        return f"dataset {self.dataset_id} conversations {self.first_conversation_id}..{self.last_conversation_id}"


class AuditAction(models.TextChoices):
    DECISION = "decision", "Decision"
    DECISION_EDIT = "decision_edit", "Decision edited"
    ESCALATION = "escalation", "Escalation"
    ESCALATION_RESOLVED = "escalation_resolved", "Escalation resolved"
    REVEAL = "reveal", "Blurred content revealed"
    SKIP = "skip", "Item skipped"
    POLICY_CHANGE = "policy_change", "Policy change"
    TOKEN_ISSUED = "token_issued", "Token issued"
    TOKEN_REVOKED = "token_revoked", "Token revoked"
    EXPORT = "export", "Dataset export"
    DOWNLOAD = "download", "Dataset download"
    MODEL_PROMOTED = "model_promoted", "Scoring model promoted"
    MODEL_TRAINING_REQUESTED = "model_training_requested", "Scoring model training requested"


class AuditEvent(models.Model):
    """Append-only record of everything that matters; written only by reviews.services.audit.

    Each event carries the SHA-256 of its predecessor and of itself, so a changed, removed or
    reordered event breaks the chain (`manage.py verify_audit`). On PostgreSQL a trigger refuses
    UPDATE, DELETE and TRUNCATE of the table outright (migration 0012).
    """

    # PROTECT, not SET_NULL: nulling the actor would rewrite history (and the trigger refuses it).
    # Someone who acted stays a user: deactivate the account instead of deleting it.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(max_length=50)
    target_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    prev_hash = models.CharField(max_length=64, editable=False, help_text="The previous event's hash.")
    hash = models.CharField(max_length=64, editable=False, help_text="SHA-256 of this event and prev_hash.")

    class Meta:
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]
        constraints = [
            # Two events can never chain onto the same predecessor: the chain stays one line.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_chain_is_linear"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


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


class PolicyVersion(models.Model):
    """An immutable routing policy. Exactly one is active; every ReviewItem records the one that routed it."""

    number = models.PositiveIntegerField(unique=True)
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


# --- Analytics rollups ----------------------------------------------------------------------------------------
# Derived counts the dashboards read instead of scanning decisions (reviews/services/analytics/). Each row is one
# hour or one UTC day of one combination of dimensions; reviews.analytics_rollup recomputes whole buckets, so the
# rows can always be rebuilt from the tables above (`manage.py analytics_rollup --full`).

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
    those it flagged, in the band of its highest score. Categories as in DecisionRollup ("*" for all)."""

    DIMENSIONS = ("source_id", "model_name", "category", "detector", "band")
    MEASURES = ("conversations", "harmful")

    source = models.ForeignKey(
        Source, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100, blank=True)
    detector = models.CharField(max_length=200, blank=True)
    band = models.PositiveSmallIntegerField()
    conversations = models.PositiveIntegerField(default=0)
    harmful = models.PositiveIntegerField(default=0)

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
