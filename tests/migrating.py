"""Data migration tests: the schema as it was before a migration, migrated forward again afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@contextmanager
def schema_at(node: tuple[str, str]) -> Iterator[Any]:
    """The app registry as of `node`, with the database migrated there; migrated to the latest again whatever
    the test does, so the tests after it find the schema they expect."""
    executor = MigrationExecutor(connection)
    executor.migrate([node])
    try:
        yield executor.loader.project_state([node]).apps
    finally:
        migrate_to_latest()


def migrate(node: tuple[str, str]) -> Any:
    """Migrate to `node` (forward or back) and return the app registry as of it."""
    executor = MigrationExecutor(connection)
    executor.migrate([node])
    return executor.loader.project_state([node]).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
