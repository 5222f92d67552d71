"""The append-only audit trail."""

from typing import Any

from django.db.models import Model

from reviews.models import AuditAction, AuditEvent


def audit_record(*, actor: Any, action: AuditAction, target: Model, **data: Any) -> AuditEvent:
    """Record one event; call it inside the transaction of the change it describes."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        data=data,
    )
