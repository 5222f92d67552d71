"""Bootstrap from labeled public data: conversations go in through the ingest service, labels
become decisions by a system account, marked as imported so analytics and exports tell them apart."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction

from reviews.imports import LabeledConversation, read_dataset
from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.models import IMPORT_QUEUE, Decision, ItemStatus, Queue, QueueKind, ReviewItem, Source, SourceKind

IMPORT_USER = "oversight-import"
_BATCH = 500


@dataclass
class ImportSummary:
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    labeled: int = 0


def _chunks(rows: Iterable[LabeledConversation], size: int) -> Iterator[list[LabeledConversation]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def import_account() -> User:
    user, created = User.objects.get_or_create(username=IMPORT_USER, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _import_queue() -> Queue:
    queue, _ = Queue.objects.get_or_create(
        slug=IMPORT_QUEUE,
        defaults={
            "name": "Imported labels",
            "kind": QueueKind.TRIAGE,
            "is_active": False,
            "description": "Holds labels imported from existing datasets; never worked by reviewers.",
        },
    )
    return queue


def dataset_import(*, fmt: str, path: Path, source_name: str) -> ImportSummary:
    """Import a labeled file. Idempotent: a second import of the same file adds nothing."""
    source, _ = Source.objects.get_or_create(name=source_name, defaults={"kind": SourceKind.IMPORT})
    account, queue, summary = import_account(), _import_queue(), ImportSummary()
    for chunk in _chunks(read_dataset(fmt, path), _BATCH):
        with transaction.atomic():
            result = conversations_ingest(
                source=source, conversations=[ConversationIn.model_validate(row.conversation) for row in chunk]
            )
            labeled = [(cid, row) for cid, row in zip(result.ids, chunk, strict=True) if row.trainable]
            _record_labels(labeled, account=account, queue=queue)
        summary.read += len(chunk)
        summary.accepted += result.accepted
        summary.duplicates += result.duplicates
        summary.labeled += len(labeled)
    return summary


def _record_labels(labeled: list[tuple[int, LabeledConversation]], *, account: User, queue: Queue) -> None:
    ReviewItem.objects.bulk_create(
        [
            ReviewItem(conversation_id=cid, queue=queue, status=ItemStatus.DONE, reviews_done=1, routed_by="import")
            for cid, _ in labeled
        ],
        ignore_conflicts=True,
    )
    items = dict(
        ReviewItem.objects.filter(queue=queue, conversation_id__in=[cid for cid, _ in labeled]).values_list(
            "conversation_id", "pk"
        )
    )
    Decision.objects.bulk_create(
        [
            Decision(
                item_id=items[cid],
                reviewer=account,
                verdict=row.verdict or "",
                harmful_request=row.harmful,
                categories=row.categories,
                severity=row.severity,
                preferred_response=row.preferred_response,
                is_imported=True,
                is_final=True,
            )
            for cid, row in labeled
        ],
        ignore_conflicts=True,
    )
