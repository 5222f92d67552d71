"""PostgreSQL restarted under ingest: a real ASGI server (daphne) on a PostgreSQL cluster of the test's own.

The shared cluster other tests use is never touched: this one is initdb'd into a temporary folder, on a free
port, and thrown away at the end. Requests in flight or arriving while it is down must get 503 with
Retry-After and leave nothing half-written; once it is back, requests succeed again.
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
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
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
        self.in_flight_since: float | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.server.token}"}
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=30) as client:
            for n in range(400):
                if self.stop.is_set():
                    return
                flags = {f"{self.name}-{n}-{k}": 1 + (k % 3) for k in range(self.size)}
                body = {"conversations": [_conversation(eid, count) for eid, count in flags.items()]}
                began = self.in_flight_since = time.monotonic()
                try:
                    response = client.post("/api/v1/conversations", json=body)
                    status, retry_after, error = response.status_code, response.headers.get("Retry-After"), ""
                except httpx.TransportError as exc:
                    status, retry_after, error = None, None, repr(exc)
                self.in_flight_since = None
                self.sent.append(Sent(flags, began, time.monotonic(), status, retry_after, error))
                time.sleep(0.02)


def _stored_flags(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.external_id, count(f.id) FROM reviews_conversation c"
            " LEFT JOIN reviews_flag f ON f.conversation_id = c.id GROUP BY c.external_id"
        ).fetchall()
    return dict(rows)


def _in_flight_for(sender: Sender, seconds: float) -> bool:
    since = sender.in_flight_since
    return since is not None and time.monotonic() - since > seconds


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.timeout(300)
def test_postgres_restart_during_ingest_answers_503_with_retry_after_and_writes_nothing_by_halves(
    private_postgres, server
):
    stop = threading.Event()
    # Small batches keep requests coming; the large one (a thousand conversations) is in flight at the stop.
    large = Sender(server, "large", 1000, stop)
    senders = [Sender(server, "small-a", 5, stop), Sender(server, "small-b", 5, stop), large]
    for sender in senders:
        sender.start()
    try:
        wait_until(lambda: any(s.status == 202 for s in large.sent), "a large batch accepted")
        typical = min(s.ended - s.began for s in large.sent if s.status == 202)
        wait_until(lambda: _in_flight_for(large, 0.4 * typical), "the next large batch half way")
        down_at = time.monotonic()
        private_postgres.stop("fast")
        time.sleep(1.5)  # requests keep arriving while it is down
        private_postgres.start()
        up_at = time.monotonic()
        time.sleep(4)  # and after it is back
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=60)
    sent = [s for sender in senders for s in sender.sent]

    assert not [s.error for s in sent if s.status is None], "a request got no HTTP answer"
    statuses = {s.status for s in sent}
    assert statuses <= {202, 503}, f"only 202 or 503 may come back, got {statuses}"
    unavailable = [s for s in sent if s.status == 503]
    assert unavailable, "no request met the restart: it proved nothing"
    assert all(s.retry_after and int(s.retry_after) > 0 for s in unavailable)
    in_flight = [s for s in large.sent if s.began < down_at < s.ended]
    assert in_flight and in_flight[0].status == 503, "the batch in flight was not refused"
    after = [s for s in sent if s.began > up_at]
    assert after and all(s.status == 202 for s in after), "requests sent after the restart must succeed"

    stored = _stored_flags(private_postgres.url)
    for s in sent:
        if s.status == 202:  # accepted: every conversation with every flag
            assert {eid: stored.get(eid) for eid in s.flags} == s.flags
        else:  # refused: nothing of it, or (committed just before the connection dropped) all of it
            kept = {eid: stored[eid] for eid in s.flags if eid in stored}
            assert kept in ({}, s.flags), "a refused batch was half-written"
