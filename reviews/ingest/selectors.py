"""Reads of what was ingested, for the API's read-back."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from reviews.models import Conversation, ReviewItem, Score, Source


def conversation_detail(*, conversation_id: int, source: Source | None = None) -> Conversation | None:
    """One conversation with flags, scores, items and decisions in a fixed number of queries.

    A source sees only its own conversations.
    """
    qs: QuerySet[Conversation] = Conversation.objects.select_related("source").prefetch_related(
        "flags",
        Prefetch("scores", queryset=Score.objects.select_related("scoring_model").order_by("created_at", "pk")),
        Prefetch(
            "review_items",
            queryset=ReviewItem.objects.select_related("queue").prefetch_related("decisions").order_by("pk"),
        ),
    )
    if source is not None:
        qs = qs.filter(source=source)
    return qs.filter(pk=conversation_id).first()
