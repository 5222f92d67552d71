"""Queue speed at scale: claim-next and the queues page against a bare primary-key lookup, with 1M open items.

What it measures, in one process, on a throw-away PostgreSQL database
(``oversight_bench_queue``, migrated, dropped at the end, also on error):

1. **claim-next p99**: ``reviews.workspace.claims.item_claim`` for a reviewer in
   the triage queue (SELECT … FOR UPDATE SKIP LOCKED in a short transaction, the
   lease, the commit). After each claim the item is marked done, untimed, as a
   submitted decision would, so the next claim really takes the next item.
2. **queues page p95**: ``reviews.workspace.selectors.queue_overview`` on its own, and the
   home view (``GET /``) through the Django test ``Client`` as the logged-in
   reviewer: middleware, session, the selector, the template.
3. **pk lookup**: ``ReviewItem.objects.get(pk=…)`` of a random item, the floor
   for a round trip through the ORM on this machine in this run.
4. **what-if**: the same claim with ``synchronous_commit`` off for the session,
   to show how much of the claim is the WAL flush of its commit.
5. **gold mixing**: ``reviews.workspace.reviewing.item_claim_mixed``, the claim that
   claim-next makes (``item_claim`` with gold items mixed in), with the triage queue's
   gold rate at 0 and at ``--gold-percent`` (default 2%) over ``GOLD_ITEMS`` gold items,
   measured in the same rounds; a gold draw copies the gold conversation (two flags,
   two scores) and opens its item. Printed: both p99s and their ratio.

All are server time: wall clock around the call in this process (no network,
no browser). Rounds repeat every measurement, interleaved and in alternating
order, with a ``gc.collect()`` before each; printed are the medians over rounds
of each round's p50/p95/p99, and the ratios to the pk lookup. Targets: claim
p99 under 20 ms, page p95 under 100 ms.

Data: N open ReviewItems (``--items``, default 1,000,000), one conversation
each, loaded with psycopg ``COPY`` (ids given, sequences set after), then
``VACUUM ANALYZE``: 70% triage, 15% calibration (the reviewer's two queues),
10% escalation and 5% adjudication; priorities 0..1, created over the last 30
days, due dates spread so many are breached. The reviewer is in the seeded
``reviewer`` group.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth)::

    .venv/bin/python bench/claim_next.py                  # 1,000,000 items: ~6 minutes on 2 busy cores
    .venv/bin/python bench/claim_next.py --items 200000   # ~2 minutes

``--explain`` prints the plans of the claim and overview queries as run;
``--keep`` leaves the database in place to study them in psql.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a file: put the repository root first on sys.path, so `bench.*` imports as a package.
if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import gc
import os
import random
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from bench import _harness
from bench._harness import admin, db_url, drop_database, percentile
from bench._server import django_env
from bench.ingest import CONVERSATION_COPY

DB = os.environ.get("BENCH_DB", "oversight_bench_queue")  # BENCH_DB: another name, for two runs at once
SEED = 1729
CLAIM_TARGET_MS = 20.0
PAGE_TARGET_MS = 100.0
GOLD_OFF = "claim-next, gold mixing, rate 0"
GOLD_ON = "claim-next, gold mixing on"
SHARES = {"triage": 0.70, "calibration": 0.15, "escalation": 0.10, "adjudication": 0.05}
ITEM_COPY = (
    "COPY reviews_reviewitem (id, conversation_id, queue_id, status, priority, risk, due_at, reviews_required,"
    " reviews_done, routed_by, created_at) FROM STDIN"
)


GOLD_ITEMS = 400  # settled triage items marked gold (more than one reviewer's gold draws over a whole run)


@dataclass(frozen=True)
class Params:
    items: int
    rounds: int
    claims: int  # timed claims (and pk lookups) per round
    pages: int  # timed selector calls and page loads per round
    gold_percent: float = 2.0


# --- Database and Django ---------------------------------------------------------


def setup_django() -> None:
    """Environment first (settings read it at import), then django.setup() and migrate."""
    _harness.setup_django({**django_env(DB), "ALLOWED_HOSTS": "127.0.0.1,testserver"})


def load(n: int) -> None:
    """N open items, one conversation each, by COPY; then VACUUM ANALYZE, as autovacuum would have by now."""
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    from reviews.models import Source

    source = Source.objects.create(name="bench", kind="sampler").pk
    with psycopg.connect(db_url(DB)) as conn:
        queues: dict[str, int] = dict(conn.execute("SELECT slug, id FROM reviews_queue").fetchall())
        slugs, weights = list(SHARES), list(SHARES.values())
        with conn.cursor().copy(CONVERSATION_COPY) as copy:
            for i in range(1, n + 1):
                copy.write_row((i, source, f"q-{i}", "", "[]", "{}", 0, "scored", 1, ""))
        with conn.cursor().copy(ITEM_COPY) as copy:
            for i in range(1, n + 1):
                created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
                due = created + timedelta(minutes=rng.choice((60, 240, 1440)) * rng.uniform(0.5, 40))
                queue = queues[rng.choices(slugs, weights)[0]]
                copy.write_row((i, i, queue, "open", round(rng.random(), 4), round(rng.random(), 4), due, 1, 0,
                                "bench", created))  # fmt: skip
        for table in ("reviews_conversation", "reviews_reviewitem"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (n,))
        conn.commit()
    golds(rng)
    with psycopg.connect(db_url(DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def golds(rng: random.Random) -> None:
    """GOLD_ITEMS triage items settled and marked gold by a senior, each with two flags and two scores."""
    from django.contrib.auth.models import User

    from reviews.models import Flag, GoldItem, ItemStatus, Queue, ReviewItem, Score

    maker = User.objects.create_user(username="bench-senior")
    triage = Queue.objects.get(slug="triage")
    items = list(ReviewItem.objects.filter(queue=triage).order_by("pk")[:GOLD_ITEMS])
    ReviewItem.objects.filter(pk__in=[i.pk for i in items]).update(status=ItemStatus.DONE)
    ids = [i.conversation_id for i in items]
    Flag.objects.bulk_create(
        Flag(conversation_id=c, detector=f"d{k}", category="cyber", score=rng.random(), message_index=0)
        for c in ids
        for k in range(2)
    )
    Score.objects.bulk_create(
        Score(conversation_id=c, producer=p, categories={"cyber": 0.5}, risk=rng.random())
        for c in ids
        for p in ("fallback", "model-v1")
    )
    GoldItem.objects.bulk_create(
        GoldItem(item=i, queue=triage, verdict="appropriate_refusal", categories=["cyber"], created_by=maker)
        for i in items
    )


# --- The benchmark ------------------------------------------------------------------


class Bench:
    def __init__(self, params: Params) -> None:
        from django.contrib.auth.models import Group, User
        from django.test import Client

        from reviews.models import Queue

        self.params = params
        self.rng = random.Random(SEED)
        self.reviewer = User.objects.create_user(username="bench-reviewer")
        self.reviewer.groups.add(Group.objects.get(name="reviewer"))
        self.queue = Queue.objects.get(slug="triage")
        self.client = Client()
        self.client.force_login(self.reviewer)
        self.gold_shown = 0

    def claim(self) -> float:
        from reviews.models import ItemStatus, ReviewItem
        from reviews.workspace.claims import item_claim

        start = time.perf_counter()
        item = item_claim(reviewer=self.reviewer, queue=self.queue)
        elapsed = time.perf_counter() - start
        assert item is not None, "the queue ran dry"
        ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.DONE)  # the decision, untimed
        return elapsed

    def claim_next(self, percent: float) -> float:
        """`item_claim` with gold mixed in at the given rate (the queue row is updated untimed)."""
        from reviews.models import ItemStatus, ReviewItem
        from reviews.workspace.reviewing import item_claim_mixed

        if self.queue.gold_percent != percent:
            self.queue.gold_percent = percent
            self.queue.save(update_fields=["gold_percent"])
        start = time.perf_counter()
        item = item_claim_mixed(reviewer=self.reviewer, queue=self.queue)
        elapsed = time.perf_counter() - start
        assert item is not None, "the queue ran dry"
        if hasattr(item, "gold_presentation"):
            self.gold_shown += 1
        ReviewItem.objects.filter(pk=item.pk).update(status=ItemStatus.DONE)  # the decision, untimed
        return elapsed

    def claim_async_commit(self) -> float:
        """The same claim with synchronous_commit off for the session (untimed SETs): what the fsync costs."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            try:
                return self.claim()
            finally:
                cursor.execute("SET synchronous_commit = on")

    def pk_lookup(self) -> float:
        from reviews.models import ReviewItem

        pk = self.rng.randint(1, self.params.items)
        start = time.perf_counter()
        ReviewItem.objects.get(pk=pk)
        return time.perf_counter() - start

    def selector(self) -> float:
        from reviews.workspace.selectors import queue_overview

        start = time.perf_counter()
        queues = queue_overview(user=self.reviewer)
        elapsed = time.perf_counter() - start
        assert sum(q.open_count for q in queues) > 0  # type: ignore[attr-defined]
        return elapsed

    def page(self) -> float:
        start = time.perf_counter()
        response = self.client.get("/")
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        return elapsed

    def measurements(self) -> dict[str, tuple[Callable[[], float], int]]:
        p = self.params
        return {
            "pk lookup": (self.pk_lookup, p.claims),
            "claim-next (item_claim)": (self.claim, p.claims),
            "  what-if: synchronous_commit off": (self.claim_async_commit, p.claims),
            GOLD_OFF: (lambda: self.claim_next(0), p.claims),
            GOLD_ON: (lambda: self.claim_next(p.gold_percent), p.claims),
            "queue_overview selector": (self.selector, p.pages),
            "queues page (GET /)": (self.page, p.pages),
        }

    def warm_up(self) -> None:
        for measure, _ in self.measurements().values():
            for _ in range(5):
                measure()

    def run(self) -> dict[str, list[list[float]]]:
        """Per measurement, per round, the samples in ms."""
        named = self.measurements()
        results: dict[str, list[list[float]]] = {name: [] for name in named}
        for round_no in range(self.params.rounds):
            order = list(named) if round_no % 2 == 0 else list(reversed(named))
            for name in order:
                measure, count = named[name]
                gc.collect()
                results[name].append([1000 * measure() for _ in range(count)])
            print(f"  round {round_no + 1}/{self.params.rounds}: " + ", ".join(
                f"{n} p95 {percentile(results[n][-1], 95):.1f} ms" for n in named), flush=True)  # fmt: skip
        return results

    def explain(self) -> list[str]:
        """EXPLAIN ANALYZE of the SQL the claim and the selector really ran (captured, claim rolled back)."""
        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext

        from reviews.workspace.claims import item_claim
        from reviews.workspace.selectors import queue_overview

        with CaptureQueriesContext(connection) as claimed, transaction.atomic():
            item_claim(reviewer=self.reviewer, queue=self.queue)
            transaction.set_rollback(True)
        with CaptureQueriesContext(connection) as overview:
            queue_overview(user=self.reviewer)
        picked = [q["sql"] for q in claimed if "FOR UPDATE" in q["sql"]] + [q["sql"] for q in overview][-1:]
        plans = []
        for sql in picked:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plans.append(sql + "\n" + "\n".join(row[0] for row in cursor.fetchall()))
                transaction.set_rollback(True)
        return plans


# --- Report ----------------------------------------------------------------------------


def report(p: Params, results: dict[str, list[list[float]]], gold_shown: int = 0) -> None:
    def median_of(name: str, q: float) -> float:
        return statistics.median(percentile(samples, q) for samples in results[name])

    print(f"\n{'measurement (ms, median over rounds)':<38} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for name, rounds in results.items():
        worst = statistics.median(max(samples) for samples in rounds)
        print(f"{name:<38} {median_of(name, 50):>8.2f} {median_of(name, 95):>8.2f} {median_of(name, 99):>8.2f}"
              f" {worst:>8.2f}")  # fmt: skip
    claim99, pk99 = median_of("claim-next (item_claim)", 99), median_of("pk lookup", 99)
    page95, pk95 = median_of("queues page (GET /)", 95), median_of("pk lookup", 95)
    selector95 = median_of("queue_overview selector", 95)
    verdict = {True: "on target", False: "MISSED"}
    off99, on99 = median_of(GOLD_OFF, 99), median_of(GOLD_ON, 99)
    print(
        f"\nclaim-next p99 {claim99:.2f} ms = {claim99 / pk99:.1f}x pk lookup p99 ({pk99:.2f} ms);"
        f" target < {CLAIM_TARGET_MS:.0f} ms: {verdict[claim99 < CLAIM_TARGET_MS]}"
        f"\n  (with synchronous_commit off for the claim's commit: p99"
        f" {median_of('  what-if: synchronous_commit off', 99):.2f} ms)"
        f"\nqueues page p95 {page95:.2f} ms = {page95 / pk95:.1f}x pk lookup p95 ({pk95:.2f} ms),"
        f" of which the selector p95 {selector95:.2f} ms; target < {PAGE_TARGET_MS:.0f} ms:"
        f" {verdict[page95 < PAGE_TARGET_MS]}"
        f"\nclaim-next with gold mixing at {p.gold_percent:g}% (item_claim_mixed): p99 {on99:.2f} ms ="
        f" {on99 / off99:.2f}x the same claim with gold off (p99 {off99:.2f} ms); target < {CLAIM_TARGET_MS:.0f} ms:"
        f" {verdict[on99 < CLAIM_TARGET_MS]} ({gold_shown} gold items presented)"
        f"\n\nparameters: {p.items:,} open items ({', '.join(f'{s} {v:.0%}' for s, v in SHARES.items())}),"
        f" {p.rounds} rounds of {p.claims} claims and pk lookups and {p.pages} selector calls and page loads."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000, help="open items to load (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every measurement (default 5)")
    parser.add_argument("--claims", type=int, default=500, help="claims and pk lookups per round (default 500)")
    parser.add_argument("--pages", type=int, default=30, help="selector calls and page loads per round (default 30)")
    parser.add_argument("--gold-percent", type=float, default=2.0, help="triage gold rate, gold on (default 2)")
    parser.add_argument("--explain", action="store_true", help="print the claim and overview query plans")
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DB} (to study plans in psql)")
    args = parser.parse_args()
    p = Params(args.items, args.rounds, args.claims, args.pages, gold_percent=args.gold_percent)
    needed = 4 * (p.rounds * p.claims + 5)  # four claim measurements, each warmed up 5 times
    if p.items * SHARES["triage"] < 2 * needed:
        parser.error(f"--items {p.items:,} leaves too few triage items for {needed:,} claims")
    started = time.monotonic()
    with ExitStack() as stack:
        drop_database(DB)
        admin(f'CREATE DATABASE "{DB}"')
        if not args.keep:
            stack.callback(drop_database, DB)
        print("migrating ...", flush=True)
        setup_django()
        from django.db import connections

        stack.callback(connections.close_all)
        print(f"loading {p.items:,} open items by COPY ...", flush=True)
        load(p.items)
        print(f"  loaded after {time.monotonic() - started:.0f}s; warming up ...", flush=True)
        bench = Bench(p)
        bench.warm_up()
        print("measuring ...", flush=True)
        results = bench.run()
        report(p, results, bench.gold_shown)
        if args.explain:
            for plan in bench.explain():
                print("\n" + plan)
    print(f"\ntotal {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
