"""Snapshots are immutable: when a decision they used is edited or superseded, they are marked stale."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from reviews.datasets.lineage import lineage_of_conversation
from reviews.models import Dataset, Decision

EDITED = "edited"
SUPERSEDED = "superseded by a final decision"


def dataset_mark_stale(*, decision: Decision, edited: bool = False) -> list[int]:
    """Call in the transaction of the change: a new final decision (adjudication, escalation) or an edit.

    Marks every built or building snapshot that holds decisions of the same conversation, and appends
    to its `stale_changes` which of its decisions changed. Returns the snapshot ids marked.
    A new non-final review changes no snapshot.
    """
    if not (edited or decision.is_final):
        return []
    conversation_id = decision.item.conversation_id
    used = lineage_of_conversation(conversation_id=conversation_id)
    change = {
        "at": timezone.now().isoformat(),
        "change": EDITED if edited else SUPERSEDED,
        "conversation_id": conversation_id,
        "decision_id": decision.pk,
        "verdict": decision.verdict,
    }
    with transaction.atomic():
        for dataset in Dataset.objects.select_for_update().filter(pk__in=used).order_by("pk"):
            dataset.stale_changes = [*dataset.stale_changes, {**change, "decision_ids": sorted(used[dataset.pk])}]
            dataset.is_stale = True
            dataset.save(update_fields=["stale_changes", "is_stale"])
    return sorted(used)
