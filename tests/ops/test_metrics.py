"""`/metrics`: Prometheus figures operators alert on, read from the database and Redis, behind a token or a network."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from reviews.ingest.sources import source_create
from reviews.models import Conversation, ItemStatus, Queue, ReviewItem, Score, ScoringStatus, Source
from reviews.ops.heartbeats import HEARTBEAT_KEY, heartbeat_record
from tests import factories

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = "203.0.113.7"
needs_redis = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL: heartbeats live in Redis")


def scrape(client: Client | None = None, **extra: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by (name, sorted labels), parsed as Prometheus parses it."""
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _conversation(source: Source, external_id: str, *, received_ago: timedelta = timedelta(0)) -> Conversation:
    conversation = factories.conversation(source, external_id)
    Conversation.objects.filter(pk=conversation.pk).update(
        received_at=timezone.now() - received_ago, scoring_status=ScoringStatus.SCORED
    )
    return conversation


def _item(queue: Queue, source: Source, age: timedelta, status: str = ItemStatus.OPEN) -> ReviewItem:
    item = ReviewItem.objects.create(
        conversation=_conversation(source, f"item-{uuid.uuid4().hex[:8]}"), queue=queue, status=status
    )
    ReviewItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - age)
    return item


@pytest.fixture
def source() -> Source:
    return Source.objects.create(name="guardrail", kind="input_guardrail")


def test_queue_depth_and_oldest_open_age_per_queue(source):
    busy = Queue.objects.create(slug="queue-a", name="A")
    Queue.objects.create(slug="queue-b", name="B")
    for age in (timedelta(hours=2), timedelta(hours=1), timedelta(minutes=10)):
        _item(busy, source, age)
    _item(busy, source, timedelta(hours=5), status=ItemStatus.DONE)  # closed work is not depth

    figures = scrape()

    assert figures[("oversight_queue_open_items", (("queue", "queue-a"),))] == 3
    assert figures[("oversight_queue_oldest_open_item_age_seconds", (("queue", "queue-a"),))] == pytest.approx(
        7200, abs=60
    )
    assert figures[("oversight_queue_open_items", (("queue", "queue-b"),))] == 0
    assert figures[("oversight_queue_oldest_open_item_age_seconds", (("queue", "queue-b"),))] == 0


def test_ingest_counts_conversations_of_the_last_five_minutes_per_source(api, make_conversation, source_token):
    quiet = source_create(name="red-team", kind="red_team").source
    response = api.post("/api/v1/conversations", {"conversations": [make_conversation("a"), make_conversation("b")]})
    assert response.status_code == 202
    _conversation(source_token[0], "old", received_ago=timedelta(minutes=10))

    figures = scrape()

    assert figures[("oversight_ingest_conversations_5m", (("source", "guardrail"),))] == 2
    assert figures[("oversight_ingest_conversations_5m", (("source", quiet.name),))] == 0
    assert figures[("oversight_ingest_rate_per_second", ())] == pytest.approx(2 / 300)
    # Both wait for a score (tasks do not run inside this test's transaction): the scoring backlog.
    assert figures[("oversight_scoring_pending_conversations", ())] == 2
    assert figures[("oversight_scoring_oldest_pending_age_seconds", ())] == pytest.approx(0, abs=60)


def _scored(source: Source, name: str, *, received_ago: timedelta, latency: timedelta, producer: str) -> Score:
    conversation = _conversation(source, name, received_ago=received_ago)
    return _score(conversation, created=timezone.now() - received_ago + latency, producer=producer)


def _score(conversation: Conversation, *, created: Any, producer: str) -> Score:
    score = Score.objects.create(conversation=conversation, producer=producer, risk=0.5)
    Score.objects.filter(pk=score.pk).update(created_at=created)
    return score


def test_scoring_latency_is_receipt_to_first_score_over_recent_scores(source):
    for n, seconds in enumerate((10, 20, 30, 40)):
        _scored(
            source,
            f"fresh-{n}",
            received_ago=timedelta(minutes=2),
            latency=timedelta(seconds=seconds),
            producer="fallback",
        )
    # Scored 20 minutes ago: outside the window.
    _scored(source, "stale", received_ago=timedelta(minutes=30), latency=timedelta(seconds=900), producer="fallback")
    # A promoted model rescoring a day-old conversation now: not scoring latency.
    backlog = _scored(
        source, "backlog", received_ago=timedelta(days=1), latency=timedelta(seconds=5), producer="fallback"
    )
    _score(backlog.conversation, created=timezone.now(), producer="model-v2")

    figures = scrape()

    assert figures[("oversight_scoring_latency_samples", ())] == 4
    assert figures[("oversight_scoring_latency_seconds", (("quantile", "0.5"),))] == pytest.approx(20, abs=1)
    assert figures[("oversight_scoring_latency_seconds", (("quantile", "0.95"),))] == pytest.approx(40, abs=1)
    assert figures[("oversight_scoring_latency_seconds", (("quantile", "0.99"),))] == pytest.approx(40, abs=1)


def test_no_recent_scores_means_no_latency_figure_not_zero(db):
    figures = scrape()

    assert figures[("oversight_scoring_latency_samples", ())] == 0
    assert math.isnan(figures[("oversight_scoring_latency_seconds", (("quantile", "0.5"),))])


def test_figures_are_read_with_a_fixed_number_of_queries(source, django_assert_max_num_queries):
    """Queues, backlog, ingest, latency: a handful of bounded queries whatever the number of queues or rows."""
    for n in range(5):
        _item(Queue.objects.create(slug=f"q-{n}", name=f"Q{n}"), source, timedelta(minutes=n))
    with django_assert_max_num_queries(8):
        scrape()


@needs_redis
def test_worker_heartbeats_show_seconds_since_each_workers_last_beat(settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(HEARTBEAT_KEY)
    heartbeat_record(client=client, hostname="score@gpu-1", now=time.time() - 30)
    heartbeat_record(client=client, hostname="default@web-1")
    try:
        figures = scrape()
    finally:
        client.delete(HEARTBEAT_KEY)

    assert figures[("oversight_worker_heartbeat_age_seconds", (("worker", "score@gpu-1"),))] == pytest.approx(30, abs=5)
    assert figures[("oversight_worker_heartbeat_age_seconds", (("worker", "default@web-1"),))] == pytest.approx(
        0, abs=5
    )
    assert figures[("oversight_tasks_in_process", ())] == 0


@needs_redis
def test_a_worker_silent_for_a_day_is_forgotten_at_the_next_beat(settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(HEARTBEAT_KEY)
    heartbeat_record(client=client, hostname="retired@old-host", now=time.time() - 2 * 86400)
    heartbeat_record(client=client, hostname="default@web-1")
    try:
        workers = {labels for name, labels in scrape() if name == "oversight_worker_heartbeat_age_seconds"}
    finally:
        client.delete(HEARTBEAT_KEY)

    assert workers == {(("worker", "default@web-1"),)}


def test_in_process_mode_says_so_and_lists_no_workers(settings):
    settings.REDIS_URL = ""

    figures = scrape()

    assert figures[("oversight_tasks_in_process", ())] == 1
    assert not [name for name, _ in figures if name == "oversight_worker_heartbeat_age_seconds"]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.worker
@pytest.mark.timeout(180)
@pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("postgres")),
    reason="needs REDIS_URL and a PostgreSQL DATABASE_URL for a worker process",
)
def test_a_real_worker_beats_and_is_gone_after_a_warm_shutdown(settings):
    hostname = f"metrics-{uuid.uuid4().hex[:8]}@test"
    series = ("oversight_worker_heartbeat_age_seconds", (("worker", hostname),))
    env = os.environ | {"DATABASE_URL": _database_url(), "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "celery", "-A", "oversight", "worker", "-Q", f"idle-{hostname}"]
    command += ["--concurrency", "1", "--without-gossip", "--without-mingle", "-n", hostname]
    worker = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while series not in scrape() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
        assert scrape()[series] < 15
        worker.send_signal(signal.SIGTERM)  # warm shutdown: the worker removes its own entry
        worker.wait(timeout=60)
        assert series not in scrape()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


# --- Access ------------------------------------------------------------------------------------------


def _get(**extra: Any) -> int:
    return Client().get("/metrics", **extra).status_code


def test_loopback_may_scrape_without_a_token_by_default(db):
    assert _get() == 200  # the test client comes from 127.0.0.1
    assert _get(REMOTE_ADDR="::1") == 200


def test_outside_the_allowed_networks_without_a_token_is_403(db):
    assert _get(REMOTE_ADDR=OUTSIDE) == 403


def test_a_wrong_token_is_401_even_from_an_allowed_network(settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"

    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _get(HTTP_AUTHORIZATION="Basic czNjcmV0LW1ldHJpY3MtdG9rZW4=") == 401


def test_any_token_is_wrong_when_none_is_configured(settings):
    settings.METRICS_TOKEN = ""

    assert _get(HTTP_AUTHORIZATION="Bearer ") == 401
    assert _get(HTTP_AUTHORIZATION="Bearer anything", REMOTE_ADDR=OUTSIDE) == 401


def test_the_right_token_opens_it_from_anywhere(settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"

    figures = scrape(REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")

    assert ("oversight_tasks_in_process", ()) in figures


def test_a_request_through_a_proxy_needs_the_token(settings):
    """Behind a reverse proxy on the same host every client is 127.0.0.1: an address alone is not enough."""
    settings.METRICS_TOKEN = "s3cret-metrics-token"

    assert _get(HTTP_X_FORWARDED_FOR=OUTSIDE) == 403
    assert _get(HTTP_X_FORWARDED_FOR=OUTSIDE, HTTP_AUTHORIZATION="Bearer s3cret-metrics-token") == 200


def test_allowed_networks_come_from_the_setting(settings):
    from ipaddress import ip_network

    settings.METRICS_ALLOWED_NETWORKS = [ip_network("10.0.0.0/8")]

    assert _get(REMOTE_ADDR="10.20.30.40") == 200
    assert _get(REMOTE_ADDR="::ffff:10.20.30.40") == 200  # IPv4 seen through an IPv6 socket
    assert _get(REMOTE_ADDR="127.0.0.1") == 403


def test_only_get_is_served(db):
    assert Client().post("/metrics").status_code == 405


def test_the_audit_trail_count_and_head_are_published(admin_user):
    from reviews.audit import audit_record
    from reviews.models import AuditAction, AuditEvent

    seeded = AuditEvent.objects.count()  # the migrations' own (0017 records its policy change)
    empty = scrape()
    source = Source.objects.create(name="exporter", kind="ml_export")
    for kind in ("eval", "sft"):
        audit_record(actor=admin_user, action=AuditAction.EXPORT, target=source, kind=kind)
    head = AuditEvent.objects.order_by("-pk").first()

    figures = scrape()

    assert empty[("oversight_audit_events", ())] == seeded
    assert figures[("oversight_audit_events", ())] == seeded + 2
    assert figures[("oversight_audit_head_info", (("event", str(head.pk)), ("hash", head.hash)))] == 1
