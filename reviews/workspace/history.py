"""One timeline per conversation, from the rows and audit events already kept: received, scored, routed, claimed,
skipped, revealed, decided, edited, escalated, resolved, commented, tagged, exported.

Read through `visibility.conversation_view`, so it shows only the items the user may see, and while the
conversation is under blind review only their own decisions, edits and escalations (and others' skips without
their reasons); snapshots show only for decisions the user may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from reviews.datasets.lineage import lineage_of_conversation
from reviews.models import AuditAction, AuditEvent, ClaimRecord, Comment, Dataset, RoutingRecord
from reviews.workspace.visibility import ConversationView


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # received, scored, routed, opened, claimed, skipped, revealed, decided, edited, escalated, …
    text: str
    actor: str = ""
    item_id: int | None = None
    detail: str = ""  # user text (a reason, a comment): rendered escaped


def _name(user: Any) -> str:
    return user.get_username() if user is not None else "the system"


def _start(view: ConversationView) -> list[Event]:
    conversation = view.conversation
    events = [Event(conversation.received_at, "received", f"Received from {conversation.source.name}")]
    for score in view.scores:
        by = "the detectors' scores (fallback)" if score.is_fallback else f"model {score.producer}"
        events.append(Event(score.created_at, "scored", f"Scored by {by}: risk {score.risk:.2f}"))
    queues = {item.queue_id for item in view.items}
    records = RoutingRecord.objects.filter(conversation=conversation).select_related("policy_version", "queue")
    for record in records:
        if record.queue_id is not None and record.queue_id not in queues:
            continue
        where = f" to {record.queue.name}" if record.queue else ""
        text = f"Routed{where} by rule {record.rule} of policy v{record.policy_version.number} ({record.outcome})"
        events.append(Event(record.created_at, "routed", text))
    for item in view.items:
        text = f"Item {item.pk} opened in {item.queue.name}" + (f" ({item.routed_by})" if item.routed_by else "")
        events.append(Event(item.created_at, "opened", text, item_id=item.pk))
    return events


def _work(view: ConversationView, user: Any) -> list[Event]:
    items = {item.pk: item for item in view.items}
    events = [
        Event(claim.claimed_at, "claimed", "Claimed", _name(claim.reviewer), claim.item_id)
        for claim in ClaimRecord.objects.filter(item__in=list(items)).select_related("reviewer")
    ]
    for decision in view.decisions:
        final = " (final)" if decision.is_final else ""
        text = f"Decided {decision.get_verdict_display()}{final}, severity {decision.severity}"
        events.append(Event(decision.created_at, "decided", text, _name(decision.reviewer), decision.item_id))
    for escalation in view.escalations:
        raised_by = _name(escalation.raised_by) if escalation.raised_by_id else "the SLA sweep"
        events.append(Event(escalation.created_at, "escalated", "Escalated", raised_by, escalation.item_id,
                            escalation.reason))  # fmt: skip
        if escalation.resolved_at is not None:
            verdict = escalation.resolution.get_verdict_display() if escalation.resolution else "—"
            text = f"Escalation resolved: {verdict}"
            events.append(Event(escalation.resolved_at, "resolved", text, _name(escalation.resolved_by)))
    for comment in Comment.objects.filter(item__in=list(items)).select_related("author"):
        edited = " (edited)" if comment.edited_at else ""
        events.append(Event(comment.created_at, "commented", f"Commented{edited}", _name(comment.author),
                            comment.item_id, comment.body))  # fmt: skip
    return events


def _audited(view: ConversationView, user: Any) -> list[Event]:
    items = [str(item.pk) for item in view.items]
    decisions = [str(decision.pk) for decision in view.decisions]
    rows = AuditEvent.objects.filter(
        Q(target_type="reviews.reviewitem", target_id__in=items)
        | Q(target_type="reviews.conversation", target_id=str(view.conversation.pk), action=AuditAction.REVEAL)
        | Q(target_type="reviews.decision", target_id__in=decisions, action=AuditAction.DECISION_EDIT)
    ).select_related("actor")
    events = []
    for row in rows:
        data = row.data if isinstance(row.data, dict) else {}
        actor = _name(row.actor)
        item_id = int(row.target_id) if row.target_type == "reviews.reviewitem" else data.get("item")
        if row.action == AuditAction.SKIP:
            mine_or_open = view.others_visible or row.actor_id == user.pk
            events.append(Event(row.created_at, "skipped", "Skipped", actor, item_id,
                                str(data.get("reason", "")) if mine_or_open else ""))  # fmt: skip
        elif row.action == AuditAction.CLAIM_RETURN:  # handed next, left when its reviewer undid a decision
            events.append(Event(row.created_at, "returned", "Returned to the queue (an undo)", actor, item_id))
        elif row.action == AuditAction.REVEAL:
            turn = data.get("message_index")
            text = f"Revealed turn {turn + 1}" if isinstance(turn, int) else "Revealed blurred content"
            events.append(Event(row.created_at, "revealed", text, actor, item_id))
        elif row.action == AuditAction.DECISION_EDIT:
            changed = ", ".join(sorted(data.get("changed", {}))) or "nothing"
            events.append(Event(row.created_at, "edited", f"Edited a decision ({changed})", actor))
        elif row.action in (AuditAction.TAG_ADD, AuditAction.TAG_REMOVE):
            verb = "Tagged" if row.action == AuditAction.TAG_ADD else "Untagged"
            events.append(Event(row.created_at, "tagged", f"{verb} {data.get('tag', '')}", actor, item_id))
    return events


def _exports(view: ConversationView) -> list[Event]:
    seen = {decision.pk for decision in view.decisions}
    used = {ds: ids for ds, ids in lineage_of_conversation(conversation_id=view.conversation.pk).items()
            if seen.intersection(ids)}  # fmt: skip
    return [
        Event(dataset.created_at, "exported", f"Exported in snapshot {dataset.pk} ({dataset.get_kind_display()})")
        for dataset in Dataset.objects.filter(pk__in=list(used))
    ]


def conversation_history(*, view: ConversationView, user: Any) -> list[Event]:
    """The timeline, oldest first; `view` is `conversation_view(user=user, …)`."""
    events = _start(view) + _work(view, user) + _audited(view, user) + _exports(view)
    order = {kind: n for n, kind in enumerate(("received", "scored", "routed", "opened"))}
    return sorted(events, key=lambda event: (event.at, order.get(event.kind, 9)))
