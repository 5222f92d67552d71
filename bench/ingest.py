"""Ingest throughput: the real HTTP API against a raw PostgreSQL COPY of the same rows.

What it measures, all in one run on a throw-away database:

1. Conversations/second through ``POST /api/v1/conversations`` on a real Daphne
   server (DEBUG off, scoring only *enqueued* to Redis db 14, never run), from a
   sequential keep-alive ``http.client`` client, at batch sizes 100 and 1,000.
2. The same rows written with psycopg ``COPY`` into ``reviews_conversation`` and
   ``reviews_flag`` (ids reserved with ``nextval``), one commit per batch of the
   same size: the ceiling for this schema on this machine. Printed: API/COPY.
3. The API rate at batch 1,000 against a table already holding 1,000,000
   conversations (100,000 with ``--quick``) versus an empty one. Printed:
   prefilled/empty (the target is no more than 10% slower).

Every measurement starts from an empty table (TRUNCATE) except the prefilled
one, which runs on a second database cloned from the first (same source and
token) and filled once in SQL, then VACUUM ANALYZEd and checkpointed. Each
measurement uses fresh external ids. Rounds repeat every measurement,
interleaved and in alternating order so machine drift hits all alike; the
figures are medians over rounds. Request bodies are JSON-encoded before the
clock starts: the client is only a load generator, and a detector sends bytes it
already has (encoding inside the timed region put the client's own garbage
collection of its large heap, not the server, on the critical path). COPY rows
are encoded by psycopg inside its timed region, as that is part of COPY.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres,
trust auth; Redis on 127.0.0.1:6379)::

    .venv/bin/python bench/ingest.py            # ~2.5 minutes on 2 cores
    .venv/bin/python bench/ingest.py --quick    # ~30 seconds

Both databases are dropped, the servers stopped and Redis db 14 flushed at the
end, also on error.
"""

from __future__ import annotations

import sys

# Run as a file, this folder is first on sys.path and bench/queue.py would shadow the standard
# library's `queue` (psycopg and redis import it): put the repository root there instead.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG_URL = "postgres://postgres@127.0.0.1:5432"
DB_EMPTY = "oversight_bench"
DB_FULL = "oversight_bench_full"
REDIS_URL = "redis://127.0.0.1:6379/14"
SEED = 1729

Conversation = dict[str, Any]
Batch = list[Conversation]


@dataclass(frozen=True)
class Params:
    batch_sizes: tuple[int, ...] = (100, 1000)
    per_measurement: int = 20_000  # conversations per timed measurement
    rounds: int = 5
    prefill: int = 1_000_000
    pool: int = 5_000  # distinct generated conversations; each use gets a fresh external id
    message_chars: tuple[int, int] = (200, 600)
    messages: tuple[int, int] = (2, 4)
    flags: tuple[int, int] = (1, 3)


FULL = Params()
QUICK = Params(per_measurement=5_000, rounds=3, prefill=100_000, pool=2_000)


# --- Synthetic data -----------------------------------------------------------

_VOCABULARY = (
    "the a of to and in is it that for you with on as can be this how what I my your model answer question "
    "please explain step detail example help request policy safety risk code script file system user data "
    "chemical synthesis network access password account bank transfer medical dose symptom weapon legal advice "
    "story character write summary translate email draft refuse sorry cannot provide instead here are some "
    "general information consider contacting professional resources guidelines however important note"
)
WORDS = tuple(_VOCABULARY.split())
DETECTORS = ("input-guard-v2", "output-clf-v5", "cot-monitor-v1", "pii-scan-v3")
CATEGORIES = ("cbrn", "cyber", "self_harm", "violence", "fraud", "privacy", "hate", "sexual", "weapons", "other")
MODELS = ("assistant-large-2025-06", "assistant-small-2025-04", "assistant-large-2025-01")


def _text(rng: random.Random, low: int, high: int) -> str:
    target = rng.randint(low, high)
    words: list[str] = []
    length = 0
    while length < target:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:target]


def make_conversation(rng: random.Random, p: Params) -> Conversation:
    """One conversation without its external id: alternating turns, 1-3 flags, small metadata."""
    count = rng.randint(*p.messages)
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": _text(rng, *p.message_chars)} for i in range(count)
    ]
    flags = [
        {
            "detector": rng.choice(DETECTORS),
            "category": rng.choice(CATEGORIES),
            "score": round(rng.random(), 4),
            "explanation": _text(rng, 40, 160),
            "message_index": rng.choice([None, rng.randrange(count)]),
        }
        for _ in range(rng.randint(*p.flags))
    ]
    metadata = {
        "lang": rng.choice(["en", "de", "fr", "ja"]),
        "region": rng.choice(["us", "eu", "apac"]),
        "session": f"{rng.getrandbits(64):016x}",
        "sampled": rng.random() < 0.1,
    }
    return {"model": rng.choice(MODELS), "messages": messages, "flags": flags, "metadata": metadata}


def make_pool(p: Params) -> list[Conversation]:
    rng = random.Random(SEED)
    return [make_conversation(rng, p) for _ in range(p.pool)]


def make_batches(pool: list[Conversation], tag: str, total: int, size: int) -> list[Batch]:
    """`total` conversations in batches of `size`, each with a fresh external id `tag-N`."""
    rows = [{"external_id": f"{tag}-{i:08d}", **pool[i % len(pool)]} for i in range(total)]
    return [rows[i : i + size] for i in range(0, total, size)]


def content_length(conversation: Conversation) -> int:
    return sum(len(m["content"]) for m in conversation["messages"])


# --- Databases ------------------------------------------------------------------


def db_url(name: str) -> str:
    return f"{PG_URL}/{name}"


def admin(sql: str) -> None:
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]  (names are our constants)


def drop_database(name: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_env(name: str, port: int | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-use",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": db_url(name),
        "LOG_LEVEL": "WARNING",
        # Plain HTTP on loopback, one token sending as fast as it can: no HTTPS redirect, no rate limit.
        "SECURE_SSL_REDIRECT": "0",
        "API_RATE_LIMIT_PER_MINUTE": "0",
    }
    if port is not None:  # the server: scoring tasks only go to Redis, never run here
        env["REDIS_URL"] = REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    return env


def manage(name: str, *args: str) -> str:
    cmd = [str(BIN / "python"), "manage.py", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=django_env(name), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def create_databases() -> str:
    """Fresh empty database plus a clone for prefilling (same source and token); returns the token."""
    for name in (DB_FULL, DB_EMPTY):
        drop_database(name)
    admin(f'CREATE DATABASE "{DB_EMPTY}"')
    manage(DB_EMPTY, "migrate", "-v0")
    token = manage(DB_EMPTY, "create_source", "bench", "--kind", "red_team").strip().splitlines()[-1]
    admin(f'CREATE DATABASE "{DB_FULL}" TEMPLATE "{DB_EMPTY}"')
    return token


def source_id(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT id FROM reviews_source WHERE name = 'bench'").fetchone()
    assert row is not None
    return int(row[0])


def truncate(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE reviews_conversation CASCADE")
    conn.commit()


PREFILL_SQL = """
WITH ins AS (
    INSERT INTO reviews_conversation (source_id, external_id, model_name, messages, metadata, content_length,
                                      received_at, scoring_status, scoring_attempts, scoring_error)
    SELECT %(source)s, 'prefill-' || g, p.model, p.messages, p.metadata, p.content_length,
           now() - (%(hi)s - g) * interval '2 seconds', 'scored', 1, ''
    FROM generate_series(%(lo)s, %(hi)s) AS g JOIN bench_pool AS p ON p.n = g %% %(pool)s
    RETURNING id, external_id
)
INSERT INTO reviews_flag (conversation_id, detector, category, score, explanation, message_index)
SELECT ins.id, f.detector, f.category, f.score, f.explanation, f.message_index
FROM ins
JOIN bench_pool AS p ON p.n = substr(ins.external_id, 9)::int %% %(pool)s
CROSS JOIN LATERAL jsonb_to_recordset(p.flags)
    AS f(detector text, category text, score float8, explanation text, message_index int)
"""


def prefill(pool: list[Conversation], rows: int, chunk: int = 250_000) -> None:
    """Fill DB_FULL with `rows` old, scored conversations (and their flags) from the pool, in SQL."""
    with psycopg.connect(db_url(DB_FULL)) as conn:
        conn.execute("SET session_replication_role = replica")  # skip FK triggers: consistent by construction
        conn.execute(
            "CREATE TEMP TABLE bench_pool (n int PRIMARY KEY, model text, messages jsonb,"
            " metadata jsonb, content_length int, flags jsonb)"
        )
        with conn.cursor().copy("COPY bench_pool FROM STDIN") as copy:
            for n, c in enumerate(pool):
                copy.write_row((n, c["model"], json.dumps(c["messages"]), json.dumps(c["metadata"]),
                                content_length(c), json.dumps(c["flags"])))  # fmt: skip
        params = {"source": source_id(conn), "pool": len(pool)}
        for lo in range(1, rows + 1, chunk):
            conn.execute(PREFILL_SQL, {**params, "lo": lo, "hi": min(lo + chunk - 1, rows)})
            conn.commit()
    with psycopg.connect(db_url(DB_FULL), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE reviews_conversation")
        conn.execute("VACUUM ANALYZE reviews_flag")
        conn.execute("CHECKPOINT")


# --- The two writers --------------------------------------------------------------

CONVERSATION_COPY = (
    "COPY reviews_conversation (id, source_id, external_id, model_name, messages, metadata,"
    " content_length, scoring_status, scoring_attempts, scoring_error) FROM STDIN"
)
FLAG_COPY = "COPY reviews_flag (conversation_id, detector, category, score, explanation, message_index) FROM STDIN"


def copy_batch(conn: psycopg.Connection, source: int, batch: Batch) -> None:
    """One batch in one transaction: reserve ids, COPY conversations, COPY flags, commit."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('reviews_conversation', 'id')) FROM generate_series(1, %s)",
            (len(batch),),
        )
        ids = [row[0] for row in cur]
        with cur.copy(CONVERSATION_COPY) as copy:
            for cid, c in zip(ids, batch, strict=True):
                copy.write_row((cid, source, c["external_id"], c["model"], json.dumps(c["messages"]),
                                json.dumps(c["metadata"]), content_length(c), "pending", 0, ""))  # fmt: skip
        with cur.copy(FLAG_COPY) as copy:
            for cid, c in zip(ids, batch, strict=True):
                for f in c["flags"]:
                    copy.write_row((cid, f["detector"], f["category"], f["score"], f["explanation"],
                                    f["message_index"]))  # fmt: skip
    conn.commit()


class ApiClient:
    """A sequential keep-alive client for the ingest endpoint."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def ingest(self, batch: Batch) -> None:
        self.send(encode(batch), len(batch))

    def send(self, body: bytes, count: int) -> None:
        self.conn.request("POST", "/api/v1/conversations", body=body, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 202:
            raise RuntimeError(f"ingest answered {response.status}: {data[:500]!r}")
        if json.loads(data)["accepted"] != count:
            raise RuntimeError(f"ingest accepted fewer than sent: {data[:200]!r}")

    def close(self) -> None:
        self.conn.close()


def encode(batch: Batch) -> bytes:
    return json.dumps({"conversations": batch}).encode()


def timed_api(client: ApiClient, batches: list[Batch]) -> float:
    """Conversations per second through the API, bodies encoded before the clock starts."""
    bodies = [(encode(batch), len(batch)) for batch in batches]
    start = time.perf_counter()
    for body, count in bodies:
        client.send(body, count)
    return sum(count for _, count in bodies) / (time.perf_counter() - start)


def timed(write: Callable[[Batch], None], batches: list[Batch]) -> float:
    """Conversations per second for writing `batches` one after another."""
    start = time.perf_counter()
    for batch in batches:
        write(batch)
    return sum(map(len, batches)) / (time.perf_counter() - start)


# --- The server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health")
            status = conn.getresponse().status
            conn.close()
            if status == 200:  # "degraded" (no workers) is fine: we only enqueue
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"daphne on port {port} not healthy after {timeout:.0f}s")


@contextmanager
def server(name: str, log_dir: Path) -> Iterator[int]:
    """Daphne serving the project against database `name`; yields its port."""
    port = free_port()
    log = (log_dir / f"daphne-{name}.log").open("wb")
    cmd = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "oversight.asgi:application"]
    process = subprocess.Popen(cmd, cwd=ROOT, env=django_env(name, port), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, process)
        yield port
    except BaseException:
        log.flush()
        sys.stderr.write((log_dir / f"daphne-{name}.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# --- The benchmark ----------------------------------------------------------------------


@dataclass
class Bench:
    params: Params
    pool: list[Conversation]
    empty: psycopg.Connection
    api_empty: ApiClient
    api_full: ApiClient
    source: int
    runs: int = 0

    def batches(self, size: int) -> list[Batch]:
        self.runs += 1
        return make_batches(self.pool, f"r{self.runs}", self.params.per_measurement, size)

    def api(self, size: int) -> float:
        truncate(self.empty)
        return timed_api(self.api_empty, self.batches(size))

    def copy(self, size: int) -> float:
        truncate(self.empty)
        return timed(lambda batch: copy_batch(self.empty, self.source, batch), self.batches(size))

    def api_prefilled(self, size: int) -> float:
        return timed_api(self.api_full, self.batches(size))

    def measurements(self) -> dict[str, Callable[[], float]]:
        p = self.params
        named: dict[str, Callable[[], float]] = {}
        for size in p.batch_sizes:
            named[label("api", size)] = lambda s=size: self.api(s)
            named[label("COPY", size)] = lambda s=size: self.copy(s)
        named[label("api", max(p.batch_sizes), p.prefill)] = lambda: self.api_prefilled(max(p.batch_sizes))
        return named

    def warm_up(self) -> None:
        for client in (self.api_empty, self.api_full):
            for batch in make_batches(self.pool, "warm", 2 * min(self.params.batch_sizes), 100):
                client.ingest(batch)
        truncate(self.empty)

    def run(self) -> dict[str, list[float]]:
        named = self.measurements()
        results: dict[str, list[float]] = {name: [] for name in named}
        for round_no in range(self.params.rounds):
            order = list(named) if round_no % 2 == 0 else list(reversed(named))
            for name in order:
                results[name].append(named[name]())
            print(f"  round {round_no + 1}/{self.params.rounds}: " + ", ".join(
                f"{results[n][-1]:,.0f}" for n in named), flush=True)  # fmt: skip
        return results


def label(writer: str, size: int, rows: int = 0) -> str:
    return f"{writer:<4} batch {size:>5}, {f'{rows:,} rows' if rows else 'empty table'}"


def report(p: Params, pool: list[Conversation], results: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"\n{'measurement':<36} {'median conv/s':>14} {'min':>9} {'max':>9}")
    for name, values in results.items():
        print(f"{name:<36} {medians[name]:>14,.0f} {min(values):>9,.0f} {max(values):>9,.0f}")

    print()
    for size in p.batch_sizes:
        api, copy = label("api", size), label("COPY", size)
        paired = statistics.median(a / c for a, c in zip(results[api], results[copy], strict=True))
        target = "  (target >= 0.40)" if size == max(p.batch_sizes) else ""
        ratio = medians[api] / medians[copy]
        print(f"API/COPY at batch {size:>5}: {ratio:.2f} (median of per-round ratios: {paired:.2f}){target}")
    empty, full = label("api", max(p.batch_sizes)), label("api", max(p.batch_sizes), p.prefill)
    slowdown = 1 - medians[full] / medians[empty]
    print(f"API prefilled/empty at batch {max(p.batch_sizes)}: {medians[full] / medians[empty]:.2f}"
          f" (slowdown {slowdown:+.1%}; target <= +10%)")  # fmt: skip

    body = len(json.dumps({"conversations": make_batches(pool, "x", 1000, 1000)[0]}))
    flags = statistics.mean(len(c["flags"]) for c in pool)
    chars = statistics.mean(map(content_length, pool))
    print(
        f"\nparameters: batch sizes {p.batch_sizes}, {p.per_measurement:,} conversations per measurement,"
        f" {p.rounds} rounds (medians), prefilled {p.prefill:,} conversations;\n"
        f"  {p.messages[0]}-{p.messages[1]} messages of {p.message_chars[0]}-{p.message_chars[1]} chars,"
        f" {p.flags[0]}-{p.flags[1]} flags (mean {flags:.1f}), mean content {chars:,.0f}"
        f" chars/conversation, ~{body / 1e6:.2f} MB request body at batch 1000; pool of {len(pool):,} distinct"
        f" conversations (seed {SEED}); sequential keep-alive client, one Daphne process, scoring enqueued to Redis."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rows and rounds (a smoke run)")
    p = QUICK if parser.parse_args().quick else FULL
    pool = make_pool(p)
    started = time.monotonic()
    with ExitStack() as stack:
        stack.callback(lambda: redis.Redis.from_url(REDIS_URL).flushdb())
        stack.callback(drop_database, DB_EMPTY)
        stack.callback(drop_database, DB_FULL)
        print("creating databases ...", flush=True)
        token = create_databases()
        print(f"prefilling {p.prefill:,} conversations ...", flush=True)
        prefill(pool, p.prefill)
        print(f"  done after {time.monotonic() - started:.0f}s; starting servers ...", flush=True)
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-")))
        empty = stack.enter_context(psycopg.connect(db_url(DB_EMPTY)))
        api_empty = ApiClient(stack.enter_context(server(DB_EMPTY, log_dir)), token)
        api_full = ApiClient(stack.enter_context(server(DB_FULL, log_dir)), token)
        stack.callback(api_empty.close)
        stack.callback(api_full.close)
        bench = Bench(p, pool, empty, api_empty, api_full, source_id(empty))
        bench.warm_up()
        print("measuring (conversations/second per round) ...", flush=True)
        results = bench.run()
        report(p, pool, results)
    print(f"\ntotal {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
