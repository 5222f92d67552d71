"""Inserting an ingest batch with one round trip per table.

On PostgreSQL this is `COPY` straight from the validated payloads: several times
faster than a multi-row INSERT of JSON-heavy rows, because nothing is quoted into
SQL and no model instances are built. Ids are reserved from the table's sequence
first, so flags point at their conversation without reading anything back.
Elsewhere (SQLite), bulk_create.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import JSONField, Model
from psycopg.types.json import Jsonb

from reviews.models import Conversation, Flag, ScoringStatus
from reviews.schemas import ConversationIn

# PostgreSQL caps a statement at 65,535 parameters; stay well below it.
_MAX_PARAMS = 60_000
_CONVERSATION_COLUMNS = (
    "id",
    "source_id",
    "external_id",
    "model_name",
    "messages",
    "metadata",
    "content_length",
    "received_at",
    "scoring_status",
    "scoring_attempts",
    "scoring_error",
)
_FLAG_COLUMNS = ("conversation_id", "detector", "category", "score", "explanation", "message_index")


def _messages(payload: ConversationIn) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in payload.messages]


def stored_ids(*, source_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    """external_id → id of those already stored for this source."""
    if connection.vendor == "postgresql":
        # One array parameter, not a thousand placeholders: far cheaper to build, bind and plan.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id, id FROM {Conversation._meta.db_table} "  # noqa: S608  (a constant table name)
                "WHERE source_id = %s AND external_id = ANY(%s)",
                [source_id, list(external_ids)],
            )
            return dict(cursor.fetchall())
    rows = Conversation.objects.filter(source_id=source_id, external_id__in=external_ids)
    return dict(rows.values_list("external_id", "id"))


def insert_batch(*, source_id: int, payloads: Sequence[ConversationIn], received_at: datetime) -> list[int]:
    """Insert new conversations and their flags; returns their ids in the order given."""
    if not payloads:
        return []
    if connection.vendor == "postgresql":
        return _copy(source_id, payloads, received_at)
    rows = [
        Conversation(
            source_id=source_id,
            external_id=p.external_id,
            model_name=p.model,
            messages=_messages(p),
            metadata=p.metadata,
            content_length=sum(len(m.content) for m in p.messages),
            received_at=received_at,
        )
        for p in payloads
    ]
    Conversation.objects.bulk_create(rows, batch_size=_MAX_PARAMS // len(_CONVERSATION_COLUMNS))
    flags = [
        Flag(conversation_id=row.pk, **f.model_dump()) for row, p in zip(rows, payloads, strict=True) for f in p.flags
    ]
    Flag.objects.bulk_create(flags, batch_size=_MAX_PARAMS // len(_FLAG_COLUMNS))
    return [row.pk for row in rows]


def _copy(source_id: int, payloads: Sequence[ConversationIn], received_at: datetime) -> list[int]:
    table, flag_table = Conversation._meta.db_table, Flag._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(payloads)]
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        pending = ScoringStatus.PENDING.value
        with raw.copy(f"COPY {table} ({', '.join(_CONVERSATION_COLUMNS)}) FROM STDIN") as copy:
            for pk, p in zip(ids, payloads, strict=True):
                length = sum(len(m.content) for m in p.messages)
                messages, metadata = json.dumps(_messages(p)), json.dumps(p.metadata)
                row = (pk, source_id, p.external_id, p.model, messages, metadata, length, received_at, pending, 0, "")
                copy.write_row(row)
        with raw.copy(f"COPY {flag_table} ({', '.join(_FLAG_COLUMNS)}) FROM STDIN") as copy:
            for pk, p in zip(ids, payloads, strict=True):
                for f in p.flags:
                    copy.write_row((pk, f.detector, f.category, f.score, f.explanation, f.message_index))
    return ids


def insert_ignoring_conflicts(model: type[Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert plain rows, skipping any that hit a unique constraint (safe to run twice).

    PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING;
    no model instances and no SQL with thousands of placeholders. Elsewhere: bulk_create.
    JSON columns take Python values.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, ignore_conflicts=True, batch_size=_MAX_PARAMS // len(columns))
        return
    _staged_insert(model, columns, rows, "ON CONFLICT DO NOTHING")


def insert_updating_conflicts(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    unique: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert plain rows; a row that hits the unique constraint on `unique` overwrites the `update` columns of
    the stored one instead (safe to run twice). The same paths as insert_ignoring_conflicts."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=list(unique),
            update_fields=list(update),
            batch_size=_MAX_PARAMS // len(columns),
        )
        return
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in update)
    _staged_insert(model, columns, rows, f"ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {assignments}")


def _staged_insert(model: type[Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]], conflict: str) -> None:
    table, names = model._meta.db_table, ", ".join(columns)
    stage = f"stage_{table}"
    json_columns = {field.column for field in model._meta.concrete_fields if isinstance(field, JSONField)}
    as_json = [index for index, column in enumerate(columns) if column in json_columns]
    with transaction.atomic(), connection.cursor() as cursor:
        # Constant identifiers from the model, never user input.
        cursor.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
        with cursor.cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Jsonb(v) if i in as_json and v is not None else v for i, v in enumerate(row)])
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}")  # noqa: S608
        cursor.execute(f"DROP TABLE {stage}")
