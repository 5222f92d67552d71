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

# Run as a file: put the repository root first on sys.path, so `bench._harness` imports as a package.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg
import redis

from bench._harness import BIN, ROOT, admin, db_url, drop_database
from bench._server import REDIS_URL, ApiClient, django_env, encode, server
from bench._synthetic import SEED, Batch, Conversation, content_length, make_batches, make_pool

DB_EMPTY = "oversight_bench"
DB_FULL = "oversight_bench_full"


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


# --- Databases ------------------------------------------------------------------


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
            named[label("api", size)] = partial(self.api, size)
            named[label("COPY", size)] = partial(self.copy, size)
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
