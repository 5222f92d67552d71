"""Worker heartbeats for /metrics: each Celery worker writes its hostname and the time to Redis every few seconds.

A worker bootstep (added to the app in oversight/celery.py) beats from the worker's own timer, which runs in
the event loop of the main process: a worker that dies, hangs or loses its loop stops beating, and /metrics
shows the seconds since its last beat. A worker stopped on purpose removes itself. Without REDIS_URL tasks
run in-process and there are no workers to watch.

Imported when the Celery app is built, before Django's apps are ready: no models here.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import bootsteps
from django.conf import settings

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "oversight:worker-heartbeats"  # a hash: worker hostname → unix time of its last beat
HEARTBEAT_SECONDS = 10.0
# A worker silent this long is forgotten (removed from the hash), so renamed or retired hosts do not linger.
FORGET_AFTER_SECONDS = 24 * 3600
_TIMEOUT_SECONDS = 1.0


def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS
    )


def heartbeat_record(*, client: redis.Redis, hostname: str, now: float | None = None) -> None:
    """Record a beat of `hostname`, and forget workers silent for more than a day."""
    now = time.time() if now is None else now
    stale = [name for name, at in heartbeats_read(client=client).items() if now - at > FORGET_AFTER_SECONDS]
    pipe = client.pipeline(transaction=True)
    pipe.hset(HEARTBEAT_KEY, hostname, repr(now))
    if stale:
        pipe.hdel(HEARTBEAT_KEY, *stale)
    pipe.execute()


def heartbeats_read(*, client: redis.Redis | None = None) -> dict[str, float]:
    """Worker hostname → unix time of its last beat."""
    raw: dict[bytes, bytes] = (client or _client()).hgetall(HEARTBEAT_KEY)  # type: ignore[assignment]
    return {name.decode(): float(at) for name, at in raw.items()}


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Beats at start, then every HEARTBEAT_SECONDS from the worker's timer; removes its entry at shutdown."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.client: redis.Redis | None = None
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        if not settings.REDIS_URL:
            return
        self.client = _client()
        self._beat(worker.hostname)
        self.tref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, self._beat, (worker.hostname,))

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            worker.timer.cancel(self.tref)
            self.tref = None
        if self.client is not None:
            try:
                self.client.hdel(HEARTBEAT_KEY, worker.hostname)
            except redis.RedisError as exc:
                logger.warning("could not remove the heartbeat of %s: %r", worker.hostname, exc)

    def _beat(self, hostname: str) -> None:
        assert self.client is not None  # noqa: S101  (set in start before the first beat)
        try:
            heartbeat_record(client=self.client, hostname=hostname)
        except redis.RedisError as exc:  # the broker is down too; the worker retries its connection itself
            logger.warning("heartbeat of %s not recorded: %r", hostname, exc)
