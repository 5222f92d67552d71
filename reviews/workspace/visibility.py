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
- **Blur.** A turn is withheld by the signals that concern it (`_blur_plan`) until the user reveals it, and the
  explanations of the flags on it with it; every reveal, one turn or all, from
  the page or the API, is the same audit event (`reviewing.content_reveal`).
"""

from __future__ import annotations

from copy import copy
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
WITHHELD = "(hidden with the blurred turn it explains: reveal the turn to read it)"
BLUR_RISK = 0.5  # a model's score at which a blur-by-default category blurs the turns the model read


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
class BlurReason:
    """Why one turn is hidden: a blur-by-default category, and who said so (a detector, or the model)."""

    category: str  # slug
    name: str  # the taxonomy's name for it
    by: str  # "detector input-guard (0.91)", "model v3 (0.72)"
    flag: int | None = None  # the flag on the whole conversation behind it, if one is

    def __str__(self) -> str:
        return f"{self.name} ({self.by})"


@dataclass(frozen=True)
class Turn:
    index: int
    role: str
    content: str
    flags: list[Flag]
    blurred: bool
    blur_reasons: list[BlurReason]
    shown_chars: int | None = None  # how much of `content` the page shows; None: all of it

    @property
    def blur_categories(self) -> list[str]:
        return sorted({reason.category for reason in self.blur_reasons})

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


def _role(message: Any) -> str:
    return str(message.get("role", "?")) if isinstance(message, dict) else "?"


def judged_turns(roles: list[str]) -> set[int]:
    """The turns a model score reads: the last user turn (the request) and the last assistant turn after it
    (the reply); with no user turn, the last assistant turn. Never a system prompt or an earlier exchange."""
    last_user = max((i for i, role in enumerate(roles) if role == "user"), default=-1)
    replies = [i for i, role in enumerate(roles) if role == "assistant" and i > last_user]
    return ({last_user} if last_user >= 0 else set()) | ({replies[-1]} if replies else set())


def _blur_plan(
    flags: list[Flag], scores: list[Score], blur: dict[str, str], roles: list[str]
) -> dict[int, list[BlurReason]]:
    """Which turns are blurred, and why, by the signals that concern each turn (`blur`: slug → name).

    - a detector's flag pinned to a turn blurs that turn;
    - a flag on the whole conversation blurs its user and assistant turns (the detector did not say where);
    - the newest model score at BLUR_RISK or more in a category blurs the turns it read (`judged_turns`).
    The detectors' fallback score adds nothing: it is the flags again. A system prompt is blurred only by a
    flag pinned to it.
    """
    plan: dict[int, list[BlurReason]] = {}
    spoken = [i for i, role in enumerate(roles) if role != "system"]
    for flag in flags:
        if flag.category not in blur:
            continue
        name, index = blur[flag.category], flag.message_index
        if index is not None and 0 <= index < len(roles):
            plan.setdefault(index, []).append(
                BlurReason(flag.category, name, f"detector {flag.detector} ({flag.score:.2f})")
            )
            continue
        by = f"detector {flag.detector} on the whole conversation ({flag.score:.2f})"
        for index in spoken:
            plan.setdefault(index, []).append(BlurReason(flag.category, name, by, flag=flag.pk))
    model = next((score for score in scores if not score.is_fallback), None)
    if model is not None and isinstance(model.categories, dict):
        version = f"model v{model.scoring_model.version}" if model.scoring_model is not None else "the model"
        for slug, value in sorted(model.categories.items()):
            if slug in blur and float(value) >= BLUR_RISK:
                for index in sorted(judged_turns(roles)):
                    plan.setdefault(index, []).append(BlurReason(slug, blur[slug], f"{version} ({float(value):.2f})"))
    return plan


def revealed_messages(*, user: Any, conversation: Conversation) -> set[int]:
    """Turns the user revealed: one at a time (`message_index`) or all at once (`message_indexes`)."""
    rows = AuditEvent.objects.filter(
        actor=user, action=AuditAction.REVEAL, target_type="reviews.conversation", target_id=str(conversation.pk)
    ).values_list("data", flat=True)
    revealed: set[int] = set()
    for row in rows:
        if isinstance(row, dict):
            revealed.update(
                i for i in [row.get("message_index"), *row.get("message_indexes", [])] if isinstance(i, int)
            )
    return revealed


def conversation_turns(
    *, conversation: Conversation, user: Any, flags: list[Flag] | None = None, scores: list[Score] | None = None
) -> list[Turn]:
    """The messages turn by turn, each with the flags pinned to it and whether it is blurred for this user.

    `scores` newest first."""
    if flags is None:
        flags = list(conversation.flags.order_by("message_index", "-score"))
    if scores is None:
        scores = list(conversation.scores.select_related("scoring_model").order_by("-created_at", "-pk"))
    blur = dict(Category.objects.filter(blur_by_default=True).values_list("slug", "name"))
    roles = [_role(message) for message in conversation.messages]
    plan = _blur_plan(flags, scores, blur, roles)
    revealed = revealed_messages(user=user, conversation=conversation) if plan else set()
    turns = []
    for index, message in enumerate(conversation.messages):
        reasons = plan.get(index, [])
        turns.append(
            Turn(
                index=index,
                role=roles[index],
                content=str(message.get("content", "")) if isinstance(message, dict) else str(message),
                flags=[flag for flag in flags if flag.message_index == index],
                blurred=bool(reasons) and index not in revealed,
                blur_reasons=reasons,
            )
        )
    return _page_budget(turns)


def explanations_withheld(turns: list[Turn]) -> set[int]:
    """Flags whose explanation is hidden with what it explains (an explanation can quote the text it flags):
    those pinned to a blurred turn, and those on the whole conversation that blur a turn still blurred."""
    withheld = {flag.pk for turn in turns if turn.blurred for flag in turn.flags}
    return withheld | {reason.flag for turn in turns if turn.blurred for reason in turn.blur_reasons if reason.flag}


def replace_explanation(flag: Flag) -> Flag:
    hidden = copy(flag)
    hidden.explanation = WITHHELD
    return hidden


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
    withheld: set[int]  # flags whose explanation is hidden with the blurred text it explains

    def flags_shown(self) -> list[Flag]:
        """The flags as this user may read them: withheld explanations blanked (copies; the rows are untouched)."""
        return [replace_explanation(flag) if flag.pk in self.withheld else flag for flag in self.flags]

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
    turns = conversation_turns(conversation=conversation, user=user, flags=flags, scores=scores)
    return ConversationView(
        conversation=conversation,
        items=visible,
        turns=turns,
        flags=flags,
        scores=scores,
        decisions=list(decisions.order_by("created_at", "pk")),
        escalations=list(escalations.order_by("created_at", "pk")),
        others_visible=others,
        withheld=explanations_withheld(turns),
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
