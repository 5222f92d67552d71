"""Building a dataset snapshot: create the row, then stream decisions to files in a Celery task.

Reads go by keyset chunks of conversation ids (no transaction or cursor held open across
chunks), rows are written one at a time to local files, and only finished files reach the
storage backend. The Dataset row carries the work state: progress, a heartbeat, a cancel flag.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import psycopg
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from reviews import taskqueue
from reviews.audit import audit_record
from reviews.datasets.archive import archive_path, archive_write
from reviews.datasets.card import card_render, license_clean
from reviews.datasets.filters import DatasetError, DatasetFilters, SplitKey, split_ratios_parse, splitter
from reviews.datasets.lineage import lineage_clear, lineage_record
from reviews.datasets.read_ahead import read_ahead
from reviews.datasets.rows import AS_TEXT, COLUMNS, ORDER, Judged, Skip, row_builder
from reviews.datasets.settled import settled_row
from reviews.datasets.writers import EXTENSIONS, RowWriter, schema_for
from reviews.live.broadcast import dataset_progressed
from reviews.models import (
    AuditAction,
    Conversation,
    Dataset,
    DatasetFormat,
    DatasetKind,
    DatasetStatus,
    Decision,
    PolicyVersion,
    ReviewItem,
    Source,
)
from reviews.routing.taxonomy import category_merge_map, taxonomy_version
from reviews.scoring.training_data import label_names

CHUNK = 5_000  # conversations per read: a few MB of rows, a few short queries
BOUNDS_AHEAD = 20  # chunk bounds found per query
PUSH_EVERY = 1.0  # seconds between progress pushes to the Datasets page
HEARTBEAT_TIMEOUT = timedelta(minutes=10)  # a running build silent this long is taken over by the next run
STORAGE_DIR = "datasets"
_CONVERSATION = itemgetter(COLUMNS.index("item__conversation_id"))


class _Cancelled(Exception):
    pass


def dataset_create(
    *,
    kind: str,
    format: str = DatasetFormat.JSONL,
    filters: Mapping[str, Any] | None = None,
    seed: int = 0,
    split_ratios: Mapping[str, Any] | None = None,
    license: str = "",
    actor: Any = None,
    source: Source | None = None,
    enqueue: bool = True,
) -> Dataset:
    """Validate and record a snapshot request; the build runs on commit (unless `enqueue` is False).

    `actor` is the person asking (a session), `source` the export client asking with its token."""
    if kind not in DatasetKind.values:
        raise DatasetError(f"Unknown kind {kind!r}; expected one of: {', '.join(DatasetKind.values)}.")
    if format not in DatasetFormat.values:
        raise DatasetError(f"Unknown format {format!r}; expected one of: {', '.join(DatasetFormat.values)}.")
    if not isinstance(seed, int) or seed < 0:
        raise DatasetError("Seed must be a non-negative integer.")
    parsed = DatasetFilters.parse(filters)
    ratios = split_ratios_parse(split_ratios)
    clean_license = license_clean(license)
    with transaction.atomic():
        dataset = Dataset.objects.create(
            kind=kind,
            format=format,
            filters=parsed.as_json(),
            seed=seed,
            split_ratios=ratios,
            license=clean_license,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_by_source=source,
        )
        client = {"client": source.name} if source is not None else {}
        audit_record(actor=actor, action=AuditAction.EXPORT, target=dataset, kind=kind, format=format, **client)
        if enqueue:
            transaction.on_commit(lambda: taskqueue.enqueue(taskqueue.EXPORT_TASK, dataset.pk))
    return dataset


def dataset_cancel(*, dataset: Dataset, actor: Any = None) -> Dataset:
    """A pending build is cancelled at once; a running one stops at its next chunk."""
    Dataset.objects.filter(pk=dataset.pk, status=DatasetStatus.PENDING).update(
        status=DatasetStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    Dataset.objects.filter(pk=dataset.pk, status=DatasetStatus.RUNNING).update(cancel_requested=True)
    dataset.refresh_from_db()
    dataset_progressed(dataset=dataset)
    return dataset


def _claim(dataset_id: int) -> bool:
    """Only one run builds a snapshot; a finished one is never rebuilt. A silent running one is taken over."""
    now = timezone.now()
    claimable = Q(status=DatasetStatus.PENDING) | Q(
        status=DatasetStatus.RUNNING, heartbeat_at__lt=now - HEARTBEAT_TIMEOUT
    )
    claimed = Dataset.objects.filter(claimable, pk=dataset_id, cancel_requested=False).update(
        status=DatasetStatus.RUNNING, started_at=now, heartbeat_at=now, progress=0, error=""
    )
    return claimed == 1


@dataclass
class _Stats:
    """Label balance, counted per row with one tuple-keyed increment and expanded once at the end."""

    keys: Counter[tuple[Any, ...]] = field(default_factory=Counter)  # (split, verdict, harmful, final, policy)
    categories: Counter[tuple[str, ...]] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    agreement_sum: float = 0.0
    unanimous: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, split: str, judged: Judged) -> None:
        self.keys[split, judged.verdict, judged.harmful, judged.is_final, judged.policy_version] += 1
        if judged.categories:
            self.categories[judged.categories] += 1
        self.agreement_sum += judged.agreement
        self.unanimous += judged.agreement == 1.0

    def splits(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for key, n in self.keys.items():
            counts[key[0]] += n
        return counts

    def distribution(self, kind: str, labels: list[str]) -> dict[str, Any]:
        verdicts: Counter[str] = Counter()
        by_split: dict[str, Counter[str]] = {}
        policies: Counter[str] = Counter()
        harmful = final = 0
        for (split, verdict, is_harmful, is_final, policy), n in self.keys.items():
            verdicts[verdict or "(none)"] += n
            by_split.setdefault(split, Counter())[verdict or "(none)"] += n
            policies[str(policy or "-")] += n
            harmful += n * is_harmful
            final += n * is_final
        categories: Counter[str] = Counter()
        for slugs, n in self.categories.items():
            for slug in slugs:
                categories[slug] += n
        rows = sum(verdicts.values())
        result: dict[str, Any] = {
            "verdicts": dict(verdicts.most_common()),
            "categories": dict(categories.most_common()),
            "by_split": {name: dict(counts) for name, counts in by_split.items()},
            "harmful": harmful,
            "final_decisions": final,
            "agreement": {"mean": round(self.agreement_sum / rows, 4) if rows else None, "unanimous": self.unanimous},
            "policy_versions": dict(policies),
        }
        if kind == DatasetKind.CLASSIFIER:  # the row's labels are its categories (active ones) and harmful
            result["labels"] = {label: categories.get(label, 0) for label in labels}
            if labels:
                result["labels"][labels[-1]] = harmful
        return result


_BOUNDS = """
SELECT id FROM (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM {table} WHERE id > %s ORDER BY id LIMIT %s
) AS ahead WHERE n %% %s = 0 ORDER BY id
"""


def _bounds(last: int) -> list[int]:
    """The upper conversation ids of the next BOUNDS_AHEAD chunks after `last`, in one index-only scan
    (fewer where fewer conversations follow: the rest is one last chunk)."""
    with connection.cursor() as cursor:
        cursor.execute(_BOUNDS.format(table=Conversation._meta.db_table), [last, CHUNK * BOUNDS_AHEAD, CHUNK])
        return [bound for (bound,) in cursor.fetchall()]


def _chunk_ranges() -> Iterator[tuple[int, int | None]]:
    """(after, through) conversation ids of each chunk; the last chunk is open-ended."""
    last = 0
    while True:
        bounds = _bounds(last)
        for bound in bounds:
            yield last, bound
            last = bound
        if len(bounds) < BOUNDS_AHEAD:
            yield last, None
            return


def _chunks(filters: DatasetFilters, seed: int) -> Iterator[list[tuple[Any, ...]]]:
    """The decisions (those the database filters keep) of each keyset chunk of conversation ids, in ORDER.

    A chunk is CHUNK consecutive conversation ids; its decisions come in one query, through their item index,
    from the chunk's items (through their conversation index). No cursor or transaction outlives a chunk,
    and no query scans all decisions.
    """
    base = filters.decisions()
    for last, bound in _chunk_ranges():
        items = ReviewItem.objects.filter(conversation_id__gt=last)
        chunk = base.filter(item__conversation_id__gt=last)
        if bound is not None:
            items = items.filter(conversation_id__lte=bound)
            chunk = chunk.filter(item__conversation_id__lte=bound)
        # The items' range twice (here and in `chunk`): alone, a planner expects a few thousand decisions and
        # scans the whole decision table for them; joined to this subquery it expects a few and goes through
        # the item index on both sides.
        chunk = chunk.filter(item_id__in=items.values("pk"))
        chunk = chunk.annotate(**AS_TEXT, split_key=SplitKey(seed))
        yield list(_rows(chunk.order_by(*ORDER).values_list(*COLUMNS)))


def _groups(filters: DatasetFilters, seed: int) -> Iterator[list[tuple[Any, ...]]]:
    """Each conversation's decisions, and an empty group at the end of each chunk (a point to report progress
    and look for a cancel). On PostgreSQL the next chunk is read while this one is written."""
    chunks = _chunks(filters, seed)
    for rows in read_ahead(chunks) if connection.vendor == "postgresql" else chunks:
        for _, group in groupby(rows, key=_CONVERSATION):  # in ORDER: a conversation's decisions are adjacent
            yield list(group)
        yield []


def _rows(query: QuerySet[Decision, tuple[Any, ...]]) -> Iterable[tuple[Any, ...]]:
    """The query's rows as plain tuples. On PostgreSQL: one raw cursor in binary format, which psycopg loads
    in C (a third less client CPU than text, where Django's timestamptz loader is Python), and no per-row
    Django converters; the values are those `values_list` gives (aware datetimes: the session is in UTC)."""
    if connection.vendor != "postgresql":
        return query
    sql, params = query.query.sql_with_params()
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # Django's cursor factory binds client-side, text only
        cursor.format = psycopg.pq.Format.BINARY
        cursor.execute(sql, params)
        return cursor.fetchall()


def dataset_build(*, dataset_id: int) -> Dataset:
    """Build the snapshot; safe to run twice (a second run finds it claimed or finished and does nothing)."""
    if not _claim(dataset_id):
        return Dataset.objects.get(pk=dataset_id)
    dataset = Dataset.objects.get(pk=dataset_id)
    lineage_clear(dataset=dataset)  # a taken-over run starts over
    try:
        with tempfile.TemporaryDirectory(prefix=f"dataset-{dataset.pk}-") as tmp:
            _write(dataset, Path(tmp))
    except _Cancelled:
        lineage_clear(dataset=dataset)
        Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.CANCELLED, finished_at=timezone.now())
    except Exception as exc:
        lineage_clear(dataset=dataset)
        Dataset.objects.filter(pk=dataset.pk).update(
            status=DatasetStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        dataset.refresh_from_db()
        dataset_progressed(dataset=dataset)
        raise
    dataset.refresh_from_db()
    dataset_progressed(dataset=dataset)
    return dataset


def _write(dataset: Dataset, tmp: Path) -> None:
    filters = DatasetFilters.parse(dataset.filters)
    ratios: dict[str, float] = dataset.split_ratios or split_ratios_parse(None)
    labels = label_names() if dataset.kind == DatasetKind.CLASSIFIER else []
    schema = schema_for(dataset.kind, labels)
    ext = EXTENSIONS[DatasetFormat(dataset.format)]
    total = filters.decisions().values("item__conversation_id").distinct().count()
    Dataset.objects.filter(pk=dataset.pk).update(total=total)
    dataset.total = total
    writers = {name: RowWriter(tmp / f"{name}.{ext}", dataset.format, schema) for name in ratios}
    stats, read = _write_rows(dataset, filters, writers, labels=labels, ratios=ratios)
    hashes = {name: writer.close() for name, writer in writers.items()}
    files = {}
    prefix = f"{STORAGE_DIR}/{dataset.pk}"
    for name, writer in writers.items():
        path = _store(f"{prefix}/{name}.{ext}", writer.path)
        files[name] = {"path": path, "sha256": hashes[name], "rows": writer.rows}
        files[name]["bytes"] = writer.path.stat().st_size
    active = PolicyVersion.objects.filter(is_active=True).values_list("number", flat=True).first()
    splits = stats.splits()
    dataset.row_count = sum(splits.values())
    dataset.split_counts = {name: splits.get(name, 0) for name in ratios}
    dataset.label_distribution = stats.distribution(dataset.kind, labels)
    dataset.skipped = dict(stats.skipped)
    dataset.files = files
    dataset.taxonomy_version = taxonomy_version()
    dataset.policy_version = f"v{active}" if active else ""
    dataset.progress = read
    dataset.card = card_render(dataset, labels=labels)
    card_path = tmp / "README.md"
    card_path.write_text(dataset.card, encoding="utf-8")
    _store(f"{prefix}/README.md", card_path)
    _store(archive_path(dataset), archive_write(dataset, folder=tmp, files=files))
    dataset.status, dataset.finished_at = DatasetStatus.READY, timezone.now()
    dataset.save(
        update_fields=[
            "row_count",
            "split_counts",
            "label_distribution",
            "skipped",
            "files",
            "taxonomy_version",
            "policy_version",
            "progress",
            "card",
            "status",
            "finished_at",
        ]
    )


def _write_rows(
    dataset: Dataset,
    filters: DatasetFilters,
    writers: Mapping[str, RowWriter],
    *,
    labels: list[str],
    ratios: Mapping[str, float],
) -> tuple[_Stats, int]:
    """Every row to its split's writer, chunk by chunk: lineage, progress, pushes and the cancel check at
    the end of each. Returns the label balance and how many conversations were read."""
    merged = category_merge_map()
    split_of = splitter(seed=dataset.seed, ratios=ratios)
    row_of, now = row_builder(dataset.kind, labels), timezone.now()
    stats, read, pushed = _Stats(), 0, 0.0
    used: list[int] = []
    first = last = 0  # conversation ids of the chunk's rows
    for group in _groups(filters, dataset.seed):
        if not group:  # end of a chunk
            lineage_record(dataset=dataset, first_conversation_id=first, last_conversation_id=last, decision_ids=used)
            used, first = [], 0
            beat = Dataset.objects.filter(pk=dataset.pk, cancel_requested=False)
            if not beat.update(progress=read, heartbeat_at=timezone.now()):  # one statement: progress, or a cancel
                Dataset.objects.filter(pk=dataset.pk).update(progress=read)
                for writer in writers.values():
                    writer.close()
                raise _Cancelled
            if time.monotonic() - pushed >= PUSH_EVERY:
                dataset.progress, pushed = read, time.monotonic()
                dataset_progressed(dataset=dataset)
            continue
        read += 1
        try:
            judged, row = settled_row(group, filters=filters, merged=merged, row_of=row_of, now=now)
        except Skip as skip:
            stats.skipped[skip.reason] += 1
            continue
        split = split_of(judged.split_key)
        writers[split].write(row)
        stats.add(split, judged)
        used.extend(judged.decision_ids)
        first, last = first or judged.conversation_id, judged.conversation_id
    return stats, read


def _store(name: str, path: Path) -> str:
    """Save a finished local file under `name`, replacing what a failed earlier run left there."""
    if default_storage.exists(name):
        default_storage.delete(name)
    with path.open("rb") as handle:
        return default_storage.save(name, File(handle, name=Path(name).name))
