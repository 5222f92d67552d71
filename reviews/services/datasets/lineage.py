"""Lineage: which decisions each snapshot used, packed per chunk of conversations (`DatasetLineage`)."""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable

from reviews.models import Dataset, DatasetLineage, DatasetStatus, Decision


def _pack(decision_ids: Iterable[int]) -> bytes:
    packed = array("q", sorted(decision_ids))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def _unpack(blob: bytes | memoryview) -> array[int]:
    ids = array("q")
    ids.frombytes(bytes(blob))
    if sys.byteorder == "big":
        ids.byteswap()
    return ids


def lineage_record(
    *, dataset: Dataset, first_conversation_id: int, last_conversation_id: int, decision_ids: list[int]
) -> None:
    """Record one chunk's decisions; called as each chunk's rows are written."""
    if decision_ids:
        DatasetLineage.objects.create(
            dataset=dataset,
            first_conversation_id=first_conversation_id,
            last_conversation_id=last_conversation_id,
            decision_ids=_pack(decision_ids),
        )


def lineage_clear(*, dataset: Dataset) -> None:
    DatasetLineage.objects.filter(dataset=dataset).delete()


def lineage_decision_ids(*, dataset: Dataset) -> list[int]:
    """Every decision the snapshot used, ascending."""
    ids: list[int] = []
    for blob in DatasetLineage.objects.filter(dataset=dataset).values_list("decision_ids", flat=True):
        ids.extend(_unpack(blob))
    return sorted(ids)


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
        ids = _unpack(blob)
        found = [pk for pk in mine if (at := bisect_left(ids, pk)) < len(ids) and ids[at] == pk]
        if found:
            used.setdefault(dataset_id, []).extend(found)
    return used
