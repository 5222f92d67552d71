"""Finding work and talking about it: comments and the mentions they raise, free tags on items, saved search
filters, and a light record of claims (the history timeline's "claimed" lines)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from reviews.models.workspace import ReviewItem

COMMENT_EDIT_MINUTES = 15


class Comment(models.Model):
    """Plain text on an item, seen by everyone who may see the item; its author may edit it for a while."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments")
    body = models.TextField()
    created_at = models.DateTimeField(db_default=Now())
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["item", "created_at"], name="comment_by_item")]

    def __str__(self) -> str:
        return f"comment {self.pk} on item {self.item_id}"

    def is_editable_by(self, user: object, now: datetime | None = None) -> bool:
        window = timedelta(minutes=COMMENT_EDIT_MINUTES)
        return self.author_id == getattr(user, "pk", None) and self.created_at + window > (now or timezone.now())


class Mention(models.Model):
    """An @mention of a user in a comment: shown on their home page until they dismiss it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="mentions")
    created_at = models.DateTimeField(db_default=Now())
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "comment"], name="one_mention_per_comment")]
        indexes = [models.Index(fields=["user", "-created_at"], condition=Q(read_at=None), name="mention_unread")]

    def __str__(self) -> str:
        return f"mention of {self.user_id} in comment {self.comment_id}"


class ItemTag(models.Model):
    """A free tag on one item ("needs-policy", "dup-of-812"): lower-case, no spaces."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=50)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "name"], name="one_tag_per_item")]
        indexes = [models.Index(fields=["name"], name="tag_by_name")]

    def __str__(self) -> str:
        return self.name


class SavedFilter(models.Model):
    """A search a user named, kept as its query string (only the search form's own fields)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="one_saved_filter_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClaimRecord(models.Model):
    """Who claimed an item when, through the workspace (`reviewing.item_claim_next`): for the history only.

    Not an AuditEvent: the audit chain serializes its appends, which a claim must never wait for."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="claim_records")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    claimed_at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [models.Index(fields=["item", "claimed_at"], name="claim_record_by_item")]

    def __str__(self) -> str:
        return f"item {self.item_id} claimed by {self.reviewer_id}"
