"""Reads for the gold control on a settled item's page and the feedback after a gold answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reviews.models import Decision, GoldItem, GoldPresentation, ReviewItem
from reviews.permissions import ADMIN, SENIOR, user_roles
from reviews.quality.gold import gold_answer_of


@dataclass(frozen=True)
class GoldControl:
    """What a senior sees on a settled item: the answer it would set, or the gold it already is."""

    item: ReviewItem
    answer: Decision | None
    gold: GoldItem | None


def may_mark_gold(user: Any) -> bool:
    return bool(user_roles(user) & {SENIOR, ADMIN})


def gold_control(*, item: ReviewItem, user: Any) -> GoldControl | None:
    """The control for seniors and admins on a settled item they did not decide as a plain reviewer (so that a
    gold presentation, which only its reviewer ever decides, looks like any item they decided); else None."""
    if item.status == "open" or not may_mark_gold(user):
        return None
    if item.decisions.filter(reviewer=user, is_final=False).exists():
        return None
    answer = gold_answer_of(item)
    if answer is None:
        return None
    gold = GoldItem.objects.filter(item__conversation_id=item.conversation_id).first()
    return GoldControl(item=item, answer=answer, gold=gold)


def gold_feedback(*, item: ReviewItem, user: Any) -> GoldItem | None:
    """The expected answer after `user` answered a gold presentation, where its queue shows feedback."""
    presentation = (
        GoldPresentation.objects.select_related("gold", "item__queue").filter(item_id=item.pk, reviewer=user).first()
    )
    if presentation is None or not presentation.item.queue.gold_feedback:
        return None
    return presentation.gold
