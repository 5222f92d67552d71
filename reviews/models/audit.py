"""The audit trail: one hash-chained event per consequential action."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class AuditAction(models.TextChoices):
    DECISION = "decision", "Decision"
    DECISION_EDIT = "decision_edit", "Decision edited"
    DECISION_UNDO = "decision_undo", "Decision undone"
    ESCALATION = "escalation", "Escalation"
    ESCALATION_RESOLVED = "escalation_resolved", "Escalation resolved"
    REVEAL = "reveal", "Blurred content revealed"
    SKIP = "skip", "Item skipped"
    CLAIM_RETURN = "claim_return", "Claimed item returned to its queue"
    POLICY_CHANGE = "policy_change", "Policy change"
    TOKEN_ISSUED = "token_issued", "Token issued"
    TOKEN_REVOKED = "token_revoked", "Token revoked"
    EXPORT = "export", "Dataset export"
    DOWNLOAD = "download", "Dataset download"
    MODEL_PROMOTED = "model_promoted", "Scoring model promoted"
    MODEL_TRAINING_REQUESTED = "model_training_requested", "Scoring model training requested"
    BULK_VERDICT = "bulk_verdict", "Verdict applied to a campaign"
    BULK_VERDICT_REVERTED = "bulk_verdict_reverted", "Campaign verdict reverted"
    COMMENT = "comment", "Comment"
    COMMENT_EDIT = "comment_edit", "Comment edited"
    TAG_ADD = "tag_add", "Tag added"
    TAG_REMOVE = "tag_remove", "Tag removed"
    FILTER_SAVE = "filter_save", "Search filter saved"
    FILTER_DELETE = "filter_delete", "Search filter deleted"
    MENTIONS_READ = "mentions_read", "Mentions marked read"
    GOLD_MARKED = "gold_marked", "Item marked as gold"
    GOLD_RETIRED = "gold_retired", "Gold item retired"
    QA_SAMPLED = "qa_sampled", "Decision sampled for QA"


class AuditEvent(models.Model):
    """Append-only record of everything that matters; written only by reviews.audit.

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
