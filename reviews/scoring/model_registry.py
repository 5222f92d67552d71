"""Promoting a trained scoring model: the open backlog is rescored by it in the background."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.models import AuditAction, Conversation, ItemStatus, ModelStatus, ScoringModel, ScoringStatus
from reviews.scoring.services import scoring_enqueue


class PromotionError(ValueError):
    """The model cannot be promoted."""


def model_promote(*, model: ScoringModel, actor: Any = None) -> list[int]:
    """Make `model` the active one. Returns the ids of the conversations queued for rescoring."""
    if model.status not in (ModelStatus.READY, ModelStatus.RETIRED):
        raise PromotionError(
            f"Model v{model.version} is {model.status}; only a ready or retired model can be promoted."
        )
    with transaction.atomic():
        ScoringModel.objects.filter(status=ModelStatus.ACTIVE).update(status=ModelStatus.RETIRED)
        model.status, model.activated_at = ModelStatus.ACTIVE, timezone.now()
        model.save(update_fields=["status", "activated_at"])
        backlog = list(
            Conversation.objects.filter(review_items__status=ItemStatus.OPEN)
            .exclude(scoring_status=ScoringStatus.PARKED)
            .values_list("pk", flat=True)
            .distinct()
        )
        Conversation.objects.filter(pk__in=backlog).update(scoring_status=ScoringStatus.PENDING, scoring_attempts=0)
        audit_record(actor=actor, action=AuditAction.MODEL_PROMOTED, target=model, rescored=len(backlog))
        transaction.on_commit(lambda: scoring_enqueue(conversation_ids=backlog))
    return backlog
