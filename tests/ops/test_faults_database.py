"""PostgreSQL restarted under ingest: a real ASGI server (daphne) on a PostgreSQL cluster of the test's own.

The shared cluster other tests use is never touched: this one is initdb'd into a temporary folder, on a free
port, and thrown away at the end. Requests in flight or arriving while it is down must get 503 with
Retry-After and leave nothing half-written; once it is back, requests succeed again.

Nothing here is timed: the batch that must be in flight at the stop is held inside its transaction by a lock
the test owns (see `hold_flags_of`), and every other request is judged by the invariant alone
(202: all of its batch stored; 503: none of it), whenever it happened to run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
AS_ROOT = os.geteuid() == 0

pytestmark = [
    pytest.mark.skipif(not PG_BINS, reason="needs PostgreSQL's server binaries (initdb, pg_ctl)"),
    pytest.mark.skipif(AS_ROOT and not shutil.which("runuser"), reason="as root, initdb must run as postgres"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """A throwaway cluster: trust auth, loopback only, its own port and socket folder."""

    def __init__(self) -> None:
        self.bin = Path(PG_BINS[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="oversight-pg-"))
        if AS_ROOT:  # initdb refuses root; the server runs as the postgres user
            shutil.chown(self.dir, user="postgres")
        self.port = _free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/oversight"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if AS_ROOT:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE oversight")

    def start(self) -> None:
        # One prepared transaction: the lock `hold_flags_of` takes outlives the backends a stop terminates.
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_prepared_transactions=1"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: backends are terminated at once, their open transactions rolled back."""
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-w", "-m", mode, "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


@dataclasses.dataclass
class Server:
    url: str
    token: str


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300
    )
    return done.stdout


@pytest.fixture
def server(private_postgres: PrivatePostgres) -> Iterator[Server]:
    """daphne serving the app on the private cluster, migrated, with one source and its token."""
    env = os.environ | {
        "DATABASE_URL": private_postgres.url,
        "API_RATE_LIMIT_PER_MINUTE": "0",  # the test sends hundreds of requests a minute with one token
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    _manage(env, "migrate", "--noinput")
    token = _manage(env, "create_source", "restart-detector", "--kind", "output_classifier").strip().splitlines()[-1]
    port = _free_port()
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "oversight.asgi:application"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            pytest.fail("daphne did not come up")
        yield Server(url=url, token=token)
    finally:
        process.kill()
        process.wait()


@dataclasses.dataclass
class Sent:
    flags: dict[str, int]  # external id → number of flags sent
    began: float
    ended: float
    status: int | None  # None: no HTTP answer at all
    retry_after: str | None
    error: str = ""


def _conversation(external_id: str, flags: int) -> dict[str, object]:
    return {
        "external_id": external_id,
        "model": "assistant-7b",
        "messages": [{"role": "user", "content": f"question {external_id}"}, {"role": "assistant", "content": "ok"}],
        "flags": [{"detector": f"d{i}", "category": "cyber", "score": 0.5} for i in range(flags)],
    }


class Sender(threading.Thread):
    """Posts batches of `size` fresh conversations one after another, until told to stop (or 400 requests)."""

    def __init__(self, server: Server, name: str, size: int, stop: threading.Event) -> None:
        super().__init__()
        self.server, self.name, self.size, self.stop = server, name, size, stop
        self.sent: list[Sent] = []

    def external_id(self, n: int, k: int) -> str:
        """The external id of the `k`th conversation of this sender's `n`th batch."""
        return f"{self.name}-{n}-{k}"

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.server.token}"}
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=30) as client:
            for n in range(400):
                if self.stop.is_set():
                    return
                flags = {self.external_id(n, k): 1 + (k % 3) for k in range(self.size)}
                body = {"conversations": [_conversation(eid, count) for eid, count in flags.items()]}
                began = time.monotonic()
                try:
                    response = client.post("/api/v1/conversations", json=body)
                    status, retry_after, error = response.status_code, response.headers.get("Retry-After"), ""
                except httpx.TransportError as exc:
                    status, retry_after, error = None, None, repr(exc)
                self.sent.append(Sent(flags, began, time.monotonic(), status, retry_after, error))
                time.sleep(0.02)


def _stored_flags(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.external_id, count(f.id) FROM reviews_conversation c"
            " LEFT JOIN reviews_flag f ON f.conversation_id = c.id GROUP BY c.external_id"
        ).fetchall()
    return dict(rows)


HOLD_LOCK = 19  # the advisory lock the held batch waits for
HOLD = "hold-the-batch"  # the prepared transaction that holds it


def hold_flags_of(url: str, external_id: str) -> None:
    """Make the batch carrying `external_id` wait, as it writes that conversation's flags, until `release_hold`.

    A trigger (on this throwaway cluster only) makes a flag of that conversation wait for an advisory lock
    the test holds: its batch stops inside its transaction with all its conversations and the flags before
    that one written. The lock is held by a prepared transaction, which belongs to no backend: stopping the
    server cannot release it before the waiting batch's backend is terminated, so that batch cannot commit.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION test_hold_flag() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF EXISTS (SELECT FROM reviews_conversation WHERE id = NEW.conversation_id AND external_id = TG_ARGV[0])"
            f" THEN PERFORM pg_advisory_xact_lock({HOLD_LOCK}); END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER test_hold_flag BEFORE INSERT ON reviews_flag FOR EACH ROW"
            f" EXECUTE FUNCTION test_hold_flag('{external_id}')"
        )
        conn.execute("BEGIN")
        conn.execute(f"SELECT pg_advisory_xact_lock({HOLD_LOCK})")
        conn.execute(f"PREPARE TRANSACTION '{HOLD}'")


def release_hold(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ROLLBACK PREPARED '{HOLD}'")


def held_batch_waiting(url: str) -> bool:
    """Whether an ingest is writing flags, inside its transaction, and waiting for the hold."""
    with psycopg.connect(url, autocommit=True) as conn:
        waiting = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.objid = %s AND NOT l.granted"
            " AND a.backend_xid IS NOT NULL AND a.query LIKE 'COPY reviews_flag%%'",
            [HOLD_LOCK],
        ).fetchone()
    return bool(waiting and waiting[0])


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll `condition`; the timeout only bounds a failure, nothing waits for it to pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def _answered_since(sender: Sender, since: float, count: int) -> bool:
    return sum(s.began > since for s in sender.sent) >= count


@pytest.mark.timeout(300)
def test_postgres_restart_during_ingest_answers_503_with_retry_after_and_writes_nothing_by_halves(
    private_postgres, server
):
    stop = threading.Event()
    # Small batches keep requests coming; the first large one (a thousand conversations) is held in its
    # transaction, at the flags of its last conversation, when the server stops.
    large = Sender(server, "large", 1000, stop)
    small = [Sender(server, "small-a", 5, stop), Sender(server, "small-b", 5, stop)]
    senders = [*small, large]
    hold_flags_of(private_postgres.url, large.external_id(0, large.size - 1))
    for sender in senders:
        sender.start()
    try:
        wait_until(lambda: bool(large.sent) or held_batch_waiting(private_postgres.url), "the large batch held")
        assert not large.sent, f"the large batch was answered instead of held: {large.sent}"
        down_at = time.monotonic()
        private_postgres.stop("fast")
        # Requests keep arriving while it is down: each small sender is answered at least once meanwhile.
        wait_until(lambda: all(_answered_since(s, down_at, 1) for s in small), "requests while it is down")
        private_postgres.start()
        release_hold(private_postgres.url)  # the held batch's backend went with the stop; its ids are never resent
        up_at = time.monotonic()
        # And after it is back: a few requests from every sender, the large one included.
        wait_until(lambda: all(_answered_since(s, up_at, 2) for s in senders), "requests after the restart")
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=60)
    sent = [s for sender in senders for s in sender.sent]
    stored = _stored_flags(private_postgres.url)

    assert not [s.error for s in sent if s.status is None], "a request got no HTTP answer"
    statuses = {s.status for s in sent}
    assert statuses <= {202, 503}, f"only 202 or 503 may come back, got {statuses}"
    held = large.sent[0]
    assert held.status == 503 and held.retry_after, f"the batch in flight at the stop was not refused: {held}"
    assert not [eid for eid in held.flags if eid in stored], "the refused batch in flight left rows behind"
    unavailable = [s for s in sent if s.status == 503]
    assert all(s.retry_after and int(s.retry_after) > 0 for s in unavailable), "a 503 without Retry-After"
    after = [s for s in sent if s.began > up_at]
    assert all(s.status == 202 for s in after), "requests sent after the restart must succeed"
    for s in sent:
        kept = {eid: stored[eid] for eid in s.flags if eid in stored}
        if s.status == 202:  # accepted: every conversation with every flag
            assert kept == s.flags, f"an accepted batch is missing rows: {s}"
        else:  # refused: nothing of it
            assert kept == {}, f"a refused batch left {len(kept)} of {len(s.flags)} conversations: {s}"
