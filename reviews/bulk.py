"""Bulk writes any feature may use: plain rows inserted once, whatever runs twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

MAX_PARAMS = 60_000  # placeholders per statement, under PostgreSQL's 65,535


def insert_ignoring_conflicts(model: type[Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert plain rows, skipping any that hit a unique constraint (safe to run twice).

    PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING;
    no model instances and no SQL with thousands of placeholders. Elsewhere: bulk_create.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, ignore_conflicts=True, batch_size=MAX_PARAMS // len(columns))
        return
    table, names = model._meta.db_table, ", ".join(columns)
    stage = f"stage_{table}"
    with transaction.atomic(), connection.cursor() as cursor:
        # Constant identifiers from the model, never user input.
        cursor.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
        with cursor.cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING")  # noqa: S608
        cursor.execute(f"DROP TABLE {stage}")
