"""Editing, validating, activating, rolling back and dry-running routing policies."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from pydantic import ValidationError

from reviews.audit import audit_record
from reviews.models import (
    AuditAction,
    Category,
    Conversation,
    PolicyDraft,
    PolicyVersion,
    Queue,
    Score,
    SourceKind,
)
from reviews.routing.facts import hard_limit_slugs, routing_facts
from reviews.routing.policy import PolicyDocument, overlapping_risk_ranges, route

DRY_RUN_DEFAULT = 10_000


class PolicyInvalid(ValueError):
    """The policy cannot be saved or activated; `errors` says why, one message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "policy"


def policy_parse(document: dict[str, Any] | str) -> PolicyDocument:
    """Validate a policy (JSON text or data) against the schema and the database; raise PolicyInvalid."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PolicyInvalid([f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    try:
        parsed = PolicyDocument.model_validate(document)
    except ValidationError as exc:
        raise PolicyInvalid([f"{_location(e['loc'])}: {e['msg']}" for e in exc.errors()]) from None
    errors = []
    queues = set(Queue.objects.filter(is_active=True).values_list("slug", flat=True))
    errors += [f"unknown queue '{slug}'" for slug in sorted(parsed.queue_slugs() - queues)]
    categories = set(Category.objects.values_list("slug", flat=True))
    errors += [f"unknown category '{slug}'" for slug in sorted(parsed.category_slugs() - categories)]
    errors += overlapping_risk_ranges(parsed)
    if errors:
        raise PolicyInvalid(errors)
    return parsed


def pretty(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False)


def active_policy() -> PolicyVersion:
    return PolicyVersion.objects.get(is_active=True)


def draft_get() -> PolicyDraft:
    draft = PolicyDraft.objects.select_related("based_on").first()
    if draft is None:
        version = active_policy()
        draft = PolicyDraft.objects.create(document=version.document, based_on=version)
    return draft


def draft_save(*, text: str, actor: Any) -> PolicyDraft:
    """Save the draft if it is valid; an invalid draft raises PolicyInvalid and nothing is saved."""
    policy_parse(text)
    draft = draft_get()
    draft.document = json.loads(text)
    draft.updated_by = actor
    draft.save()
    return draft


def _diff(old: dict[str, Any], new: dict[str, Any], old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(
        pretty(old).splitlines(), pretty(new).splitlines(), fromfile=old_name, tofile=new_name, lineterm=""
    )
    return "\n".join(lines)


@transaction.atomic
def _activate(document: dict[str, Any], *, actor: Any, note: str) -> PolicyVersion:
    policy_parse(document)
    current = PolicyVersion.objects.select_for_update().get(is_active=True)
    if current.document == document:
        raise PolicyInvalid([f"the draft is the same as the active version v{current.number}: nothing to activate"])
    number = (PolicyVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    PolicyVersion.objects.filter(pk=current.pk).update(is_active=False)
    version = PolicyVersion.objects.create(
        number=number,
        document=document,
        is_active=True,
        note=note[:200],
        diff=_diff(current.document, document, f"v{current.number}", f"v{number}"),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    PolicyDraft.objects.update_or_create(pk=draft_get().pk, defaults={"document": document, "based_on": version})
    audit_record(actor=actor, action=AuditAction.POLICY_CHANGE, target=version, previous=current.number, note=note)
    return version


def policy_activate(*, actor: Any, note: str = "") -> PolicyVersion:
    """The draft becomes a new immutable version, active from now on."""
    return _activate(draft_get().document, actor=actor, note=note or "activated from the draft")


def policy_rollback(*, version: PolicyVersion, actor: Any) -> PolicyVersion:
    """Activate an earlier version's document again, as a new version (history stays linear)."""
    return _activate(version.document, actor=actor, note=f"rollback to v{version.number}")


@dataclass(frozen=True)
class DryRun:
    conversations: int
    draft: Counter[str]  # queue slug (or "dropped") → count
    active: Counter[str]
    active_number: int

    def rows(self) -> list[tuple[str, int, int, int]]:
        """(destination, active, draft, change), busiest first."""
        keys = sorted(set(self.draft) | set(self.active), key=lambda k: -(self.draft[k] + self.active[k]))
        return [(k, self.active[k], self.draft[k], self.draft[k] - self.active[k]) for k in keys]


def _destination(outcome: Any) -> str:
    return outcome.queue or "dropped"


def policy_dry_run(*, document: dict[str, Any] | str, limit: int = DRY_RUN_DEFAULT) -> DryRun:
    """Replay the last `limit` conversations routing would route (scored, not imported) through `document` and the
    active version, writing nothing. `conversations` counts those replayed."""
    draft = policy_parse(document)
    active = active_policy()
    current = PolicyDocument.model_validate(active.document)
    scored = Exists(Score.objects.filter(conversation=OuterRef("pk")))
    routable = Conversation.objects.exclude(source__kind=SourceKind.IMPORT).filter(scored)
    ids = list(routable.order_by("-received_at", "-pk").values_list("pk", flat=True)[:limit])
    hard = hard_limit_slugs()
    draft_counts: Counter[str] = Counter()
    active_counts: Counter[str] = Counter()
    replayed = 0
    for facts in routing_facts(ids, skip_imported=True):
        replayed += 1
        draft_counts[_destination(route(draft, facts, hard_limits=hard))] += 1
        active_counts[_destination(route(current, facts, hard_limits=hard))] += 1
    return DryRun(conversations=replayed, draft=draft_counts, active=active_counts, active_number=active.number)
