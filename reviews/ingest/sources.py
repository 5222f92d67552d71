"""Sources (detectors) and their API tokens. Only a SHA-256 of a token is stored.

Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.models import AuditAction, Source, SourceKind

TOKEN_PREFIX = "ovs_"  # noqa: S105  (a public marker, not a secret)
# last_seen_at is a hint for admins: write it at most this often per source.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class SourceError(Exception):
    """A source cannot be created or changed as asked."""


@dataclass(frozen=True)
class IssuedToken:
    source: Source
    token: str  # shown once, never stored


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def source_create(*, name: str, kind: str, description: str = "", actor: Any = None) -> IssuedToken:
    if kind not in SourceKind.values:
        raise SourceError(f"Unknown kind {kind!r}; expected one of: {', '.join(SourceKind.values)}.")
    if Source.objects.filter(name=name).exists():
        raise SourceError(f"A source named {name!r} already exists.")
    with transaction.atomic():
        source = Source.objects.create(name=name, kind=kind, description=description)
        return _issue(source=source, actor=actor)


def source_rotate_token(*, source: Source, actor: Any = None) -> IssuedToken:
    """Issue a new token; the old one stops working at once."""
    with transaction.atomic():
        return _issue(source=source, actor=actor)


def _issue(*, source: Source, actor: Any) -> IssuedToken:
    token = _new_token()
    source.token_hash = hash_token(token)
    source.token_prefix = token[: len(TOKEN_PREFIX) + 4]
    source.revoked_at = None
    source.save(update_fields=["token_hash", "token_prefix", "revoked_at"])
    audit_record(actor=actor, action=AuditAction.TOKEN_ISSUED, target=source, prefix=source.token_prefix)
    return IssuedToken(source=source, token=token)


def source_revoke(*, source: Source, actor: Any = None) -> Source:
    with transaction.atomic():
        source.token_hash = None
        source.revoked_at = timezone.now()
        source.save(update_fields=["token_hash", "revoked_at"])
        audit_record(actor=actor, action=AuditAction.TOKEN_REVOKED, target=source, prefix=source.token_prefix)
    return source


def source_authenticate(*, token: str) -> Source | None:
    """The active source holding `token`, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    source = Source.objects.filter(token_hash=hash_token(token), revoked_at__isnull=True).first()
    if source is None:
        return None
    now = timezone.now()
    if source.last_seen_at is None or now - source.last_seen_at > LAST_SEEN_RESOLUTION:
        Source.objects.filter(pk=source.pk).update(last_seen_at=now)
        source.last_seen_at = now
    return source
