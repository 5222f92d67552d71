"""What a person may see of a conversation: one rule for the item page, `GET /api/v1/conversations/{id}` with a
session, and the websockets.

- **Queues.** A user may work an active queue when they hold a role (reviewer, senior or admin) and belong to
  any group the queue allows: the role groups, or a custom one (a "cbrn-team" on a queue gives its members
  with a role that queue). Superusers may work every active queue.
- **Items.** Only items in queues the user may work exist for them (the page and the API answer 404); an
  invisible item's decisions and escalations are invisible with it.
- **Blindness.** Other people's decisions and escalations on a conversation are withheld while it is still
  under review, seniors included, until no item of it is open, unless the user may work an open item of it
  in a queue that is not blind: the seniors' escalation and adjudication inboxes show what they rule on.
- **Blur.** Turns in blur-by-default categories are withheld until the user reveals them; every reveal, from
  the page or the API, is the same audit event (`reviewing.content_reveal`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from reviews.models import (
    AuditAction,
    AuditEvent,
    Category,
    Conversation,
    Decision,
    Escalation,
    Flag,
    ItemStatus,
    Queue,
    ReviewItem,
    Score,
)
from reviews.permissions import ROLES

LONG_MESSAGE_CHARS = 1_500
PREVIEW_CHARS = 600
# Bounded pages: a turn shows at most its first TURN_CHARS characters, and all turns together at most PAGE_CHARS
# (turns past that show their preview); "show all" loads the rest of one turn on demand (views.message_full).
TURN_CHARS = 20_000
PAGE_CHARS = 200_000
BLUR_RISK = 0.5  # model risk at which a blur-by-default category blurs the whole conversation


# --- Queues and items ------------------------------------------------------------------------------


def queue_access(*, user: Any, queue: str = "pk") -> bool | Q:
    """The queue access rule as a condition on the queue whose pk `queue` names (from the filtered model).

    Decided without a query where it can be: False for anonymous and inactive users, True for superusers;
    else two EXISTS in the caller's query (a group of the user on the queue, and a role).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    on_queue = Exists(Group.objects.filter(user=user, queue=OuterRef(queue)))
    return Q(on_queue) & Q(Exists(Group.objects.filter(user=user, name__in=ROLES)))


def _with_access(qs: QuerySet[Any], access: bool | Q) -> QuerySet[Any]:
    if access is False:
        return qs.none()
    return qs if access is True else qs.filter(access)


def queues_workable(*, user: Any) -> QuerySet[Queue]:
    """Active queues the user may work."""
    return _with_access(Queue.objects.filter(is_active=True), queue_access(user=user))


def user_may_work(*, user: Any, queue: Queue) -> bool:
    return queue.is_active and queues_workable(user=user).filter(pk=queue.pk).exists()


def items_visible(*, user: Any) -> QuerySet[ReviewItem]:
    """Items in active queues the user may work: everything else is invisible to them."""
    qs = ReviewItem.objects.filter(queue__is_active=True)
    return _with_access(qs, queue_access(user=user, queue="queue_id"))


def items_visible_eager(*, user: Any) -> QuerySet[ReviewItem]:
    """The same items as `items_visible`, with the queue rule decided first (one small query for the ids of
    `queues_workable`): for searches over millions of items, where the planner would otherwise drive from the
    queues the user may work and read every item in them before applying a text or tag match."""
    ids = list(queues_workable(user=user).values_list("pk", flat=True))
    return ReviewItem.objects.filter(queue_id__in=ids)


def item_visible(*, user: Any, pk: int) -> ReviewItem | None:
    """One item, only if it sits in a queue the user may work: a guessed URL for another queue's item is 404."""
    related = ("queue", "conversation__source", "policy_version", "claimed_by")
    return items_visible(user=user).select_related(*related).filter(pk=pk).first()


# --- Blur ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    index: int
    role: str
    content: str
    flags: list[Flag]
    blurred: bool
    blur_categories: list[str]
    shown_chars: int | None = None  # how much of `content` the page shows; None: all of it

    @property
    def is_long(self) -> bool:
        return len(self.content) > LONG_MESSAGE_CHARS

    @property
    def preview(self) -> str:
        return self.content[:PREVIEW_CHARS]

    @property
    def shown(self) -> str:
        return self.content if self.shown_chars is None else self.content[: self.shown_chars]

    @property
    def is_truncated(self) -> bool:
        return self.shown_chars is not None and self.shown_chars < len(self.content)

    @property
    def truncation_note(self) -> str:
        return f"Showing the first {len(self.shown):,} of {len(self.content):,} characters."

    def whole(self) -> Turn:
        """The same turn with nothing cut (what "show all" loads)."""
        return replace(self, shown_chars=None)


def _page_budget(turns: list[Turn]) -> list[Turn]:
    """Cut long turns to TURN_CHARS, and all turns together to PAGE_CHARS (a turn keeps at least its preview)."""
    left, cut = PAGE_CHARS, []
    for turn in turns:
        shown = len(turn.content) if not turn.is_long else max(PREVIEW_CHARS, min(TURN_CHARS, left))
        left -= min(shown, len(turn.content))
        cut.append(replace(turn, shown_chars=shown) if shown < len(turn.content) else turn)
    return cut


def _blur_plan(flags: list[Flag], scores: list[Score], blur: set[str]) -> tuple[bool, dict[int, set[str]], set[str]]:
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
    """The messages turn by turn, each with the flags pinned to it and whether it is blurred for this user.

    `scores` newest first."""
    if flags is None:
        flags = list(conversation.flags.order_by("message_index", "-score"))
    if scores is None:
        scores = list(conversation.scores.order_by("-created_at", "-pk"))
    blur = set(Category.objects.filter(blur_by_default=True).values_list("slug", flat=True))
    whole, pinned, whole_categories = _blur_plan(flags, scores, blur)
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
    return _page_budget(turns)


# --- The conversation as one person may see it -----------------------------------------------------


@dataclass(frozen=True)
class ConversationView:
    """A conversation as one user may see it: what the item page shows and the API returns to a session."""

    conversation: Conversation
    items: list[ReviewItem]  # in queues the user may work, oldest first
    turns: list[Turn]
    flags: list[Flag]
    scores: list[Score]  # newest first
    decisions: list[Decision]  # on `items`, oldest first: all, or only the user's own while blind
    escalations: list[Escalation]  # on `items`, under the same rule
    others_visible: bool  # False while the conversation is under blind review for this user

    def decisions_on(self, item: ReviewItem) -> list[Decision]:
        return [decision for decision in self.decisions if decision.item_id == item.pk]

    @property
    def reveal_item(self) -> ReviewItem | None:
        """The item a reveal is recorded against: the open one the user may work, else the newest."""
        open_items = [item for item in self.items if item.status == ItemStatus.OPEN]
        candidates = open_items or self.items
        return candidates[-1] if candidates else None


def _others_visible(items: list[ReviewItem], workable: set[int]) -> bool:
    """Others' decisions show once nothing of the conversation is open, or where the user works an open item in
    a queue that is not blind (the seniors' inboxes); while an item is open in a blind queue, they never do."""
    open_items = [item for item in items if item.status == ItemStatus.OPEN]
    return not open_items or any(item.pk in workable and not item.queue.blind for item in open_items)


def conversation_view(*, user: Any, conversation: Conversation) -> ConversationView | None:
    """The conversation as `user` may see it; None when no item of it sits in a queue they may work.

    Seven short queries whatever the conversation holds (items, flags, scores, the blur taxonomy, the user's
    reveals, decisions, escalations).
    """
    access = queue_access(user=user, queue="queue_id")
    if access is False:
        return None
    condition = Q(queue__is_active=True) if access is True else Q(queue__is_active=True) & access
    items: list[ReviewItem] = list(
        ReviewItem.objects.filter(conversation=conversation)
        .select_related("queue")
        .annotate(workable=ExpressionWrapper(condition, output_field=BooleanField()))
        .order_by("created_at", "pk")
    )
    workable = {item.pk for item in items if getattr(item, "workable", False)}
    if not workable:
        return None
    visible = [item for item in items if item.pk in workable]
    others = _others_visible(items, workable)
    flags = list(conversation.flags.order_by("message_index", "-score"))
    scores = list(conversation.scores.select_related("scoring_model").order_by("-created_at", "-pk"))
    decisions = Decision.objects.filter(item__in=workable).select_related("reviewer", "item__queue")
    escalations = Escalation.objects.filter(item__in=workable).select_related("raised_by", "item__queue")
    if not others:
        decisions, escalations = decisions.filter(reviewer=user), escalations.filter(raised_by=user)
    return ConversationView(
        conversation=conversation,
        items=visible,
        turns=conversation_turns(conversation=conversation, user=user, flags=flags, scores=scores),
        flags=flags,
        scores=scores,
        decisions=list(decisions.order_by("created_at", "pk")),
        escalations=list(escalations.order_by("created_at", "pk")),
        others_visible=others,
    )


def conversation_view_by_id(*, user: Any, conversation_id: int) -> ConversationView | None:
    conversation = Conversation.objects.select_related("source").filter(pk=conversation_id).first()
    return None if conversation is None else conversation_view(user=user, conversation=conversation)


def decisions_seen(*, user: Any) -> Q:
    """`_others_visible` as a condition on Decision rows (for filters such as search's verdict): the user's own
    decisions, and others' once nothing of the conversation is open or while the user may work an open item of it
    in a queue that is not blind. Apply it to decisions on items already scoped by `items_visible`."""
    open_items = ReviewItem.objects.filter(conversation=OuterRef("item__conversation"), status=ItemStatus.OPEN)
    access = queue_access(user=user, queue="queue_id")
    if access is False:
        return Q(pk__in=[])
    unblind = open_items.filter(queue__blind=False, queue__is_active=True)
    if access is not True:
        unblind = unblind.filter(access)
    return Q(reviewer=user) | ~Exists(open_items) | Exists(unblind)
