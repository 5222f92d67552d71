"""Health of the pieces ingest and scoring depend on."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import current_app
from django.conf import settings
from django.db import connection

_TIMEOUT = 1.0


@dataclass(frozen=True)
class Health:
    database: str
    broker: str
    workers: str

    @property
    def status(self) -> str:
        if self.database != "ok":
            return "down"
        if self.broker not in ("ok", "in-process") or self.workers in ("none", "unknown"):
            return "degraded"
        return "ok"


def health_check() -> Health:
    database = _database()
    if not settings.REDIS_URL:
        return Health(database=database, broker="in-process", workers="in-process")
    broker = _broker()
    workers = _workers() if broker == "ok" else "unknown"
    return Health(database=database, broker=broker, workers=workers)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001  (any failure means "not usable")
        return f"error: {type(exc).__name__}"
    return "ok"


def _broker() -> str:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT).ping()
    except redis.RedisError as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _workers() -> str:
    replies = current_app.control.ping(timeout=_TIMEOUT)
    return f"{len(replies)} alive" if replies else "none"
