"""Lineage: which decisions each snapshot used, packed per chunk of conversations (`DatasetLineage`)."""

from __future__ import annotations

from bisect import bisect_left

from reviews.models import Dataset, DatasetLineage, DatasetStatus, Decision
from reviews.models.datasets import pack_decision_ids, unpack_decision_ids


def lineage_record(
    *, dataset: Dataset, first_conversation_id: int, last_conversation_id: int, decision_ids: list[int]
) -> None:
    """Record one chunk's decisions; called as each chunk's rows are written."""
    if decision_ids:
        DatasetLineage.objects.create(
            dataset=dataset,
            first_conversation_id=first_conversation_id,
            last_conversation_id=last_conversation_id,
            decision_ids=pack_decision_ids(decision_ids),
        )


def lineage_clear(*, dataset: Dataset) -> None:
    DatasetLineage.objects.filter(dataset=dataset).delete()


def lineage_decision_ids(*, dataset: Dataset) -> list[int]:
    """Every decision the snapshot used, ascending."""
    return dataset.decision_ids()


def lineage_of_conversation(*, conversation_id: int) -> dict[int, list[int]]:
    """Snapshot id → the decisions of this conversation it used (failed and cancelled builds left out)."""
    mine = sorted(Decision.objects.filter(item__conversation_id=conversation_id).values_list("pk", flat=True))
    chunks = (
        DatasetLineage.objects.filter(
            last_conversation_id__gte=conversation_id, first_conversation_id__lte=conversation_id
        )
        .exclude(dataset__status__in=[DatasetStatus.FAILED, DatasetStatus.CANCELLED])
        .values_list("dataset_id", "decision_ids")
    )
    used: dict[int, list[int]] = {}
    for dataset_id, blob in chunks:
        ids = unpack_decision_ids(blob)
        found = [pk for pk in mine if (at := bisect_left(ids, pk)) < len(ids) and ids[at] == pk]
        if found:
            used.setdefault(dataset_id, []).extend(found)
    return used
