"""The load benchmark's scratch world: constants, parameters, the seeded database, the servers and workers it
starts, and what the database holds after the window (bench/load.py runs it)."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import subprocess
import time
import urllib.request
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import _harness
from bench._harness import BIN, ROOT, db_url, free_port

DB = "oversight_bench_load"
REDIS_URL = "redis://127.0.0.1:6379/7"
SECRET_KEY = "bench-only-secret-key-not-for-production-use"  # noqa: S105
PASSWORD = "load-bench-password"  # noqa: S105  (throw-away users on a throw-away database)
SEED = 1729
POOL = 500  # distinct demo conversations; each use gets a fresh external id
QUEUE = "triage"
EXPORT_AT = 0.2  # of the window
EXPORT_GRACE_S = 60.0  # the export may finish this long after the window
DRAIN_S = 60.0  # wait this long after the window for the worker to route what was ingested
REQUEST_TIMEOUT_S = 30.0
PROXY_HEADER = "X-Forwarded-Proto"
VERDICTS = ("harmful_compliance", "appropriate_refusal", "over_refusal", "appropriate_help")
FAILURES = {"harmful_compliance", "over_refusal"}  # these need a preferred response in some queues
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PUSHED_ITEM = re.compile(r"/items/(\d+)/")


@dataclass(frozen=True)
class Params:
    seconds: float
    rate: float  # conversations per second
    batch: int
    reviewers: int
    servers: int
    think: tuple[float, float]
    backlog: int
    history: int
    probe_rate: float
    slice_s: float


@dataclass(frozen=True)
class Setup:
    ingest_token: str
    export_token: str
    ingest_source: int
    open_items: int
    lease_s: float


# --- Database, data and Django -----------------------------------------------------------


def server_env(media: Path) -> dict[str, str]:
    """What the servers and workers run with: DEBUG off, this database, Redis db 7."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": db_url(DB),
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(media),
        "PYTHONUNBUFFERED": "1",
        # As deployed behind a TLS-terminating proxy: the client says "https" in this header, so HTTPS-only
        # settings (redirect, HSTS, Secure cookies, CSRF origin checks) run as they do in production.
        "SECURE_PROXY_SSL_HEADER": PROXY_HEADER,
        # Counted in Redis as deployed, but never refusing: the bench's one token sends what --rate says.
        "API_RATE_LIMIT_PER_MINUTE": "1000000",
    }


def setup_django(media: Path) -> None:
    """This process seeds in-process (no REDIS_URL: nothing is enqueued, broadcasts stay in memory)."""
    _harness.setup_django(server_env(media))


def demo_pool() -> list[dict[str, Any]]:
    """Demo conversations in the ingest payload shape, without the demo's ground truth."""
    from reviews.demo.data import generate_conversations

    pool = generate_conversations(POOL, seed=SEED)
    for conversation in pool:
        conversation["metadata"] = {k: v for k, v in conversation["metadata"].items() if k != "demo_label"}
    return pool


HISTORY_SQL = [
    """
    INSERT INTO reviews_conversation (source_id, external_id, model_name, messages, metadata, content_length,
                                      scoring_status, scoring_attempts, scoring_error)
    SELECT %(source)s, 'history-' || g, 'bench-model',
           jsonb_build_array(
               jsonb_build_object('role', 'user', 'content', 'Request ' || g || ': ' || repeat('explain this ', 8)),
               jsonb_build_object('role', 'assistant', 'content', 'Answer ' || g || ': ' || repeat('here is it ', 12))),
           '{}'::jsonb, 260, 'scored', 0, ''
    FROM generate_series(1, %(n)s) AS g
    """,
    """
    INSERT INTO reviews_reviewitem (conversation_id, queue_id, status, priority, risk, reviews_required,
                                    reviews_done, routed_by)
    SELECT id, %(queue)s, 'done', 0, 0, 1, 1, 'bench' FROM reviews_conversation WHERE source_id = %(source)s
    """,
    """
    INSERT INTO reviews_decision (item_id, reviewer_id, verdict, harmful_request, categories, severity,
                                  rationale, preferred_response, time_spent_seconds, is_final, is_imported)
    SELECT i.id, %(reviewer)s,
           (ARRAY['harmful_compliance', 'appropriate_refusal', 'over_refusal', 'appropriate_help'])[i.id %% 4 + 1],
           i.id %% 4 < 2, CASE WHEN i.id %% 4 < 2 THEN '["violent-crime"]'::jsonb ELSE '[]'::jsonb END,
           i.id %% 4, '', CASE WHEN i.id %% 2 = 0 THEN 'A better answer.' ELSE '' END, 30, false, false
    FROM reviews_reviewitem i JOIN reviews_conversation c ON c.id = i.conversation_id
    WHERE c.source_id = %(source)s
    """,
]


def seed(p: Params) -> Setup:
    """Reviewers, the two tokens, the open backlog (through the services) and the decided history (SQL)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction
    from django.utils import timezone

    from reviews.ingest.bulk_insert import insert_batch
    from reviews.ingest.schemas import ConversationIn
    from reviews.ingest.sources import source_create
    from reviews.models import ItemStatus, Queue, ReviewItem, SourceKind
    from reviews.routing.services import items_route
    from reviews.scoring.services import score_with_fallback

    password = make_password(PASSWORD)  # hashed once: one hash per user would take the CPU for seconds
    users = User.objects.bulk_create([User(username=reviewer_name(i), password=password) for i in range(p.reviewers)])
    group = Group.objects.get(name="reviewer")
    membership = User.groups.through
    membership.objects.bulk_create([membership(user_id=u.pk, group_id=group.pk) for u in users])

    backlog = source_create(name="bench-backlog", kind=SourceKind.RED_TEAM).source
    pool = demo_pool()
    for start in range(0, p.backlog, 1000):
        payloads = [
            ConversationIn.model_validate({**pool[i % POOL], "external_id": f"backlog-{i}"})
            for i in range(start, min(start + 1000, p.backlog))
        ]
        with transaction.atomic():
            ids = insert_batch(source_id=backlog.pk, payloads=payloads, received_at=timezone.now())
            items_route(conversation_ids=score_with_fallback(conversation_ids=ids))

    history = source_create(name="bench-history", kind=SourceKind.OUTPUT_CLASSIFIER).source
    veteran = User.objects.create(username="bench-history", password=password)
    queue = Queue.objects.get(slug=QUEUE)
    with connection.cursor() as cursor:
        for sql in HISTORY_SQL:
            cursor.execute(sql, {"source": history.pk, "n": p.history, "queue": queue.pk, "reviewer": veteran.pk})
        cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done by now

    ingest = source_create(name="bench-ingest", kind=SourceKind.RED_TEAM)
    export = source_create(name="bench-export", kind=SourceKind.ML_EXPORT)
    open_items = ReviewItem.objects.filter(queue=queue, status=ItemStatus.OPEN).count()
    return Setup(ingest.token, export.token, ingest.source.pk, open_items, float(queue.lease_seconds))


def reviewer_name(index: int) -> str:
    return f"reviewer-{index:03d}"


def ingest_bodies(p: Params) -> list[bytes]:
    """Every batch the window can send, JSON-encoded before the clock starts; external ids load-K-I."""
    pool = demo_pool()
    count = math.ceil(p.seconds * p.rate / p.batch) + 1
    return [
        json.dumps(
            {
                "conversations": [
                    {**pool[(k * p.batch + i) % POOL], "external_id": f"load-{k}-{i}"} for i in range(p.batch)
                ]
            }
        ).encode()
        for k in range(count)
    ]


# --- Servers and workers ---------------------------------------------------------------------


class Processes:
    """Daphne and Celery, each in its own process group (so a worker's children go with it), logs in files."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir, self.env = log_dir, env
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append((name, process))
        return process

    def daphne(self, index: int) -> int:
        port = free_port()
        self.start(
            f"daphne-{index}", [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "oversight.asgi:application"]
        )
        return port

    def worker(self, queue: str) -> None:
        command = [str(BIN / "celery"), "-A", "oversight", "worker", "-Q", queue, "--concurrency", "1"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"load-{queue}@%h"]
        self.start(f"worker-{queue}", [*command, "--loglevel", "WARNING"])

    def check(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 3000) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-chars:]

    def tails(self) -> str:
        return "".join(f"\n--- {name} (last lines) ---\n{self.tail(name)}" for name, _ in self.started)

    def stop(self) -> None:
        """SIGTERM to every group, then SIGKILL to whatever is left after 10 s."""
        for _, process in self.started:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            _signal_group(process, signal.SIGKILL)  # children a worker left behind (prefork pool)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def wait_page(port: int, processes: Processes, timeout: float = 90) -> None:
    """Until Daphne answers the login page (not /api/v1/health: it waits a second for worker pings)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/login/", headers={PROXY_HEADER: "https"})
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"daphne on port {port} not serving after {timeout:.0f}s")


def warm_up(port: int, setup: Setup, processes: Processes, timeout: float = 240) -> float:
    """One batch through the API, the score worker (first task imports torch) and routing; seconds taken."""
    started = time.monotonic()
    body = json.dumps({"conversations": [{**c, "external_id": f"warmup-{i}"} for i, c in enumerate(demo_pool()[:10])]})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/conversations",
        data=body.encode(),
        headers={
            "Authorization": f"Bearer {setup.ingest_token}",
            "Content-Type": "application/json",
            PROXY_HEADER: "https",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        if answer.status != 202:
            raise RuntimeError(f"warm-up ingest answered {answer.status}")
    deadline = started + timeout
    with psycopg.connect(db_url(DB), autocommit=True) as conn:
        while time.monotonic() < deadline:
            processes.check()
            row = conn.execute(
                "SELECT count(*) FROM reviews_conversation WHERE source_id = %s AND scoring_status = 'scored'",
                (setup.ingest_source,),
            ).fetchone()
            if row is not None and row[0] >= 10:
                return time.monotonic() - started
            time.sleep(0.5)
    raise RuntimeError(f"the worker did not score the warm-up batch within {timeout:.0f}s:\n{processes.tails()}")


# --- After the window: the database's side ------------------------------------------------------


def drain(setup: Setup) -> tuple[int, float]:
    """Wait for the worker to score (and route) what the window ingested; (still pending, seconds waited)."""
    started = time.monotonic()
    with psycopg.connect(db_url(DB), autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM reviews_conversation WHERE source_id = %s AND scoring_status <> 'scored'",
                (setup.ingest_source,),
            ).fetchone()
            pending = int(row[0]) if row else 0
            if pending == 0 or time.monotonic() - started > DRAIN_S:
                return pending, time.monotonic() - started
            time.sleep(0.5)


def db_facts(setup: Setup) -> dict[str, Any]:
    with psycopg.connect(db_url(DB)) as conn:

        def one(sql: str, *args: Any) -> int:
            row = conn.execute(sql, args).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        lags = [
            float(lag)
            for (lag,) in conn.execute(
                "SELECT extract(epoch FROM min(i.created_at) - c.received_at) FROM reviews_conversation c"
                " JOIN reviews_reviewitem i ON i.conversation_id = c.id"
                " WHERE c.source_id = %s AND c.external_id LIKE 'load-%%' GROUP BY c.id",
                (setup.ingest_source,),
            )
        ]
        return {
            "over_decided": one(
                "SELECT count(*) FROM (SELECT i.id FROM reviews_reviewitem i"
                " JOIN reviews_decision d ON d.item_id = i.id WHERE NOT d.is_final"
                " GROUP BY i.id HAVING count(*) > max(i.reviews_required)) AS over"
            ),
            "decisions": one(
                "SELECT count(*) FROM reviews_decision d JOIN auth_user u ON u.id = d.reviewer_id"
                " WHERE u.username LIKE 'reviewer-%%'"
            ),
            "stored": one(
                "SELECT count(*) FROM reviews_conversation WHERE source_id = %s AND external_id LIKE 'load-%%'",
                setup.ingest_source,
            ),
            "routing_lag_ms": [1000 * lag for lag in lags],
        }
