"""The database role web and workers connect as: it owns no tables, so it can neither disable the audit
trail's trigger nor rewrite the trail; migrations run as the owner (compose's one-shot `migrate` service).

PostgreSQL only (the append-only trigger and roles are PostgreSQL's). Safe to run after every migrate: it
grants on every table that exists then, so a table a later migration adds is covered at the next deploy.
"""

from __future__ import annotations

import re

from django.db import connection, transaction
from psycopg import sql

from reviews.models import AuditEvent

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# The migration history belongs to the owner: the app may read it, never write it.
_OWNER_ONLY_WRITES = ("django_migrations",)


class RoleError(Exception):
    """The role cannot be set up as asked."""


def app_role_grant(*, role: str, password: str | None = None) -> None:
    """Create `role` (with `password`) if missing, or set its password if given; then grant it reads and
    writes on every table, except UPDATE, DELETE and TRUNCATE of the audit trail (INSERT and SELECT only)."""
    if connection.vendor != "postgresql":
        raise RoleError("Database roles are set up on PostgreSQL only.")
    if not ROLE_NAME.fullmatch(role):
        raise RoleError(f"{role!r} is not a plain role name (lower-case letters, digits and underscores).")
    name = sql.Identifier(role)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        found = cursor.fetchone()
        if found is None and not password:
            raise RoleError(f"Role {role} does not exist; give it a password to create it.")
        if found is None:
            cursor.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(name, sql.Literal(password)))
        elif password:
            cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password)))
        if found is not None and any(found):
            raise RoleError(f"Role {role} is a superuser or bypasses row security: it could rewrite the audit trail.")
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tableowner = %s", [role])
        if cursor.fetchone()[0]:
            raise RoleError(f"Role {role} owns tables: an owner can disable the audit trail's trigger.")
        cursor.execute("SELECT current_database(), current_schema()")
        database, schema = (sql.Identifier(n) for n in cursor.fetchone())
        audit = sql.Identifier(AuditEvent._meta.db_table)
        for statement in (
            "GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {role}",
        ):
            cursor.execute(sql.SQL(statement).format(database=database, schema=schema, role=name, audit=audit))
        for table in _OWNER_ONLY_WRITES:
            cursor.execute(
                sql.SQL("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(sql.Identifier(table), name)
            )
