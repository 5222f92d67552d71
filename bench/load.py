"""Load: ingest at a steady rate while reviewers claim and decide and a dataset export runs.

Everything goes over HTTP on 127.0.0.1 to the product as deployed (docker-compose.yml), on a
throw-away PostgreSQL database (``oversight_bench_load``, migrated, dropped at the end, also on
error) and Redis db 7 (flushed at the start and at the end):

- ``--servers`` Daphne processes (default 2) with DEBUG off; a Celery worker on ``score`` and one on
  ``default``, concurrency 1 each. No ScoringModel exists, so the score worker scores with the
  detectors' own scores (the fallback) and routes: cheap, so this loads the web tier, the broker and
  the database, not the encoder.
- Before the window: ``--reviewers`` users in the ``reviewer`` group (one password, hashed once); an
  ingest token (a ``red_team`` source: the default policy sends its traffic to triage) and an export
  token (``ml_export``); a backlog of open items (``--backlog``; by default enough that reviewers never
  run dry), demo conversations inserted, scored with the fallback and routed by the services
  in-process; and ``--history`` old decided items (SQL) for the export to read. One ingest batch
  goes through the API and the worker first, so the pipeline is known to work before the clock starts.

The window (``--seconds``), from one asyncio process with ``httpx.AsyncClient``:

- **ingest**: open loop: a batch of ``--batch`` conversations every batch/rate seconds (``--rate``
  conversations per second), each POST /api/v1/conversations in its own task on schedule, whatever
  the earlier ones are doing (bodies encoded before the window). Latency: send to 202.
- **reviewers**: each signs in through the login form (CSRF token from the page) before the window,
  then loops: POST claim-next (as htmx, like the workspace), think ``--think`` seconds, POST the
  decision (its answer carries the next item, claimed server-side, as in the browser). So each decision
  costs two claims on the server: the claim-next after it re-serves the item the decision's answer
  leased (the same UPDATE … SKIP LOCKED), unless a higher-priority item arrived meanwhile; then the
  reviewer gets that one and the earlier stays leased to them (counted: "handed a new item while
  holding one").
- **export**: at a fifth of the window, POST /api/v1/datasets (``eval`` JSONL) with the export
  token, then GET it every second until it is ready (it may finish after the window, within a grace).
- **baseline**: GET /login/ at ``--probe-rate`` per second, open loop: a Django page with no database
  work, served by the same processes under the same load. Ratios are against its p99.

The servers run with production settings, as behind a TLS-terminating proxy:
``SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto``, which every request sets to ``https`` (with the ``Origin``
a browser sends), so the HTTPS redirect, HSTS, Secure cookies and CSRF origin checks all run; the client
keeps the Secure session and CSRF cookies for its plain-http hop to 127.0.0.1. The API rate limit is
counted in Redis as deployed but set out of reach (the one ingest token sends what ``--rate`` says).

Afterwards, from the client's claim log and the database: **double claims** (an item held by two
reviewers at once: a hold runs from the answer that handed the item over to the send of its decision,
or to the end of the run, at most a lease), items with more decisions than they need, decisions
recorded against decisions answered, conversations stored against accepted, and the ingest-to-routed
lag. Printed: a progress line per ``--slice`` seconds; per measurement the whole-window p50, p99 and
max and the median over slices of each slice's p99; errors by kind (an answer other than the one
expected: 200, 202 or 302; a timeout after 30 s; a refused connection). Exit status 1 on any error or double claim.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth; Redis on
127.0.0.1:6379)::

    .venv/bin/python bench/load.py                                # 60 s, 20 conversations/s, 50 reviewers
    .venv/bin/python bench/load.py --seconds 15 --reviewers 10    # a smoke run (~1.5 minutes in all)
"""

from __future__ import annotations

import sys

# Run as a file, this folder is first on sys.path and bench/queue.py would shadow the standard
# library's `queue` (psycopg, redis and httpx's dependencies import it): put the repository root there instead.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import http.client
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from bench.ingest import admin, db_url, drop_database, free_port  # the scratch-database helpers

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
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
    os.environ.update(server_env(media))
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "oversight.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


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


# --- The load -----------------------------------------------------------------------------------


@dataclass
class Hold:
    reviewer: int
    start: float
    end: float | None = None


@dataclass
class Load:
    """The window: ingest, reviewers, the export and the baseline probe, all on one event loop."""

    p: Params
    setup: Setup
    ports: list[int]
    bodies: list[bytes]
    t0: float = 0.0
    deadline: float = 0.0
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    holds: dict[int, list[Hold]] = field(default_factory=lambda: defaultdict(list))
    held: dict[int, dict[int, Hold]] = field(default_factory=lambda: defaultdict(dict))  # reviewer → item → open
    decided: int = 0
    accepted: int = 0
    empty: int = 0
    switched: int = 0
    send_lag_ms: list[float] = field(default_factory=list)
    export: dict[str, Any] = field(default_factory=dict)

    def client(self, port: int, **kwargs: Any) -> httpx.AsyncClient:
        # What a TLS-terminating proxy and a browser add: the scheme, and the Origin of every request.
        headers = {PROXY_HEADER: "https", "Origin": f"https://127.0.0.1:{port}"}
        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers=headers,
            timeout=REQUEST_TIMEOUT_S,
            follow_redirects=False,
            **kwargs,
        )

        async def plain_http_cookies(response: httpx.Response) -> None:
            # The session and CSRF cookies are Secure (the server sees https); the hop to it is plain http.
            for cookie in client.cookies.jar:
                cookie.secure = False

        client.event_hooks["response"] = [plain_http_cookies]
        return client

    async def call(
        self,
        client: httpx.AsyncClient,
        name: str,
        method: str,
        url: str,
        *,
        expect: tuple[int, ...] = (200,),
        **kw: Any,
    ) -> httpx.Response | None:
        """One request; its latency when it is in the window and answered as expected, else an error by kind."""
        start = time.monotonic()
        try:
            answer = await client.request(method, url, **kw)
        except httpx.TimeoutException:
            self.errors[f"{name}: timeout"] += 1
            return None
        except httpx.HTTPError as exc:
            self.errors[f"{name}: {type(exc).__name__}"] += 1
            return None
        if answer.status_code not in expect:
            self.errors[f"{name}: HTTP {answer.status_code}"] += 1
            return None
        if self.t0 <= start < self.deadline:
            self.samples[name].append((start - self.t0, 1000 * (time.monotonic() - start)))
        return answer

    # --- reviewers

    async def sign_in(self, client: httpx.AsyncClient, index: int) -> bool:
        page = await self.call(client, "login", "GET", "/login/")
        token = CSRF_INPUT.search(page.text) if page is not None else None
        if page is not None and token is None:
            self.errors["login: no CSRF token on the page"] += 1
        if token is None:
            return False
        form = {"username": reviewer_name(index), "password": PASSWORD, "csrfmiddlewaretoken": token[1]}
        return await self.call(client, "login", "POST", "/login/", expect=(302,), data=form) is not None

    def htmx(self, client: httpx.AsyncClient) -> dict[str, str]:
        return {"HX-Request": "true", "X-CSRFToken": client.cookies.get("csrftoken") or ""}

    def handed(self, answer: httpx.Response | None, reviewer: int) -> int | None:
        """The item an answer put in front of the reviewer (HX-Push-Url), logged as held from now."""
        if answer is None:
            return None
        match = PUSHED_ITEM.search(answer.headers.get("HX-Push-Url", ""))
        if match is None:
            self.empty += 1  # the queue had nothing for this reviewer
            return None
        item, mine = int(match[1]), self.held[reviewer]
        if item not in mine:
            if mine:
                self.switched += 1  # handed a new item while a leased one was still theirs
            mine[item] = Hold(reviewer, time.monotonic())
            self.holds[item].append(mine[item])
        return item

    async def review(self, client: httpx.AsyncClient, index: int) -> None:
        rng = random.Random(f"{SEED}-{index}")
        while time.monotonic() < self.deadline:
            claimed = await self.call(client, "claim", "POST", f"/queues/{QUEUE}/next/", headers=self.htmx(client))
            item = self.handed(claimed, index)
            if item is None:
                await asyncio.sleep(0.5)  # an error or an empty queue: don't spin
                continue
            await asyncio.sleep(rng.uniform(*self.p.think))
            if time.monotonic() >= self.deadline:
                break
            verdict = rng.choice(VERDICTS)
            form = {
                "verdict": verdict,
                "severity": str(rng.randint(0, 4)),
                "rationale": "load bench",
                "preferred_response": "A better answer." if verdict in FAILURES else "",
                "seconds": str(rng.randint(5, 120)),
            }
            sent = time.monotonic()
            answer = await self.call(
                client, "decide", "POST", f"/items/{item}/decide/", data=form, headers=self.htmx(client)
            )
            if answer is None:
                continue
            self.decided += 1
            self.held[index].pop(item).end = sent
            self.handed(answer, index)

    # --- ingest, export, baseline

    async def ingest(self, client: httpx.AsyncClient) -> None:
        interval = self.p.batch / self.p.rate
        headers = {"Authorization": f"Bearer {self.setup.ingest_token}", "Content-Type": "application/json"}
        sent: list[asyncio.Task[None]] = []
        for k, body in enumerate(self.bodies):
            at = self.t0 + k * interval
            if at >= self.deadline:
                break
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            self.send_lag_ms.append(1000 * max(0.0, time.monotonic() - at))
            sent.append(asyncio.create_task(self.ingest_one(client, body, headers)))
        await asyncio.gather(*sent)

    async def ingest_one(self, client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> None:
        answer = await self.call(
            client, "ingest", "POST", "/api/v1/conversations", expect=(202,), content=body, headers=headers
        )
        if answer is not None:
            accepted = int(answer.json()["accepted"])
            self.accepted += accepted
            if accepted != self.p.batch:
                self.errors["ingest: accepted fewer than sent"] += 1

    async def probe(self, clients: list[httpx.AsyncClient]) -> None:
        """The baseline: GET /login/ on schedule, round robin over the servers, each in its own task."""
        sent: list[asyncio.Task[Any]] = []
        for k in range(int(self.p.seconds * self.p.probe_rate)):
            await asyncio.sleep(max(0.0, self.t0 + k / self.p.probe_rate - time.monotonic()))
            sent.append(asyncio.create_task(self.call(clients[k % len(clients)], "baseline", "GET", "/login/")))
        await asyncio.gather(*sent)

    async def run_export(self, client: httpx.AsyncClient) -> None:
        await asyncio.sleep(max(0.0, self.t0 + EXPORT_AT * self.p.seconds - time.monotonic()))
        headers = {"Authorization": f"Bearer {self.setup.export_token}"}
        started = time.monotonic()
        body = {"kind": "eval", "format": "jsonl"}
        answer = await self.call(
            client, "export", "POST", "/api/v1/datasets", expect=(202,), json=body, headers=headers
        )
        if answer is None:
            return
        dataset = answer.json()["id"]
        self.export = {"id": dataset, "started_s": started - self.t0}
        while time.monotonic() < self.deadline + EXPORT_GRACE_S:
            await asyncio.sleep(1.0)
            polled = await self.call(client, "export poll", "GET", f"/api/v1/datasets/{dataset}", headers=headers)
            if polled is None:
                continue
            state = polled.json()
            if state["status"] == "ready":
                self.export |= {"rows": state["row_count"], "seconds": time.monotonic() - started}
                return
            if state["status"] in ("failed", "cancelled"):
                self.errors[f"export: {state['status']}"] += 1
                self.export["error"] = state["error"]
                return
        self.errors["export: not ready within the grace after the window"] += 1

    async def progress(self) -> None:
        shown = 0
        while time.monotonic() < self.deadline:
            await asyncio.sleep(max(0.0, min(self.p.slice_s, self.deadline - time.monotonic())))
            now = time.monotonic() - self.t0
            recent = {n: [ms for t, ms in s if t >= now - self.p.slice_s] for n, s in self.samples.items()}
            p99 = ", ".join(f"{n} p99 {percentile(v, 99):.0f} ms" for n, v in recent.items() if v and n != "login")
            print(
                f"  {now:5.0f}s  {self.decided - shown} decisions  {sum(self.errors.values())} errors  {p99}",
                flush=True,
            )
            shown = self.decided

    async def run(self) -> None:
        reviewers = [self.client(self.ports[i % len(self.ports)]) for i in range(self.p.reviewers)]
        others = [self.client(port) for port in self.ports]
        ingest = self.client(self.ports[0], limits=httpx.Limits(max_connections=1000))
        try:
            gate = asyncio.Semaphore(2 * len(self.ports))  # each login hashes a password: don't queue 50 at once

            async def sign_in(index: int) -> bool:
                async with gate:
                    return await self.sign_in(reviewers[index], index)

            print(f"signing in {self.p.reviewers} reviewers ...", flush=True)
            signed = await asyncio.gather(*(sign_in(i) for i in range(self.p.reviewers)))
            self.t0 = time.monotonic()
            self.deadline = self.t0 + self.p.seconds
            print(f"window: {self.p.seconds:.0f}s ({sum(signed)} reviewers signed in)", flush=True)
            await asyncio.gather(
                *(self.review(client, i) for i, client in enumerate(reviewers) if signed[i]),
                self.ingest(ingest),
                self.probe(others),
                self.run_export(others[-1]),
                self.progress(),
            )
        finally:
            for client in [*reviewers, *others, ingest]:
                await client.aclose()

    def double_claims(self) -> list[tuple[int, int, int]]:
        """(item, reviewer, reviewer) for every two holds of one item by different reviewers that overlap."""
        end_of_run = time.monotonic()
        found = []
        for item, holds in self.holds.items():
            spans = sorted(
                (h.start, h.end if h.end is not None else min(end_of_run, h.start + self.setup.lease_s), h.reviewer)
                for h in holds
            )
            for i, (_, end_a, who_a) in enumerate(spans):
                found += [
                    (item, who_a, who_b) for start_b, _, who_b in spans[i + 1 :] if who_b != who_a and start_b < end_a
                ]
        return found


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


# --- Report ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else math.nan


def slice_p99(samples: list[tuple[float, float]], width: float) -> float:
    """Median over the window's slices of each slice's p99."""
    slices: dict[int, list[float]] = defaultdict(list)
    for t, ms in samples:
        slices[int(t // width)].append(ms)
    return statistics.median(percentile(v, 99) for v in slices.values()) if slices else math.nan


ROWS = [
    ("baseline", "baseline: GET /login/"),
    ("ingest", "ingest: POST batch"),
    ("claim", "claim-next: POST"),
    ("decide", "decide (+ next claim): POST"),
    ("export poll", "export: GET status"),
]


def report(
    load: Load, facts: dict[str, Any], pending: int, drained_s: float, doubles: list[tuple[int, int, int]]
) -> int:
    """Print the figures; the number of failures (errors, double claims, inconsistencies)."""
    p, s = load.p, load.samples
    base99 = percentile([ms for _, ms in s["baseline"]], 99)
    print(f"\n{'measurement (ms)':<30} {'n':>6} {'p50':>8} {'p99':>8} {'slice p99':>10} {'max':>8} {'p99/base':>9}")
    for key, label in ROWS:
        values = [ms for _, ms in s[key]]
        if not values:
            print(f"{label:<30} {0:>6}")
            continue
        p99 = percentile(values, 99)
        print(f"{label:<30} {len(values):>6} {percentile(values, 50):>8.1f} {p99:>8.1f}"
              f" {slice_p99(s[key], p.slice_s):>10.1f} {max(values):>8.1f} {p99 / base99:>8.1f}x")  # fmt: skip
    lag = facts["routing_lag_ms"]
    print(
        f"\ndecisions/s {load.decided / p.seconds:.1f} ({load.decided} in {p.seconds:.0f}s by {p.reviewers} reviewers;"
        f" {facts['decisions']} recorded); queue-empty answers {load.empty};"
        f" handed a new item while holding one {load.switched}"
        f"\ningest: {load.accepted} accepted, {facts['stored']} stored ({load.accepted / p.seconds:.1f}/s, target"
        f" {p.rate:g}/s); client send lag p99 {percentile(load.send_lag_ms, 99):.0f} ms;"
        f" ingest→routed p50 {percentile(lag, 50):.0f} ms p99 {percentile(lag, 99):.0f} ms;"
        f" unscored {pending} after draining {drained_s:.0f}s"
    )
    export = load.export
    if "rows" in export:
        print(f"export: eval JSONL of {export['rows']:,} rows, started at {export['started_s']:.0f}s,"
              f" ready after {export['seconds']:.1f}s ({export['rows'] / export['seconds']:,.0f} rows/s)")  # fmt: skip
    else:
        print(f"export: not ready ({export})")
    failures = dict(load.errors)
    if doubles:
        failures["double claims (client log)"] = len(doubles)
    if facts["over_decided"]:
        failures["items with more decisions than required (db)"] = facts["over_decided"]
    if facts["decisions"] != load.decided:
        failures["decisions recorded ≠ decisions answered"] = abs(facts["decisions"] - load.decided)
    if facts["stored"] != load.accepted:
        failures["conversations stored ≠ accepted"] = abs(facts["stored"] - load.accepted)
    print(f"double claims: {len(doubles)} (over {len(load.holds):,} items handed out); items over-decided:"
          f" {facts['over_decided']}")  # fmt: skip
    print("errors: " + ("none" if not failures else ", ".join(f"{k} x{v}" for k, v in sorted(failures.items()))))
    return sum(failures.values())


# --- Main -----------------------------------------------------------------------------------------


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds the ExitStack: servers and workers stopped, database dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="length of the window (default 60)")
    parser.add_argument("--rate", type=float, default=20, help="conversations ingested per second (default 20)")
    parser.add_argument("--batch", type=int, default=10, help="conversations per ingest request (default 10)")
    parser.add_argument("--reviewers", type=int, default=50, help="simulated reviewers (default 50)")
    parser.add_argument("--servers", type=int, default=2, help="Daphne processes (default 2)")
    parser.add_argument("--think", type=float, nargs=2, default=(0.2, 1.0), metavar=("MIN", "MAX"),
                        help="seconds a reviewer looks at an item (default 0.2 1.0)")  # fmt: skip
    parser.add_argument("--backlog", type=int, default=None, help="open items before the window (default: plenty)")
    parser.add_argument("--history", type=int, default=20_000, help="decided items for the export (default 20,000)")
    parser.add_argument("--probe-rate", type=float, default=2, help="baseline requests per second (default 2)")
    parser.add_argument("--slice", type=float, default=10, help="seconds per progress line and p99 slice")
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DB} afterwards")
    args = parser.parse_args()
    if min(args.seconds, args.rate, args.batch, args.reviewers, args.servers, args.probe_rate, args.slice) <= 0:
        parser.error("every number must be positive")
    if not 0 <= args.think[0] <= args.think[1] or args.think[1] == 0 or min(args.backlog or 0, args.history) < 0:
        parser.error("--think needs 0 <= MIN <= MAX and MAX > 0; --backlog and --history can't be negative")
    # A reviewer decides at most once per think time: 1.5 times what they could all decide at the mean think
    # time, not counting what ingest adds, so nobody runs dry.
    mean_think = sum(args.think) / 2
    backlog = (
        args.backlog
        if args.backlog is not None
        else max(2000, math.ceil(1.5 * args.reviewers * args.seconds / mean_think))
    )
    p = Params(args.seconds, args.rate, args.batch, args.reviewers, args.servers, tuple(args.think), backlog,
               args.history, args.probe_rate, args.slice)  # fmt: skip
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    failures = 0
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        (tmp / "media").mkdir()
        broker = redis.Redis.from_url(REDIS_URL)
        broker.flushdb()
        stack.callback(broker.flushdb)
        drop_database(DB)
        admin(f'CREATE DATABASE "{DB}"')
        if not args.keep:
            stack.callback(drop_database, DB)
        print(f"migrating; seeding {p.reviewers} reviewers, {p.backlog:,} open items, {p.history:,} decided ...",
              flush=True)  # fmt: skip
        setup_django(tmp / "media")
        setup = seed(p)
        from django.db import connections

        connections.close_all()
        processes = Processes(tmp, server_env(tmp / "media"))
        stack.callback(processes.stop)
        try:
            print(
                f"  {setup.open_items:,} open items in {QUEUE}; starting {p.servers} daphne, 2 workers ...", flush=True
            )
            processes.worker("score")
            processes.worker("default")
            ports = [processes.daphne(i) for i in range(p.servers)]
            for port in ports:
                wait_page(port, processes)
            print(f"  warm-up batch scored and routed in {warm_up(ports[0], setup, processes):.1f}s", flush=True)
            load = Load(p, setup, ports, ingest_bodies(p))
            asyncio.run(load.run())
            doubles = load.double_claims()
            processes.check()
            pending, drained_s = drain(setup)
            failures = report(load, db_facts(setup), pending, drained_s, doubles)
            if failures:
                print(processes.tails(), file=sys.stderr)
        except BaseException:
            print(processes.tails(), file=sys.stderr)
            raise
    print(f"\nparameters: {p}\nmeasured on this machine under whatever else runs on it; total"
          f" {time.monotonic() - started:.0f}s")  # fmt: skip
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
