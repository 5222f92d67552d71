"""Reviewer quality: gold items mixed into reviewers' streams, and QA samples of settled decisions.

A gold presentation is a fresh `Conversation` (a copy of the gold item's, its flags and scores) with one fresh
`ReviewItem`, both taking their ids from the same sequences as real work, so nothing of it (ids, the
conversation's other items, earlier decisions) points at the original. The copy is recorded here and every
place that turns decisions into data (exports, training, analytics rollups, queue counts) leaves it out.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now

from reviews.models.ingest import Conversation
from reviews.models.routing import Queue
from reviews.models.workspace import Decision, ReviewItem, Verdict


class GoldItem(models.Model):
    """A settled item a senior marked as gold: its verdict, categories and severity are the expected answer."""

    item = models.OneToOneField(ReviewItem, on_delete=models.CASCADE, related_name="gold")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="gold_items")
    verdict = models.CharField(max_length=32)
    categories = models.JSONField(default=list, blank=True)
    severity = models.PositiveSmallIntegerField(default=0)
    note = models.TextField(blank=True, help_text="Why this is the answer (shown as feedback where the queue says so).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gold_made")
    created_at = models.DateTimeField(db_default=Now())
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"gold {self.pk} ({self.verdict})"

    @property
    def verdict_label(self) -> str:
        return str(dict(Verdict.choices).get(self.verdict, self.verdict))


GOLD_SLOT_DAYS = 7  # how long at most an answered gold copy stands in for its slot in the queue's open count


class GoldPresentation(models.Model):
    """One showing of a gold item to one reviewer: the copied conversation and its one item."""

    gold = models.ForeignKey(GoldItem, on_delete=models.CASCADE, related_name="presentations")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gold_seen")
    item = models.OneToOneField(ReviewItem, on_delete=models.CASCADE, related_name="gold_presentation")
    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="gold_presentation")
    # A free real item of the queue when it was shown: once the copy is answered, the queue's open count leaves
    # the slot out until it closes, so a gold answer lowers the count as a real one does (reviews/queue_stats.py).
    slot = models.ForeignKey(ReviewItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="gold_slots")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gold", "reviewer"], name="gold_once_per_reviewer")]
        indexes = [models.Index(fields=["created_at"], condition=Q(slot__isnull=False), name="gold_slot_recent")]

    def __str__(self) -> str:
        return f"gold {self.gold_id} to {self.reviewer_id}"


class QaSample(models.Model):
    """A reviewer's settled decision drawn for a blind second review by a senior (`item`, in the QA queue)."""

    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, related_name="qa_sample")
    item = models.OneToOneField(ReviewItem, on_delete=models.CASCADE, related_name="qa_sample")
    created_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"QA of decision {self.decision_id}"


def gold_copy(path: str = "pk") -> Exists:
    """True where the conversation whose pk `path` names (in the outer query) is a gold presentation's copy:
    exports, training and analytics exclude these."""
    return Exists(GoldPresentation.objects.filter(conversation_id=OuterRef(path)))
