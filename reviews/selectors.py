"""Non-trivial reads. They own select_related/prefetch and scope results to the caller."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from reviews.models import (
    Conversation,
    Decision,
    ItemStatus,
    ModelStatus,
    Queue,
    ReviewItem,
    Score,
    ScoringModel,
    Source,
)
from reviews.permissions import ADMIN, SENIOR, user_roles


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


def queue_overview(*, user: Any) -> list[Queue]:
    """Active queues the user may work, each annotated with its open item count."""
    roles = user_roles(user)
    if not roles:
        return []
    qs = Queue.objects.filter(is_active=True).annotate(
        open_count=Count("items", filter=Q(items__status=ItemStatus.OPEN))
    )
    if not user.is_superuser:
        qs = qs.filter(allowed_groups__name__in=roles).distinct()
    return list(qs.order_by("slug"))


def active_scoring_model() -> ScoringModel | None:
    """The model whose risks rank the queues; None while risks come from the detectors' own scores."""
    return ScoringModel.objects.filter(status=ModelStatus.ACTIVE).only("version", "activated_at").first()


def user_may_work(*, user: Any, queue: Queue) -> bool:
    roles = user_roles(user)
    if not roles or not queue.is_active:
        return False
    return bool(user.is_superuser) or queue.allowed_groups.filter(name__in=roles).exists()


def items_claimable(*, user: Any, queue: Queue) -> QuerySet[ReviewItem]:
    """Open items of `queue` this user may take: never one they already decided (blind consensus)."""
    if not user_may_work(user=user, queue=queue):
        return ReviewItem.objects.none()
    return (
        ReviewItem.objects.filter(queue=queue, status=ItemStatus.OPEN)
        .exclude(decisions__reviewer=user)
        .order_by("-priority", "created_at")
    )


def decisions_visible(*, item: ReviewItem, user: Any) -> list[Decision]:
    """Earlier decisions on an item: all of them for seniors and in non-blind queues, else only the user's own."""
    decisions = item.decisions.select_related("reviewer").order_by("created_at")
    if item.queue.blind and not user_roles(user) & {SENIOR, ADMIN}:
        decisions = decisions.filter(reviewer=user)
    return list(decisions)
