"""Non-trivial reads. They own select_related/prefetch and scope results to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Exists, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from reviews.models import (
    AuditAction,
    AuditEvent,
    Category,
    Conversation,
    Decision,
    Escalation,
    Flag,
    ItemStatus,
    LimitKind,
    ModelStatus,
    Queue,
    ReviewItem,
    Score,
    ScoringModel,
    Source,
)
from reviews.permissions import ADMIN, ROLES, SENIOR, user_roles
from reviews.score_panel import ModelPanel, model_panel


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


DUE_SOON = timedelta(hours=1)


STATS_CAP = 1_000  # counts stop here: the page shows "1,000+" (home.html), and no count reads past it


class CappedCount(Subquery):
    """How many rows the subquery gives, reading at most `STATS_CAP + 1` of them.

    A count over a million open items would scan them all on every page load and every live push; a reviewer
    needs "more than 1,000", not the exact figure, and the LIMIT makes the count a short index range.
    """

    template = "(SELECT COUNT(*) FROM (%(subquery)s) capped)"
    output_field = IntegerField()

    def __init__(self, queryset: QuerySet[Any]) -> None:
        super().__init__(queryset[: STATS_CAP + 1])


def _with_stats(qs: QuerySet[Queue]) -> QuerySet[Queue]:
    """Open count, oldest open item, due-soon and breached counts, in the same query.

    Each figure is a subquery per queue on a partial index of open items (`ReviewItem.Meta.indexes`), so the
    page costs a few short index reads per queue whatever the backlog, and counts are capped at `STATS_CAP`.
    Breached is `due_at < now`: the SLA sweeper sets `sla_breached_at` only on items already past due, and
    `due_at` never moves, so testing `sla_breached_at` too would count no other item (and miss the index).
    """
    now = timezone.now()
    open_items = ReviewItem.objects.filter(queue=OuterRef("pk"), status=ItemStatus.OPEN)
    return qs.annotate(
        open_count=CappedCount(open_items.values("created_at")),
        oldest_open_at=Subquery(open_items.order_by("created_at").values("created_at")[:1]),
        due_soon_count=CappedCount(open_items.filter(due_at__gte=now, due_at__lt=now + DUE_SOON).values("due_at")),
        breached_count=CappedCount(open_items.filter(due_at__lt=now).values("due_at")),
    )


def queue_overview(*, user: Any) -> list[Queue]:
    """Active queues the user may work, each with open count, oldest open item, due-soon and breached counts.

    One query: access is an EXISTS on the user's role groups, so a user in two groups does not double a queue.
    """
    if not getattr(user, "is_authenticated", False):
        return []
    qs = _with_stats(Queue.objects.filter(is_active=True))
    if not user.is_superuser:
        qs = qs.filter(Exists(Group.objects.filter(name__in=ROLES, user=user, queue=OuterRef("pk"))))
    return list(qs.order_by("slug"))


def queue_stats(*, queue_ids: list[int]) -> list[Queue]:
    """The same figures for given queues, for the live push (the websocket groups already scope who sees them)."""
    return list(_with_stats(Queue.objects.filter(pk__in=queue_ids)))


def active_scoring_model() -> ScoringModel | None:
    """The model whose risks rank the queues; None while risks come from the detectors' own scores."""
    return ScoringModel.objects.filter(status=ModelStatus.ACTIVE).only("version", "activated_at").first()


def _access_groups(*, user: Any, queue: Queue) -> bool | QuerySet[Group]:
    """The queue access rule. Decided without a query where it can be (False for anonymous users and inactive
    queues, True for superusers); else the groups that let the user in: the user's groups named for a role
    that the queue allows, access if there is one."""
    if not getattr(user, "is_authenticated", False) or not queue.is_active:
        return False
    if user.is_superuser:
        return True
    return Group.objects.filter(name__in=ROLES, user=user, queue=queue)


def user_may_work(*, user: Any, queue: Queue) -> bool:
    access = _access_groups(user=user, queue=queue)
    return access if isinstance(access, bool) else access.exists()


def items_claimable(*, user: Any, queue: Queue) -> QuerySet[ReviewItem]:
    """Open items of `queue` this user may take: never one they already decided (blind consensus).

    The access check rides in the same query (an EXISTS), so claiming costs no round trip for it.
    """
    access = _access_groups(user=user, queue=queue)
    if access is False:
        return ReviewItem.objects.none()
    qs = ReviewItem.objects.filter(queue=queue, status=ItemStatus.OPEN)
    if access is not True:
        qs = qs.filter(Exists(access))
    return qs.exclude(decisions__reviewer=user).order_by("-priority", "created_at")


def decisions_visible(*, item: ReviewItem, user: Any) -> list[Decision]:
    """Earlier decisions on an item: all of them for seniors and in non-blind queues, else only the user's own."""
    decisions = item.decisions.select_related("reviewer").order_by("created_at")
    if item.queue.blind and not user_roles(user) & {SENIOR, ADMIN}:
        decisions = decisions.filter(reviewer=user)
    return list(decisions)


# --- Reviewer workspace ----------------------------------------------------------

LONG_MESSAGE_CHARS = 1_500
PREVIEW_CHARS = 600
BLUR_RISK = 0.5  # model risk at which a blur-by-default category blurs the whole conversation
RECENT_SKIPS = timedelta(hours=12)


def queue_workable(*, user: Any, slug: str) -> Queue | None:
    """The active queue `slug` if the user may work it, else None (the view answers 404)."""
    queue = Queue.objects.filter(slug=slug, is_active=True).first()
    if queue is None or not user_may_work(user=user, queue=queue):
        return None
    return queue


def item_for_user(*, user: Any, pk: int) -> ReviewItem | None:
    """One item, only if it sits in a queue the user may work: a guessed URL for another queue's item is 404."""
    roles = user_roles(user)
    if not roles:
        return None
    qs = ReviewItem.objects.select_related("queue", "conversation__source", "policy_version", "claimed_by").filter(
        pk=pk, queue__is_active=True
    )
    if not user.is_superuser:
        qs = qs.filter(queue__in=Queue.objects.filter(allowed_groups__name__in=roles).values("pk"))
    return qs.first()


def items_skipped_recently(*, user: Any) -> list[int]:
    """Items the user skipped lately: claim-next passes over them."""
    since = timezone.now() - RECENT_SKIPS
    ids = AuditEvent.objects.filter(
        actor=user, action=AuditAction.SKIP, target_type="reviews.reviewitem", created_at__gte=since
    ).values_list("target_id", flat=True)
    return [int(pk) for pk in ids]


@dataclass(frozen=True)
class Turn:
    index: int
    role: str
    content: str
    flags: list[Flag]
    blurred: bool
    blur_categories: list[str]

    @property
    def is_long(self) -> bool:
        return len(self.content) > LONG_MESSAGE_CHARS

    @property
    def preview(self) -> str:
        return self.content[:PREVIEW_CHARS]


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

    @property
    def renew_every(self) -> int:
        return lease_renew_interval(queue=self.item.queue)

    @cached_property
    def model_panel(self) -> ModelPanel:
        return model_panel(self.scores, self.categories)


def lease_renew_interval(*, queue: Queue) -> int:
    """Seconds between lease renewals from an open page: well inside the lease, at most once a minute."""
    return max(5, min(60, queue.lease_seconds // 3))


def _blur_plan(
    conversation: Conversation, flags: list[Flag], scores: list[Score], blur: set[str]
) -> tuple[bool, dict[int, set[str]], set[str]]:
    """(whole conversation blurred?, categories per pinned turn, categories blurring the whole conversation)."""
    pinned: dict[int, set[str]] = {}
    whole: set[str] = set()
    for flag in flags:
        if flag.category not in blur:
            continue
        if flag.message_index is None:
            whole.add(flag.category)
        else:
            pinned.setdefault(flag.message_index, set()).add(flag.category)
    latest = scores[0] if scores else None
    if latest is not None:
        whole |= {slug for slug, value in latest.categories.items() if slug in blur and value >= BLUR_RISK}
    return bool(whole), pinned, whole


def revealed_messages(*, user: Any, conversation: Conversation) -> set[int]:
    rows = AuditEvent.objects.filter(
        actor=user, action=AuditAction.REVEAL, target_type="reviews.conversation", target_id=str(conversation.pk)
    ).values_list("data", flat=True)
    return {row["message_index"] for row in rows if isinstance(row, dict) and "message_index" in row}


def conversation_turns(
    *, conversation: Conversation, user: Any, flags: list[Flag] | None = None, scores: list[Score] | None = None
) -> list[Turn]:
    """The messages turn by turn, each with the flags pinned to it and whether it is blurred for this user."""
    if flags is None:
        flags = list(conversation.flags.order_by("message_index", "-score"))
    if scores is None:
        scores = list(conversation.scores.order_by("-created_at", "-pk"))
    blur = set(Category.objects.filter(blur_by_default=True).values_list("slug", flat=True))
    whole, pinned, whole_categories = _blur_plan(conversation, flags, scores, blur)
    revealed = revealed_messages(user=user, conversation=conversation)
    turns = []
    for index, message in enumerate(conversation.messages):
        categories = sorted((whole_categories if whole else set()) | pinned.get(index, set()))
        turns.append(
            Turn(
                index=index,
                role=str(message.get("role", "?")) if isinstance(message, dict) else "?",
                content=str(message.get("content", "")) if isinstance(message, dict) else str(message),
                flags=[flag for flag in flags if flag.message_index == index],
                blurred=bool(categories) and index not in revealed,
                blur_categories=categories,
            )
        )
    return turns


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


def item_workspace(*, item: ReviewItem, user: Any) -> Workspace:
    conversation = item.conversation
    flags = list(conversation.flags.order_by("message_index", "-score"))
    scores = list(conversation.scores.select_related("scoring_model").order_by("-created_at", "-pk"))
    turns = conversation_turns(conversation=conversation, user=user, flags=flags, scores=scores)
    senior = bool(user_roles(user) & {SENIOR, ADMIN})
    show_history = senior or not item.queue.blind
    history = Decision.objects.filter(item__conversation=conversation).select_related("reviewer", "item__queue")
    if not show_history:
        history = history.filter(reviewer=user)
    escalations = (
        list(Escalation.objects.filter(item__conversation=conversation).select_related("raised_by", "item__queue"))
        if show_history
        else []
    )
    return Workspace(
        item=item,
        turns=turns,
        unpinned_flags=[f for f in flags if f.message_index is None or f.message_index >= len(turns)],
        scores=scores,
        history=list(history.order_by("created_at")),
        escalations=escalations,
        categories=active_categories(),
        held=item.status == ItemStatus.OPEN and item.claimed_by_id == user.pk,
        exposure=hard_limit_exposure_today(user=user),
        show_history=show_history,
    )


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
