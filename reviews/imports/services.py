"""Bootstrap from labeled public data: conversations go in through the ingest service, labels
become decisions by a system account, marked as imported so analytics and exports tell them apart."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction
from pydantic import ValidationError

from reviews.bulk import insert_ignoring_conflicts, insert_updating_conflicts
from reviews.imports import ImportFormatError, LabeledConversation, read_dataset
from reviews.imports.reference import DATASET as REFERENCE_FORMAT
from reviews.imports.reference import REFERENCE_FILE, USER_TURNS_FILE
from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.models import IMPORT_QUEUE, Decision, ItemStatus, Queue, QueueKind, ReviewItem, Source, SourceKind

IMPORT_USER = "oversight-import"
# the sources Oversight's reference files are filed under (apart: the benign requests are a one-sided set, whose
# weight `worker.targets.request_weights` balances, and the user turns give both labels)
REFERENCE_SOURCE = "Oversight reference requests"
REFERENCE_TURNS_SOURCE = "Oversight reference user turns"
REFERENCE_SOURCES = (REFERENCE_SOURCE, REFERENCE_TURNS_SOURCE)
_BATCH = 500
ITEM_COLUMNS = (
    "conversation_id",
    "queue_id",
    "status",
    "priority",
    "risk",
    "reviews_required",
    "reviews_done",
    "routed_by",
)
DECISION_COLUMNS = (
    "item_id",
    "reviewer_id",
    "verdict",
    "harmful_request",
    "categories",
    "severity",
    "rationale",
    "preferred_response",
    "time_spent_seconds",
    "is_final",
    "is_imported",
    "targets",
)


@dataclass
class ImportSummary:
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    labeled: int = 0

    def __add__(self, other: ImportSummary) -> ImportSummary:
        return ImportSummary(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


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
    """Import a labeled file. Idempotent: a second import of the same file adds nothing.

    The whole file is read and validated before anything is written, so a malformed row (ImportFormatError naming
    the file and row) imports nothing. Then batches of `_BATCH` go through the ingest service's bulk path, each
    with its labels, in one transaction per batch.
    """
    rows = list(read_dataset(fmt, path))
    payloads = [_payload(row, path) for row in rows]
    source, _ = Source.objects.get_or_create(name=source_name, defaults={"kind": SourceKind.IMPORT})
    account, queue, summary = import_account(), _import_queue(), ImportSummary()
    for start in range(0, len(rows), _BATCH):
        chunk = rows[start : start + _BATCH]
        with transaction.atomic():
            result = conversations_ingest(source=source, conversations=payloads[start : start + _BATCH])
            labeled = [(cid, row) for cid, row in zip(result.ids, chunk, strict=True) if row.trainable or row.targets]
            _record_labels(labeled, account=account, queue=queue)
        summary.read += len(chunk)
        summary.accepted += result.accepted
        summary.duplicates += result.duplicates
        summary.labeled += len(labeled)
    return summary


def reference_import() -> ImportSummary:
    """Import the reference conversations Oversight ships (`reviews/imports/reference.py`), each file under its own
    source; idempotent, so training calls it every time and only an edited file adds rows."""
    files = zip((REFERENCE_FILE, USER_TURNS_FILE), REFERENCE_SOURCES, strict=True)
    return sum((dataset_import(fmt=REFERENCE_FORMAT, path=p, source_name=s) for p, s in files), ImportSummary())


def _payload(row: LabeledConversation, path: Path) -> ConversationIn:
    try:
        return ConversationIn.model_validate(row.conversation)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ImportFormatError(
            f"{path.name}: conversation {row.conversation.get('external_id')!r} is not valid: {where}: {error['msg']}"
        ) from exc


def _decision_row(item_id: int, row: LabeledConversation, account: User) -> tuple[object, ...]:
    """An imported label, as DECISION_COLUMNS. `targets` holds the verdict contract's labels; the legacy fields
    (verdict, harmful_request, categories) only for rows whose absolute labels may train the head (`trainable`):
    a row with only relative targets (hh-rlhf's pairs) leaves them empty, and training and exports skip it."""
    legacy = row.trainable
    return (
        item_id,
        account.pk,
        (row.verdict or "") if legacy else "",
        row.harmful if legacy else None,
        row.categories if legacy else [],
        row.severity,
        "",  # rationale
        row.preferred_response,
        0,  # time_spent_seconds
        True,  # is_final
        True,  # is_imported
        row.targets or None,
    )


def _record_labels(labeled: list[tuple[int, LabeledConversation]], *, account: User, queue: Queue) -> None:
    """Through the bulk path (COPY on PostgreSQL): a done item in the import queue and its decision per row.
    A re-import fills `targets` on decisions imported before they existed; nothing else changes."""
    items = [(cid, queue.pk, ItemStatus.DONE.value, 0.0, 0.0, 1, 1, "import") for cid, _ in labeled]
    insert_ignoring_conflicts(ReviewItem, ITEM_COLUMNS, items)
    stored = dict(
        ReviewItem.objects.filter(queue=queue, conversation_id__in=[cid for cid, _ in labeled]).values_list(
            "conversation_id", "pk"
        )
    )
    decisions = [_decision_row(stored[cid], row, account) for cid, row in labeled]
    insert_updating_conflicts(
        Decision, DECISION_COLUMNS, decisions, unique=("item_id", "reviewer_id"), update=("targets",)
    )
