"""Opening a snapshot's file for download; every download is an audit event."""

from __future__ import annotations

from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import transaction

from reviews.audit import audit_record
from reviews.datasets.archive import ARCHIVE, archive_path
from reviews.datasets.filters import DatasetError
from reviews.models import AuditAction, Dataset, DatasetStatus

CARD = "card"


def dataset_open(*, dataset: Dataset, split: str, actor: Any = None, client: str = "") -> tuple[IO[bytes], str]:
    """The file of `split` (the card: split "card"; everything in one zip: split "archive") opened for reading,
    and its download name: the name the card's `configs` give it (`train.jsonl`, `README.md`).

    Access is the caller's to check; this records who downloaded what.
    """
    if dataset.status != DatasetStatus.READY:
        raise DatasetError(f"Dataset {dataset.pk} is {dataset.status}; only a ready snapshot can be downloaded.")
    if split == CARD:
        path = f"datasets/{dataset.pk}/README.md"
    elif split == ARCHIVE:
        path = archive_path(dataset)
    elif split in dataset.files:
        path = dataset.files[split]["path"]
    else:
        raise DatasetError(f"Dataset {dataset.pk} has no split {split!r}.")
    handle = default_storage.open(path, "rb")
    name = path.rsplit("/", 1)[-1]
    with transaction.atomic():
        audit_record(actor=actor, action=AuditAction.DOWNLOAD, target=dataset, split=split, client=client)
    return handle, name
