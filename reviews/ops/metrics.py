"""Prometheus figures for operators, read from the database (and Redis for worker heartbeats) at scrape time.

Every figure comes from shared state, not from counters inside one process, so it is the same whichever web
process answers the scrape. Each read is bounded whatever the backlog: open-item counts use the partial
indexes of open items and stop at DEPTH_CAP; the ingest figure is a range on `received_at`'s index; scoring
latency reads only the newest LATENCY_SAMPLE scores by primary key.

Access: a `Bearer` token equal to settings.METRICS_TOKEN, or a client address in METRICS_ALLOWED_NETWORKS.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db.models import Count, IntegerField, Min, OuterRef, QuerySet, Subquery
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from reviews.models import Conversation, ItemStatus, Queue, ReviewItem, Score, ScoringStatus, Source
from reviews.ops.heartbeats import heartbeats_read

DEPTH_CAP = 100_000  # an open-item count stops here: enough to alert on, and a short index range to read
INGEST_WINDOW = timedelta(minutes=5)
LATENCY_WINDOW = timedelta(minutes=5)
LATENCY_SAMPLE = 1_000
LATENCY_QUANTILES = (0.5, 0.95, 0.99)


class CountUpTo(Subquery):
    """How many rows the subquery gives, reading at most `cap` of them."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) capped)"
    output_field = IntegerField()

    def __init__(self, queryset: QuerySet[Any], cap: int) -> None:
        super().__init__(queryset[:cap])


@dataclass(frozen=True)
class QueueFigures:
    slug: str
    open_items: int
    oldest_open_age: float  # seconds; 0 when the queue is empty


@dataclass(frozen=True)
class Snapshot:
    queues: list[QueueFigures]
    pending_scoring: int
    oldest_pending_age: float
    ingested: dict[str, int]  # source name → conversations received within INGEST_WINDOW
    latencies: list[float]  # seconds from receipt to first score, for first scores within LATENCY_WINDOW
    in_process: bool  # no broker: tasks run inside the web process, there are no workers
    heartbeats: dict[str, float] = field(default_factory=dict)  # worker → seconds since its last beat


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then else 0.0


def _queues(now: datetime) -> list[QueueFigures]:
    open_items = ReviewItem.objects.filter(queue=OuterRef("pk"), status=ItemStatus.OPEN)
    rows = Queue.objects.annotate(
        open_count=CountUpTo(open_items.values("created_at"), DEPTH_CAP),
        oldest_open_at=Subquery(open_items.order_by("created_at").values("created_at")[:1]),
    ).order_by("slug")
    return [QueueFigures(q.slug, q.open_count, _age(now, q.oldest_open_at)) for q in rows]


def _pending(now: datetime) -> tuple[int, float]:
    """Conversations waiting for a score, from the partial index `conversation_pending`."""
    pending = Conversation.objects.filter(scoring_status=ScoringStatus.PENDING)
    count = pending.values("received_at")[:DEPTH_CAP].count()
    oldest = pending.order_by("received_at").values_list("received_at", flat=True).first()
    return count, _age(now, oldest)


def _ingested(now: datetime) -> dict[str, int]:
    recent = dict(
        Conversation.objects.filter(received_at__gte=now - INGEST_WINDOW)
        .order_by()
        .values_list("source_id")
        .annotate(n=Count("pk"))
    )
    return {name: recent.get(pk, 0) for pk, name in Source.objects.values_list("pk", "name")}


def _latencies(now: datetime) -> list[float]:
    """Receipt to first score, for the newest scores made within the window.

    Three reads, each bounded by LATENCY_SAMPLE whatever the table holds: the newest scores by primary key,
    their conversations by primary key, and each conversation's first score by its (conversation, producer)
    index. Later scores of a conversation (a promoted model rescoring the backlog) are not scoring latency.
    """
    since = now - LATENCY_WINDOW
    newest = Score.objects.order_by("-pk").values_list("pk", "conversation_id", "created_at")[:LATENCY_SAMPLE]
    recent = {conversation: (pk, created) for pk, conversation, created in newest if created >= since}
    first = dict(
        Score.objects.filter(conversation_id__in=recent)
        .order_by()
        .values_list("conversation_id")
        .annotate(first=Min("pk"))
    )
    received = dict(Conversation.objects.filter(pk__in=recent).values_list("pk", "received_at"))
    return sorted(
        max(0.0, (created - received[conversation]).total_seconds())
        for conversation, (pk, created) in recent.items()
        if first.get(conversation) == pk
    )


def _heartbeats() -> dict[str, float]:
    now = timezone.now().timestamp()
    try:
        beats = heartbeats_read()
    except redis.RedisError:
        return {}  # nothing to report: the workers' silence shows in their absent series
    return {worker: max(0.0, now - at) for worker, at in beats.items()}


def metrics_snapshot() -> Snapshot:
    now = timezone.now()
    pending, oldest_pending = _pending(now)
    in_process = not settings.REDIS_URL
    return Snapshot(
        queues=_queues(now),
        pending_scoring=pending,
        oldest_pending_age=oldest_pending,
        ingested=_ingested(now),
        latencies=_latencies(now),
        in_process=in_process,
        heartbeats={} if in_process else _heartbeats(),
    )


def quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted values; NaN (Prometheus' "no value") when there are none."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _gauge(name: str, documentation: str, labels: list[str], values: dict[tuple[str, ...], float]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in values.items():
        family.add_metric(list(label_values), value)
    return family


class OversightCollector:
    """A prometheus_client collector: one database snapshot per scrape."""

    def collect(self) -> Iterator[Metric]:
        s = metrics_snapshot()
        minutes = int(INGEST_WINDOW.total_seconds() // 60)
        yield _gauge(
            "oversight_queue_open_items",
            f"Open review items per queue (counted up to {DEPTH_CAP}).",
            ["queue"],
            {(q.slug,): q.open_items for q in s.queues},
        )
        yield _gauge(
            "oversight_queue_oldest_open_item_age_seconds",
            "Age of the oldest open item per queue; 0 when the queue is empty.",
            ["queue"],
            {(q.slug,): q.oldest_open_age for q in s.queues},
        )
        yield GaugeMetricFamily(
            "oversight_scoring_pending_conversations",
            f"Conversations waiting for a score (counted up to {DEPTH_CAP}).",
            value=s.pending_scoring,
        )
        yield GaugeMetricFamily(
            "oversight_scoring_oldest_pending_age_seconds",
            "Age of the oldest conversation waiting for a score; 0 when none waits.",
            value=s.oldest_pending_age,
        )
        yield _gauge(
            f"oversight_ingest_conversations_{minutes}m",
            f"Conversations received in the last {minutes} minutes, per source.",
            ["source"],
            {(name,): n for name, n in s.ingested.items()},
        )
        yield GaugeMetricFamily(
            "oversight_ingest_rate_per_second",
            f"Conversations received per second, averaged over the last {minutes} minutes, all sources.",
            value=sum(s.ingested.values()) / INGEST_WINDOW.total_seconds(),
        )
        yield _gauge(
            "oversight_scoring_latency_seconds",
            "Seconds from receipt to a conversation's first score, over first scores of the last "
            f"{int(LATENCY_WINDOW.total_seconds() // 60)} minutes (newest {LATENCY_SAMPLE}); NaN when none.",
            ["quantile"],
            {(str(q),): quantile(s.latencies, q) for q in LATENCY_QUANTILES},
        )
        yield GaugeMetricFamily(
            "oversight_scoring_latency_samples",
            "First scores behind oversight_scoring_latency_seconds.",
            value=len(s.latencies),
        )
        yield GaugeMetricFamily(
            "oversight_tasks_in_process",
            "1 when no broker is configured and tasks run inside the web process (no workers to watch).",
            value=1 if s.in_process else 0,
        )
        yield _gauge(
            "oversight_worker_heartbeat_age_seconds",
            "Seconds since each Celery worker's last heartbeat (workers beat every 10 s).",
            ["worker"],
            {(worker,): age for worker, age in s.heartbeats.items()},
        )


def metrics_render() -> bytes:
    """The Prometheus text exposition of every figure."""
    return generate_latest(OversightCollector())


class MetricsAccess(enum.Enum):
    ALLOWED = "allowed"
    WRONG_TOKEN = "wrong_token"  # noqa: S105  (401: a token was sent and it is not METRICS_TOKEN)
    FORBIDDEN = "forbidden"  # 403: no token, and not from an allowed network


def metrics_access(*, authorization: str | None, client_ip: str | None, forwarded: bool) -> MetricsAccess:
    """Who may read /metrics.

    A request that came through a proxy (`forwarded`: it carries X-Forwarded-For) is never let in by its
    address alone: behind a reverse proxy on the same host every client would look like loopback.
    """
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        expected = settings.METRICS_TOKEN
        if expected and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode()):
            return MetricsAccess.ALLOWED
        return MetricsAccess.WRONG_TOKEN
    if forwarded or not client_ip:
        return MetricsAccess.FORBIDDEN
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return MetricsAccess.FORBIDDEN
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in settings.METRICS_ALLOWED_NETWORKS):
        return MetricsAccess.ALLOWED
    return MetricsAccess.FORBIDDEN
