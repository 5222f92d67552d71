"""Bulk writes any feature may use: plain rows inserted once, whatever runs twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import JSONField, Model
from psycopg.types.json import Jsonb

MAX_PARAMS = 60_000  # placeholders per statement, under PostgreSQL's 65,535


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
        model._default_manager.bulk_create(objects, ignore_conflicts=True, batch_size=MAX_PARAMS // len(columns))
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
            batch_size=MAX_PARAMS // len(columns),
        )
        return
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in update)
    _staged_insert(model, columns, rows, f"ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {assignments}")


def _staged_insert(model: type[Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]], conflict: str) -> None:
    table, names = model._meta.db_table, ", ".join(columns)
    stage = f"stage_{table}"
    json_columns = {field.column for field in model._meta.concrete_fields if isinstance(field, JSONField)}
    as_json = [index for index, column in enumerate(columns) if column in json_columns]
    with transaction.atomic(), connection.wrap_database_errors, connection.cursor() as cursor:
        # Constant identifiers from the model, never user input.
        cursor.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
        with cursor.cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Jsonb(v) if i in as_json and v is not None else v for i, v in enumerate(row)])
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}")  # noqa: S608
        cursor.execute(f"DROP TABLE {stage}")
