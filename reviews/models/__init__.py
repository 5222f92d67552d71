"""The review domain, one module per feature area; import models from here (`from reviews.models import X`).

- ingest: Source, Conversation, Flag
- routing: Category (the taxonomy), Queue, PolicyVersion, PolicyDraft, RoutingRecord
- scoring: ScoringModel, Score, Embedding
- workspace: ReviewItem, Decision, Escalation
- datasets: Dataset, DatasetLineage
- audit: AuditEvent
- discussion: Comment, Mention, ItemTag, SavedFilter, ClaimRecord
- analytics: the rollup tables the dashboards read

App label, table names and migrations are unchanged: every model still belongs to the `reviews` app.
"""

from reviews.models.analytics import (
    ALL_CATEGORIES,
    AgreementRollup,
    AnalyticsRollupState,
    CalibrationRollup,
    DecisionRollup,
    FlagRollup,
    ItemRollup,
    LatencyRollup,
    ReviewerRollup,
    Rollup,
    RollupGrain,
    ScoreRollup,
)
from reviews.models.audit import (
    AuditAction,
    AuditEvent,
)
from reviews.models.campaigns import BAND_FIELDS, BulkStatus, BulkVerdict, Campaign, CampaignMember
from reviews.models.datasets import (
    Dataset,
    DatasetFormat,
    DatasetKind,
    DatasetLineage,
    DatasetStatus,
)
from reviews.models.discussion import (
    COMMENT_EDIT_MINUTES,
    ClaimRecord,
    Comment,
    ItemTag,
    Mention,
    SavedFilter,
)
from reviews.models.ingest import (
    Conversation,
    Flag,
    ScoringStatus,
    Source,
    SourceKind,
)
from reviews.models.quality import GOLD_SLOT_DAYS, GoldItem, GoldPresentation, QaSample, gold_copy
from reviews.models.routing import (
    IMPORT_QUEUE,
    Category,
    LimitKind,
    PolicyDraft,
    PolicyVersion,
    Queue,
    QueueKind,
    RoutingOutcome,
    RoutingRecord,
)
from reviews.models.scoring import (
    FALLBACK_PRODUCER,
    Embedding,
    Judged,
    ModelStatus,
    Score,
    ScoringModel,
    model_producer,
)
from reviews.models.workspace import (
    FAILURE_VERDICTS,
    HARMFUL_REQUEST_VERDICTS,
    Decision,
    Escalation,
    EscalationStatus,
    ItemStatus,
    ReviewItem,
    Verdict,
)

__all__ = [
    "ALL_CATEGORIES",
    "BAND_FIELDS",
    "COMMENT_EDIT_MINUTES",
    "FAILURE_VERDICTS",
    "FALLBACK_PRODUCER",
    "GOLD_SLOT_DAYS",
    "HARMFUL_REQUEST_VERDICTS",
    "IMPORT_QUEUE",
    "AgreementRollup",
    "AnalyticsRollupState",
    "AuditAction",
    "AuditEvent",
    "BulkStatus",
    "BulkVerdict",
    "CalibrationRollup",
    "Campaign",
    "CampaignMember",
    "Category",
    "ClaimRecord",
    "Comment",
    "Conversation",
    "Dataset",
    "DatasetFormat",
    "DatasetKind",
    "DatasetLineage",
    "DatasetStatus",
    "Decision",
    "DecisionRollup",
    "Embedding",
    "Escalation",
    "EscalationStatus",
    "Flag",
    "FlagRollup",
    "GoldItem",
    "GoldPresentation",
    "ItemRollup",
    "ItemStatus",
    "ItemTag",
    "Judged",
    "LatencyRollup",
    "LimitKind",
    "Mention",
    "ModelStatus",
    "PolicyDraft",
    "PolicyVersion",
    "QaSample",
    "Queue",
    "QueueKind",
    "ReviewItem",
    "ReviewerRollup",
    "Rollup",
    "RollupGrain",
    "RoutingOutcome",
    "RoutingRecord",
    "SavedFilter",
    "Score",
    "ScoreRollup",
    "ScoringModel",
    "ScoringStatus",
    "Source",
    "SourceKind",
    "Verdict",
    "gold_copy",
    "model_producer",
]
