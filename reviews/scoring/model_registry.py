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


class PromotionNeedsConfirmation(PromotionError):
    """The candidate is worse than the active model on harmful-compliance AUPRC (or was never compared
    with it): promoting it needs `force` (the command's --force, the admin's confirmation)."""


def promotion_check(*, model: ScoringModel) -> str | None:
    """Why promoting `model` over the active one needs confirmation, or None when it does not.

    Training scores the candidate and the then-active model on the same evaluation rows
    (`metrics["comparison"]`, with bootstrap 95 % intervals); a candidate whose harmful-compliance
    AUPRC there is lower than the active model's, or that was compared with another model than
    the one active now, needs confirmation."""
    active = ScoringModel.objects.filter(status=ModelStatus.ACTIVE).exclude(pk=model.pk).first()
    if active is None:
        return None
    comparison = (model.metrics or {}).get("comparison")
    if not comparison or comparison.get("against") != active.version:
        return (
            f"v{model.version} was not compared with the active v{active.version} on common rows "
            f"(retrain it while v{active.version} is active to compare them)."
        )
    auprc = comparison["harmful_compliance_auprc"]
    ours, theirs = auprc["candidate"]["value"], auprc["active"]["value"]
    if ours is not None and theirs is not None and ours < theirs:
        difference = auprc.get("difference") or {}
        interval = (
            f" (difference 95% CI {difference['low']:+.3f} to {difference['high']:+.3f})"
            if difference.get("low") is not None
            else ""
        )
        return (
            f"v{model.version} is worse than the active v{active.version} on harmful-compliance AUPRC: "
            f"{ours:.3f} against {theirs:.3f} on {comparison['rows']} common rows{interval}."
        )
    return None


def model_promote(*, model: ScoringModel, actor: Any = None, force: bool = False) -> list[int]:
    """Make `model` the active one. Returns the ids of the conversations queued for rescoring.

    Raises PromotionNeedsConfirmation, unless `force`, when `promotion_check` finds it worse."""
    if model.status not in (ModelStatus.READY, ModelStatus.RETIRED):
        raise PromotionError(
            f"Model v{model.version} is {model.status}; only a ready or retired model can be promoted."
        )
    if not force and (reason := promotion_check(model=model)):
        raise PromotionNeedsConfirmation(reason)
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
        audit_record(actor=actor, action=AuditAction.MODEL_PROMOTED, target=model, rescored=len(backlog), forced=force)
        transaction.on_commit(lambda: scoring_enqueue(conversation_ids=backlog))
    return backlog
