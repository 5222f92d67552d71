"""The append-only audit trail, chained by hashes so that any later change shows.

Every event stores `prev_hash` (its predecessor's `hash`, or GENESIS) and `hash`, a
SHA-256 over prev_hash and its own content. Changing an event breaks its own hash;
removing or reordering events breaks the next event's link. `manage.py verify_audit`
walks the chain. The id is not hashed (the database assigns it on insert); the order
is fixed by the links instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from reviews.models import AuditAction, AuditEvent

GENESIS = "0" * 64
# Key of the PostgreSQL advisory lock that serializes appends ("audit" in ASCII).
_CHAIN_LOCK = 0x6175646974


def _number(value: int | float) -> str:
    """One spelling per number, so that jsonb's round trip (1.0 → 1.0, 1e20 → 100000000000000000000) keeps it."""
    # float.__repr__ and int(): what json.dumps writes, also for subclasses (numpy's float64 reprs differently).
    exact = Decimal(float.__repr__(value)) if isinstance(value, float) else Decimal(int(value))
    return "0" if exact == 0 else str(exact.normalize())


def _canonical(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, normalized numbers."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{json.dumps(key)}:{_canonical(item)}" for key, item in items) + "}"
    raise TypeError(f"audit data must be JSON, not {type(value).__name__}")


def audit_hash(
    *,
    prev_hash: str,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: str,
    data: Any,
    created_at: datetime,
) -> str:
    """SHA-256 (hex) of one event's content chained onto its predecessor's hash."""
    when = created_at.astimezone(UTC).isoformat(timespec="microseconds")
    text = _canonical([prev_hash, actor_id, action, target_type, target_id, data, when])
    return hashlib.sha256(text.encode()).hexdigest()


def event_hash(event: Any, *, prev_hash: str | None = None) -> str:
    """`audit_hash` of an event's fields (any model state with them, the migration's too), chained onto
    `prev_hash` (default: the one it records)."""
    return audit_hash(
        prev_hash=event.prev_hash if prev_hash is None else prev_hash,
        actor_id=event.actor_id,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        data=event.data,
        created_at=event.created_at,
    )


def audit_record(*, actor: Any, action: AuditAction, target: Model, **data: Any) -> AuditEvent:
    """Record one event; call it inside the transaction of the change it describes.

    Appends are serialized until that transaction commits (an advisory lock on PostgreSQL;
    SQLite serializes writers anyway), so two transactions never chain onto the same event.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        last = AuditEvent.objects.order_by("-pk").values_list("hash", flat=True).first()
        event = AuditEvent(
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            action=action,
            target_type=target._meta.label_lower,
            target_id=str(target.pk),
            data=data,
            created_at=timezone.now(),
            prev_hash=last or GENESIS,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainReport:
    events: int
    last_id: int | None
    last_hash: str
    broken_at: int | None = None  # id of the first event whose link or content is wrong
    problem: str = ""


def audit_chain_verify(*, chunk_size: int = 2000) -> ChainReport:
    """Walk the chain in id order, recomputing every hash; stop at the first broken link."""
    expected_prev, previous_id, count = GENESIS, None, 0
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=chunk_size):
        if event.prev_hash != expected_prev:
            after = f"event {previous_id}" if previous_id is not None else "the start of the chain"
            problem = (
                f"event {event.pk} does not link to {after}: an event between them was removed, "
                "inserted or reordered, or the preceding event was rewritten"
            )
            return ChainReport(count, previous_id, expected_prev, event.pk, problem)
        if event_hash(event) != event.hash:
            problem = f"event {event.pk} does not match its hash: it was changed after it was written"
            return ChainReport(count, previous_id, expected_prev, event.pk, problem)
        expected_prev, previous_id, count = event.hash, event.pk, count + 1
    return ChainReport(count, previous_id, expected_prev)
