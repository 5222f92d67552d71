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

# Run as a file: put the repository root first on sys.path, so `bench._harness` imports as a package.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import math
import signal
import statistics
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import redis

from bench._harness import admin, drop_database, percentile
from bench._load_setup import (
    DB,
    QUEUE,
    REDIS_URL,
    Params,
    Processes,
    db_facts,
    drain,
    ingest_bodies,
    seed,
    server_env,
    setup_django,
    wait_page,
    warm_up,
)
from bench._load_users import Load

# --- Report ---------------------------------------------------------------------------------------


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


def _parser() -> argparse.ArgumentParser:
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
    return parser


def _params(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Params:
    """The run's parameters from the command line; the backlog, unless given, keeps every reviewer busy."""
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
    return Params(args.seconds, args.rate, args.batch, args.reviewers, args.servers, tuple(args.think), backlog,
               args.history, args.probe_rate, args.slice)  # fmt: skip


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    p = _params(parser, args)
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
