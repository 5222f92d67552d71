"""The seniors' inbox: open items in escalation queues they may work, each with the escalation that put it
there (reason, who raised it, how long ago), sortable. Items routed there by a rule have no escalation: their
reason is the rule."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from reviews.models import Escalation, EscalationStatus, ItemStatus, QueueKind, ReviewItem
from reviews.permissions import ADMIN, SENIOR, user_roles
from reviews.workspace.visibility import items_visible

INBOX_LIMIT = 200
SORTS: dict[str, tuple[Any, ...]] = {
    "oldest": (F("escalated_at").asc(), "pk"),
    "newest": (F("escalated_at").desc(), "-pk"),
    "risk": ("-risk", "pk"),
    "raised_by": (F("raised_by_name").asc(nulls_last=True), "pk"),
    "from_queue": (F("from_queue").asc(nulls_last=True), "pk"),
}

SORT_LABELS = [
    ("oldest", "Oldest first"),
    ("newest", "Newest first"),
    ("risk", "Highest risk"),
    ("raised_by", "Raised by"),
    ("from_queue", "From queue"),
]


def _open_in_inbox(user: Any) -> QuerySet[ReviewItem]:
    return items_visible(user=user).filter(status=ItemStatus.OPEN, queue__kind=QueueKind.ESCALATION)


def inbox_items(*, user: Any, sort: str = "oldest") -> list[ReviewItem]:
    """Up to INBOX_LIMIT open escalation items, each annotated with `reason`, `raised_by_name` (None: the SLA
    sweep or a rule), `escalated_at`, `from_queue` and `from_item` of its conversation's newest open escalation."""
    escalation = Escalation.objects.filter(
        item__conversation=OuterRef("conversation"),
        status=EscalationStatus.OPEN,
        item__in=items_visible(user=user).values("pk"),  # raised from an item the senior may see
    ).order_by("-created_at", "-pk")
    rows = (
        _open_in_inbox(user)
        .select_related("queue", "conversation__source")
        .annotate(
            reason=Subquery(escalation.values("reason")[:1]),
            raised_by_name=Subquery(escalation.values("raised_by__username")[:1]),
            escalated_at=Coalesce(Subquery(escalation.values("created_at")[:1]), F("created_at")),
            from_queue=Subquery(escalation.values("item__queue__name")[:1]),
            from_item=Subquery(escalation.values("item_id")[:1]),
        )
        .order_by(*SORTS.get(sort, SORTS["oldest"]))
    )
    return list(rows[:INBOX_LIMIT])


def may_use_inbox(user: Any, roles: Collection[str] | None = None) -> bool:
    """Seniors and admins; `roles`: the user's, when the caller already read them (`user_roles`)."""
    return bool(set(user_roles(user) if roles is None else roles) & {SENIOR, ADMIN})


@dataclass(frozen=True)
class InboxBadge:
    shown: bool  # seniors and admins only
    count: int = 0


def inbox_badge(*, user: Any, roles: Collection[str] | None = None) -> InboxBadge:
    """The header's inbox link: open escalation items for seniors and admins; not shown to anyone else."""
    if not may_use_inbox(user, roles):
        return InboxBadge(shown=False)
    return InboxBadge(shown=True, count=_open_in_inbox(user).count())
