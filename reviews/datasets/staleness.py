"""Snapshots are immutable; one is stale when a rebuild would differ.

On every decision's change (a new review, a senior's ruling, an edit) the conversation's row is made again under
each snapshot's settings and compared with the row the snapshot holds (made again from the decisions its lineage
recorded). A new review that changes `agreement`, settles a disputed item or takes a row out marks it; a review
that changes nothing does not. An edit of a decision a snapshot used always marks it (its old text is gone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q, Value
from django.utils import timezone

from reviews.datasets.filters import DatasetFilters
from reviews.datasets.lineage import lineage_of_conversation
from reviews.datasets.rows import AS_TEXT, AT, COLUMNS, ORDER, Row, Skip, judge, row_builder
from reviews.datasets.settled import label_source, settled_row
from reviews.models import Dataset, DatasetKind, DatasetStatus, Decision, gold_copy
from reviews.routing.taxonomy import category_merge_map
from reviews.scoring.training_data import label_names

EDITED = "edited"
CHANGED = "a rebuild would differ"
SUPERSEDED = "superseded by a final decision"

Group = Sequence[tuple[Any, ...]]


def _group(conversation_id: int) -> list[tuple[Any, ...]]:
    """The conversation's decisions as the builder reads them (the split key is unused here)."""
    query = Decision.objects.filter(item__conversation_id=conversation_id).exclude(verdict="", harmful_request=None)
    query = query.exclude(gold_copy("item__conversation_id"))
    query = query.annotate(**AS_TEXT, split_key=Value(""))
    return list(query.order_by(*ORDER).values_list(*COLUMNS))


def _admitted(group: Group, filters: DatasetFilters) -> list[tuple[Any, ...]]:
    return [
        d
        for d in group
        if filters.admits(
            decided_at=d[AT["created_at"]],
            queue=d[AT["item__queue__slug"]],
            source=d[AT["item__conversation__source__name"]],
            policy_version=d[AT["item__policy_version__number"]],
        )
    ]


def rebuilt_row(dataset: Dataset, group: Group, *, labels: Sequence[str]) -> Row | None:
    """The conversation's row if the snapshot were built now (None where it would have none)."""
    filters = DatasetFilters.parse(dataset.filters)
    admitted = _admitted(group, filters)
    if not admitted:
        return None
    row_of = row_builder(dataset.kind, labels)
    try:
        return settled_row(admitted, filters=filters, merged=category_merge_map(), row_of=row_of, now=timezone.now())[1]
    except Skip:
        return None


def held_row(dataset: Dataset, group: Group, used: Sequence[int], *, labels: Sequence[str]) -> Row | None:
    """The row the snapshot holds, made again from the decisions it used (None where it holds none)."""
    taken = [d for d in group if d[AT["pk"]] in set(used)]
    if not taken:
        return None
    try:
        return row_builder(dataset.kind, labels)(judge(taken, category_merge_map(), label_source(taken)))
    except Skip:
        return None


def dataset_mark_stale(*, decision: Decision, edited: bool = False) -> list[int]:
    """Call in the transaction of the change, after it is saved. Marks every built or building snapshot whose
    rebuild would differ on this conversation, and appends to its `stale_changes` what changed. Returns the
    snapshot ids marked."""
    conversation_id = decision.item.conversation_id
    used = lineage_of_conversation(conversation_id=conversation_id)
    group = _group(conversation_id)
    change = {
        "at": timezone.now().isoformat(),
        "change": EDITED if edited else (SUPERSEDED if decision.is_final else CHANGED),
        "conversation_id": conversation_id,
        "decision_id": decision.pk,
        "verdict": decision.verdict,
    }
    candidates = Q(pk__in=used) | Q(status=DatasetStatus.READY, is_stale=False)
    marked = []
    with transaction.atomic():
        datasets = Dataset.objects.select_for_update().filter(candidates).order_by("pk")
        for dataset in datasets.exclude(status__in=[DatasetStatus.FAILED, DatasetStatus.CANCELLED]):
            labels = label_names() if dataset.kind == DatasetKind.CLASSIFIER else []
            mine = used.get(dataset.pk, [])
            differs = edited and decision.pk in mine
            if not differs:
                differs = held_row(dataset, group, mine, labels=labels) != rebuilt_row(dataset, group, labels=labels)
            if differs:
                dataset.stale_changes = [*dataset.stale_changes, {**change, "decision_ids": sorted(mine)}]
                dataset.is_stale = True
                dataset.save(update_fields=["stale_changes", "is_stale"])
                marked.append(dataset.pk)
    return marked
