"""Non-trivial reads. They own select_related/prefetch and scope results to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from reviews.models import (
    AuditAction,
    AuditEvent,
    BulkVerdict,
    Category,
    Decision,
    Escalation,
    Flag,
    GoldPresentation,
    ItemStatus,
    LimitKind,
    ModelStatus,
    Queue,
    ReviewItem,
    Score,
    ScoringModel,
)
from reviews.queue_stats import with_stats
from reviews.workspace.score_panel import ModelPanel, model_panel
from reviews.workspace.visibility import Turn, conversation_view, item_visible, queue_access, queues_workable
from reviews.workspace.visibility import conversation_turns as conversation_turns  # the item views read it here


def queue_overview(*, user: Any) -> list[Queue]:
    """Active queues the user may work, each with open count, oldest open item, due-soon and breached counts.

    One query: access is an EXISTS (`visibility.queue_access`), so a user in two groups does not double a queue.
    """
    return list(with_stats(queues_workable(user=user)).order_by("slug"))


def active_scoring_model() -> ScoringModel | None:
    """The model whose risks rank the queues; None while risks come from the detectors' own scores."""
    return ScoringModel.objects.filter(status=ModelStatus.ACTIVE).only("version", "activated_at").first()


def items_claimable(*, user: Any, queue: Queue) -> QuerySet[ReviewItem]:
    """Open items of `queue` this user may take: never one they already decided (blind consensus).

    The access check rides in the same query (EXISTS, `visibility.queue_access`), so claiming costs no round
    trip for it.
    """
    if not queue.is_active:
        return ReviewItem.objects.none()
    access = queue_access(user=user, queue="queue_id")
    if access is False:
        return ReviewItem.objects.none()
    qs = ReviewItem.objects.filter(queue=queue, status=ItemStatus.OPEN)
    if access is not True:
        qs = qs.filter(access)
    # Someone else's gold presentation is theirs alone (reviews/quality/gold.py).
    others_gold = GoldPresentation.objects.filter(item=OuterRef("pk")).exclude(reviewer=user)
    return qs.exclude(decisions__reviewer=user).exclude(Exists(others_gold)).order_by("-priority", "created_at")


def decisions_visible(*, item: ReviewItem, user: Any) -> list[Decision]:
    """Earlier decisions on an item, as the item page shows them (`visibility.conversation_view`)."""
    view = conversation_view(user=user, conversation=item.conversation)
    return [] if view is None else view.decisions_on(item)


# --- Reviewer workspace ----------------------------------------------------------

RECENT_SKIPS = timedelta(hours=12)


def queue_workable(*, user: Any, slug: str) -> Queue | None:
    """The active queue `slug` if the user may work it, else None (the view answers 404)."""
    return queues_workable(user=user).filter(slug=slug).first()


def item_for_user(*, user: Any, pk: int) -> ReviewItem | None:
    """One item, only if it sits in a queue the user may work: a guessed URL for another queue's item is 404."""
    return item_visible(user=user, pk=pk)


def items_skipped_recently(*, user: Any) -> list[int]:
    """Items the user skipped lately: claim-next passes over them."""
    since = timezone.now() - RECENT_SKIPS
    ids = AuditEvent.objects.filter(
        actor=user, action=AuditAction.SKIP, target_type="reviews.reviewitem", created_at__gte=since
    ).values_list("target_id", flat=True)
    return [int(pk) for pk in ids]


@dataclass(frozen=True)
class Workspace:
    """Everything the item page shows, read in a fixed number of queries."""

    item: ReviewItem
    turns: list[Turn]
    unpinned_flags: list[Flag]
    scores: list[Score]
    history: list[Decision]
    escalations: list[Escalation]
    categories: list[Category]
    held: bool
    exposure: int
    show_history: bool
    withheld: set[int]  # flags whose explanation is hidden with a blurred turn
    suggested: dict[str, list[str]]  # category slug → why it is suggested ("flagged", "model 0.71")
    mine: Decision | None  # the user's own decision on this item, if they made one

    @property
    def category_rows(self) -> list[tuple[Category, list[str]]]:
        """Each category a decision may use, with why it is suggested ([] when it is not)."""
        return [(category, self.suggested.get(category.slug, [])) for category in self.categories]

    @property
    def any_blurred(self) -> bool:
        return any(turn.blurred for turn in self.turns)

    @property
    def mine_editable(self) -> bool:
        return self.mine is not None and self.mine.is_editable()

    @property
    def renew_every(self) -> int:
        return lease_renew_interval(queue=self.item.queue)

    @cached_property
    def model_panel(self) -> ModelPanel:
        return model_panel(self.scores, self.categories)

    @cached_property
    def campaign_suggestion(self) -> BulkVerdict | None:
        """The verdict last applied in bulk (and not reverted) to this conversation's campaign: shown to whoever
        decides a member that arrived since, as a suggestion; it decides nothing (reviews/campaigns/bulk.py)."""
        active = BulkVerdict.objects.filter(
            campaign__members__conversation_id=self.item.conversation_id, reverted_at=None
        )
        return active.order_by("-created_at", "-pk").first()


def lease_renew_interval(*, queue: Queue) -> int:
    """Seconds between lease renewals from an open page: well inside the lease, at most once a minute."""
    return max(5, min(60, queue.lease_seconds // 3))


def hard_limit_exposure_today(*, user: Any) -> int:
    """Conversations flagged in a hard-limit category that the user decided since midnight (UTC)."""
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    hard = Category.objects.filter(limit=LimitKind.HARD).values("slug")
    return (
        Decision.objects.filter(reviewer=user, created_at__gte=start, item__conversation__flags__category__in=hard)
        .values("item__conversation_id")
        .distinct()
        .count()
    )


def item_past_daily_cap(*, item: ReviewItem, user: Any) -> bool:
    """The item is flagged in a hard-limit category and the user already decided the queue's daily cap of such
    items today: they may not open, claim or decide it (it goes to other reviewers). No cap, no limit."""
    cap = item.queue.hard_limit_daily_cap
    if cap is None:
        return False
    hard = Category.objects.filter(limit=LimitKind.HARD).values("slug")
    if not Flag.objects.filter(conversation_id=item.conversation_id, category__in=hard).exists():
        return False
    return hard_limit_exposure_today(user=user) >= cap


def item_workspace(*, item: ReviewItem, user: Any) -> Workspace:
    """The item page: the conversation as `visibility.conversation_view` lets this user see it, and the item."""
    view = conversation_view(user=user, conversation=item.conversation)
    if view is None:  # callers pass only items the user may see (item_for_user, a claim)
        raise LookupError(f"Item {item.pk} is not visible to this user.")
    turns = view.turns
    categories = active_categories()
    return Workspace(
        item=item,
        turns=turns,
        unpinned_flags=[f for f in view.flags if f.message_index is None or f.message_index >= len(turns)],
        scores=view.scores,
        history=view.decisions,
        escalations=view.escalations,
        categories=categories,
        held=item.status == ItemStatus.OPEN and item.claimed_by_id == user.pk,
        exposure=hard_limit_exposure_today(user=user),
        show_history=view.others_visible,
        withheld=view.withheld,
        suggested=categories_suggested(flags=view.flags, scores=view.scores, categories=categories),
        mine=next((d for d in view.decisions_on(item) if d.reviewer_id == user.pk), None),
    )


SUGGEST_AT = 0.5  # a model's category score from which the form pre-checks the category


def categories_suggested(*, flags: list[Flag], scores: list[Score], categories: list[Category]) -> dict[str, list[str]]:
    """Categories the form pre-checks as suggestions, each with why: a detector flagged it, or the newest model
    score gives it SUGGEST_AT or more. Only categories a decision may use."""
    usable = {category.slug for category in categories}
    suggested: dict[str, list[str]] = {}
    for flag in flags:
        if flag.category in usable and "flagged" not in suggested.get(flag.category, []):
            suggested.setdefault(flag.category, []).append("flagged")
    model = next((score for score in scores if not score.is_fallback), None)
    values = model.categories if model is not None and isinstance(model.categories, dict) else {}
    for slug, value in sorted(values.items()):
        if slug in usable and float(value) >= SUGGEST_AT:
            suggested.setdefault(slug, []).append(f"model {float(value):.2f}")
    return suggested


def decisions_recent(*, user: Any, limit: int = 50) -> list[Decision]:
    """The user's own latest decisions, for "My work"."""
    return list(
        Decision.objects.filter(reviewer=user, is_imported=False)
        .select_related("item__queue")
        .order_by("-created_at", "-pk")[:limit]
    )


def decision_own(*, user: Any, pk: int) -> Decision | None:
    return Decision.objects.select_related("item__queue").filter(pk=pk, reviewer=user).first()


def escalations_raised(*, user: Any, limit: int = 50) -> list[Escalation]:
    """Escalations the user raised, with their outcome, for "My escalations"."""
    return list(
        Escalation.objects.filter(raised_by=user)
        .select_related("item__queue", "resolution", "resolved_by")
        .order_by("-created_at", "-pk")[:limit]
    )


def active_categories() -> list[Category]:
    """The taxonomy a decision may use."""
    return list(Category.objects.filter(is_active=True, merged_into__isnull=True))
