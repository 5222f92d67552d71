"""What every benchmark shares: the scratch PostgreSQL databases, the Django environment, free ports and the
statistics the reports print. Imported as `bench._harness` (each script puts the repository root first on
sys.path when run as a file)."""

from __future__ import annotations

import math
import os
import socket
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG_URL = "postgres://postgres@127.0.0.1:5432"
BENCH_SECRET = "bench-only-secret-key-not-for-production-use"  # noqa: S105  (scratch databases only)


def db_url(name: str) -> str:
    return f"{PG_URL}/{name}"


def admin(sql: str) -> None:
    """Run `sql` on the `postgres` database, outside a transaction (CREATE/DROP DATABASE)."""
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)  # names are our constants


def drop_database(name: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_env(name: str, **extra: str) -> dict[str, str]:
    """Settings for a process against database `name`: production-like (DEBUG off keeps no query log)."""
    return {
        "DATABASE_URL": db_url(name),
        "DJANGO_SETTINGS_MODULE": "oversight.settings",
        "DEBUG": "0",
        "SECRET_KEY": BENCH_SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def setup_django(env: dict[str, str]) -> None:
    """This process: environment first (settings read it at import), no broker, then django.setup() and migrate."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oversight.settings")
    os.environ.pop("REDIS_URL", None)  # nothing enqueues here; tasks that would run are called directly
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else math.nan
