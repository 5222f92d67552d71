"""Per-token API rate limit: a fixed one-minute window counted in Redis, or in Django's cache without Redis.

Each token has its own counter, keyed by a prefix of its stored hash, so one noisy detector never uses up
another's allowance (a rotated token starts afresh). Redis is shared by every web process; the cache fallback
(no REDIS_URL: the demo) counts per process. The limiter fails open: with Redis unreachable the API keeps
accepting, as PostgreSQL, not Redis, is the source of truth.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache

from reviews.models import Source

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
_KEY_PREFIX = "oversight:ratelimit"
# A slow Redis must not stall every API request: give up quickly and let the request through.
_REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class RateLimit:
    allowed: bool
    limit: int
    retry_after: int  # whole seconds until the window resets; 0 when allowed


class RateLimitExceeded(Exception):
    """A token went over its requests per minute: the API answers 429 with `Retry-After`."""

    def __init__(self, *, limit: int, retry_after: int) -> None:
        super().__init__(f"Over the limit of {limit} requests per minute for this token; retry in {retry_after} s.")
        self.limit = limit
        self.retry_after = retry_after


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=_REDIS_TIMEOUT_SECONDS, socket_connect_timeout=_REDIS_TIMEOUT_SECONDS
    )


def _count_redis(key: str) -> int:
    pipe = _redis(settings.REDIS_URL).pipeline(transaction=True)  # MULTI: INCR and EXPIRE together
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS + 5)
    count, _ = pipe.execute()
    return int(count)


def _count_cache(key: str) -> int:
    django_cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        return django_cache.incr(key)
    except ValueError:  # expired between add and incr: this request starts the window
        django_cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
        return 1


def token_rate_limit_consume(*, source: Source, now: float | None = None) -> RateLimit:
    """Count one request of `source`'s token in the current minute; `allowed` is False over the limit."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return RateLimit(allowed=True, limit=0, retry_after=0)
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"{_KEY_PREFIX}:{(source.token_hash or '')[:16]}:{window}"
    try:
        count = _count_redis(key) if settings.REDIS_URL else _count_cache(key)
    except redis.RedisError as exc:
        logger.warning("API rate limit not applied, Redis unavailable: %r", exc)
        return RateLimit(allowed=True, limit=limit, retry_after=0)
    if count <= limit:
        return RateLimit(allowed=True, limit=limit, retry_after=0)
    retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    return RateLimit(allowed=False, limit=limit, retry_after=retry_after)


def token_rate_limit_enforce(*, source: Source) -> None:
    """Count a request of `source`; raise RateLimitExceeded over the limit (before the operation runs)."""
    result = token_rate_limit_consume(source=source)
    if not result.allowed:
        raise RateLimitExceeded(limit=result.limit, retry_after=result.retry_after)
