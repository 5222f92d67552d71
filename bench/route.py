"""Routing throughput: ``items_route`` over a large scored batch against a bare bulk insert of its ReviewItems.

What it measures, in one process, on a throw-away PostgreSQL database
(``oversight_bench_route``, migrated, dropped at the end, also on error):

1. **routed**: conversations/second of ``reviews.routing.services.items_route``
   called once with all N conversation ids (10,000; 2,000 with ``--quick``)
   under the default policy (version 1, seeded by the migrations). That is the
   whole batched pass: the conversation filter, the active policy, the hard-limit
   categories, ``routing_facts`` (scores, flags, conversations per chunk of
   2,000), the pure ``route()`` per conversation, one RoutingRecord per
   conversation (dropped ones included) and a ReviewItem per queued one, in one
   transaction.
2. **bare**: ``ReviewItem.objects.bulk_create`` of exactly the ReviewItems that
   routing wrote (same queue, conversation, priority, risk, due_at, reviews
   required, rule and policy version, read back after the warm-up routing; the
   model instances are built before the clock starts), with the call routing
   makes (``ignore_conflicts=True, batch_size=2000``): the floor, nothing but
   the rows that must be written. Its rate is N / its time, so routed/bare is
   the bare time over the routed time for the same N conversations (target
   >= 0.5).

Before every measurement the RoutingRecords and ReviewItems are truncated, so
both start from empty tables; conversations, flags and scores stay. Rounds
repeat both, interleaved and in alternating order, with a ``gc.collect()`` before
each; the figures are medians over rounds. Printed as well: the outcome mix
(the default policy queues most and drops some), and the SQL queries one
``items_route`` call ran for all N (``CaptureQueriesContext``, a separate
untimed call), grouped by statement, to show it is a bounded batched pass.
When routed/bare is below the target (or with ``--profile``) one more routing
runs under cProfile and one with a wall clock around each stage.

Data: ``reviews.demo.data.generate_conversations`` (flags that track the truth
noisily), inserted once with ``reviews.ingest.bulk_insert.insert_batch`` from an
``output_classifier`` source (the demo ground truth is taken out of the stored
metadata), then one ``model-v1`` Score each via
``reviews.scoring.services.scores_store``: a risk for every active category
(the labeled categories high for harmful requests, the rest low noise) and an
overall risk spread over 0..1 by verdict, seeded (see ``scores_for``).

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth)::

    .venv/bin/python bench/route.py            # 10,000 conversations, 5 rounds: ~35 seconds on 2 cores
    .venv/bin/python bench/route.py --quick    # 2,000 conversations, 3 rounds: ~7 seconds
"""

from __future__ import annotations

import sys

# Run as a file: put the repository root first on sys.path, so `bench._harness` imports as a package.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import cProfile
import gc
import os
import pstats
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from bench import _harness
from bench._harness import admin, bench_env
from bench._scored import prepare

DB = "oversight_bench_route"
SEED = 1729
TARGET = 0.5
BATCH_SIZE = 2000  # what items_route passes to ReviewItem.objects.bulk_create
PRODUCER = "model-v1"


@dataclass(frozen=True)
class Params:
    conversations: int = 10_000
    rounds: int = 5


FULL = Params()
QUICK = Params(conversations=2_000, rounds=3)


# --- Database and Django ---------------------------------------------------------


def drop_database() -> None:
    _harness.drop_database(DB)


def setup_django() -> None:
    """Environment first (settings read it at import), then django.setup() and migrate."""
    _harness.setup_django(bench_env(DB))


def clear() -> None:
    """Empty the tables routing writes (nothing else points at them here)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reviews_routingrecord, reviews_reviewitem CASCADE")


# --- The benchmark ------------------------------------------------------------------

# What routing sets on a ReviewItem, created_at included: with every value given, Django 5.2's bulk_create
# takes its fastest path (INSERT ... SELECT FROM UNNEST), so the floor is as fast as the ORM gets.
ITEM_FIELDS = (
    "created_at",
    "conversation_id",
    "queue_id",
    "priority",
    "risk",
    "due_at",
    "reviews_required",
    "routed_by",
    "policy_version_id",
)


@dataclass
class Bench:
    params: Params
    ids: list[int]
    rows: list[dict[str, Any]] = field(default_factory=list)  # the ReviewItems routing writes, as field values
    outcomes: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    queries: list[str] = field(default_factory=list)

    def route_once(self) -> tuple[float, dict[int, Any]]:
        from reviews.routing.services import items_route

        clear()
        gc.collect()
        start = time.perf_counter()
        outcomes = items_route(conversation_ids=self.ids)
        elapsed = time.perf_counter() - start
        return elapsed, outcomes

    def routed(self) -> float:
        elapsed, outcomes = self.route_once()
        self.verify(outcomes)
        return len(self.ids) / elapsed

    def verify(self, outcomes: dict[int, Any]) -> None:
        from reviews.models import ReviewItem, RoutingRecord

        assert len(outcomes) == len(self.ids), f"routed {len(outcomes)} of {len(self.ids)}"
        assert RoutingRecord.objects.count() == len(self.ids), "a routing record is missing"
        queued = sum(o.queue is not None for o in outcomes.values())
        assert ReviewItem.objects.count() == queued, "a review item is missing"
        if self.rows:
            assert queued == len(self.rows), "routing queued a different number of items this round"

    def bare(self) -> float:
        from reviews.models import ReviewItem

        clear()
        items = [ReviewItem(**row) for row in self.rows]
        gc.collect()
        start = time.perf_counter()
        ReviewItem.objects.bulk_create(items, ignore_conflicts=True, batch_size=BATCH_SIZE)
        elapsed = time.perf_counter() - start
        assert ReviewItem.objects.count() == len(self.rows)
        return len(self.ids) / elapsed

    def measurements(self) -> dict[str, Callable[[], float]]:
        return {"routed (items_route)": self.routed, "bare ReviewItem.bulk_create": self.bare}

    def warm_up(self) -> None:
        """Route once (parses the policy, touches every path), keep what it wrote as the bare rows and the
        outcome mix; then route again, untimed, counting its SQL queries."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from reviews.models import ReviewItem
        from reviews.routing.services import _outcome_kind

        _, outcomes = self.route_once()
        self.verify(outcomes)
        self.outcomes = Counter(str(_outcome_kind(o)) for o in outcomes.values())
        self.rules = Counter(o.rule for o in outcomes.values())
        self.rows = list(ReviewItem.objects.order_by("pk").values(*ITEM_FIELDS))
        self.bare()
        clear()
        from reviews.routing.services import items_route

        with CaptureQueriesContext(connection) as captured:
            outcomes = items_route(conversation_ids=self.ids)
        self.verify(outcomes)
        self.queries = [q["sql"] for q in captured.captured_queries]

    def run(self) -> dict[str, list[float]]:
        named = self.measurements()
        results: dict[str, list[float]] = {name: [] for name in named}
        for round_no in range(self.params.rounds):
            order = list(named) if round_no % 2 == 0 else list(reversed(named))
            for name in order:
                results[name].append(named[name]())
            print(f"  round {round_no + 1}/{self.params.rounds}: " + ", ".join(
                f"{n} {results[n][-1]:,.0f}" for n in named), flush=True)  # fmt: skip
        return results

    def profile(self) -> None:
        """One routing under cProfile, then one with a wall clock around each stage (no profiler)."""
        from reviews.routing.services import items_route

        clear()
        profiler = cProfile.Profile()
        profiler.enable()
        items_route(conversation_ids=self.ids)
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"\ncProfile of one items_route over {len(self.ids):,} conversations (cProfile inflates Python):")
        print_profile(stats)
        self.stage_clocks()

    def stage_clocks(self) -> None:
        """Wall clock per stage: the stages are wrapped where items_route looks them up, then restored."""
        from django.db.models import QuerySet

        import reviews.routing.services as routing

        spent: dict[str, list[float]] = {}

        def clocked(label: str, func: Callable[..., Any], consume: bool = False) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    result = func(*args, **kwargs)
                    return iter(list(result)) if consume else result  # a generator's work happens when consumed
                finally:
                    spent.setdefault(label, []).append(time.perf_counter() - start)

            return wrapper

        def per_model(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return func(self, *args, **kwargs)
                finally:
                    spent.setdefault(f"  {self.model.__name__}.{name}", []).append(time.perf_counter() - start)

            return wrapper

        targets: list[tuple[Any, str, Callable[..., Any]]] = [
            (routing, "hard_limit_slugs", clocked("  hard_limit_slugs", routing.hard_limit_slugs)),
            (routing, "routing_facts", clocked("  routing_facts (3 queries/chunk)", routing.routing_facts, True)),
            (routing, "route", clocked("  route() (pure, per conversation)", routing.route)),
            (routing, "due_at", clocked("  due_at (per fresh item)", routing.due_at)),
            (routing, "_outcome_kind", clocked("  _outcome_kind (per record)", routing._outcome_kind)),
        ]
        targets += [
            (QuerySet, name, per_model(name, getattr(QuerySet, name))) for name in ("bulk_create", "bulk_update")
        ]
        originals = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
        for owner, name, wrapped in targets:
            setattr(owner, name, wrapped)
        clear()
        gc.collect()
        try:
            clocked("items_route (total)", routing.items_route)(conversation_ids=self.ids)
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)
        total = sum(spent["items_route (total)"])
        n = len(self.ids)
        print(f"\nwall clock per stage, one items_route over {n:,} (no profiler; per-call clocks add a little):")
        print(f"{'stage':<44} {'ms':>9} {'calls':>8} {'share':>7}")
        for label, values in sorted(spent.items(), key=lambda item: not item[0].startswith("items")):
            print(f"{label:<44} {1000 * sum(values):>9.1f} {len(values):>8,} {sum(values) / total:>7.1%}")
        rest = total - sum(sum(values) for label, values in spent.items() if label.startswith("  "))
        print(f"{'  rest: id filter, policy, queues, instances,':<44} {1000 * rest:>9.1f} {'':>8} {rest / total:>7.1%}")
        print("    existing-items SELECT, COMMIT")


def print_profile(stats: pstats.Stats) -> None:
    """Cumulative time of the project's functions and the Django/driver calls that matter, then own time."""
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        path = filename.replace(os.sep, "/")
        if "/reviews/" in path and "/site-packages/" not in path:
            rows.append((cumtime, tottime, calls, f"{path.split('/reviews/')[-1]}:{line}({name})"))
    print(f"{'function (reviews/...)':<60} {'cum ms':>9} {'own ms':>9} {'calls':>8}")
    for cumtime, tottime, calls, label in sorted(rows, reverse=True)[:20]:
        print(f"{label:<60} {1000 * cumtime:>9.1f} {1000 * tottime:>9.1f} {calls:>8,}")
    print("\ntop 20 functions by own time:")
    stats.sort_stats("tottime").print_stats(20)
    print("top 25 by cumulative time:")
    stats.sort_stats("cumulative").print_stats(25)


# --- Report ----------------------------------------------------------------------------


def statement(sql: str) -> str:
    """A query's shape: verb and table(s), placeholders and literals gone."""
    sql = re.sub(r"\s+", " ", sql).strip()
    verb = sql.split(" ", 1)[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"):
        return verb
    tables = list(dict.fromkeys(re.findall(r'(?:FROM|INTO|JOIN|UPDATE) "(\w+)"', sql)))
    return f"{verb} {', '.join(tables)}"


def report(bench: Bench, results: dict[str, list[float]]) -> float:
    n = len(bench.ids)
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"\n{'measurement':<30} {'median conv/s':>14} {'min':>9} {'max':>9} {'median ms':>10}")
    for name, values in results.items():
        print(
            f"{name:<30} {medians[name]:>14,.0f} {min(values):>9,.0f} {max(values):>9,.0f}"
            f" {1000 * n / medians[name]:>10.1f}"
        )
    routed, bare = results
    paired = statistics.median(r / b for r, b in zip(results[routed], results[bare], strict=True))
    ratio = medians[routed] / medians[bare]
    print(
        f"\nrouted / bare: {ratio:.2f} (median of per-round ratios {paired:.2f})  (target >= {TARGET:.2f})"
        f"\n  bare inserts {len(bench.rows):,} ReviewItems: {medians[bare] * len(bench.rows) / n:,.0f} items/s"
    )

    print(f"\nSQL queries in one items_route over {n:,} conversations: {len(bench.queries)}")
    for shape, count in Counter(statement(q) for q in bench.queries).most_common():
        print(f"  {count:>3}  {shape}")

    print(f"\noutcomes ({n:,} conversations, default policy v1):")
    for kind, count in bench.outcomes.most_common():
        print(f"  {kind:<10} {count:>7,}  {count / n:>6.1%}")
    print("  by rule: " + ", ".join(f"{rule} {count:,}" for rule, count in bench.rules.most_common()))
    print(
        f"\nparameters: {n:,} demo conversations (seed {SEED}) with flags and one '{PRODUCER}' score each,"
        f" one items_route call per round, bulk_create batch_size {BATCH_SIZE},"
        f" {bench.params.rounds} rounds (medians)."
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer conversations and rounds (a smoke run)")
    parser.add_argument("--profile", action="store_true", help="profile a routing even when on target")
    args = parser.parse_args()
    p = QUICK if args.quick else FULL
    started = time.monotonic()
    with ExitStack() as stack:
        drop_database()
        admin(f'CREATE DATABASE "{DB}"')
        stack.callback(drop_database)
        print("migrating and loading ...", flush=True)
        setup_django()
        from django.db import connections

        stack.callback(connections.close_all)

        ids = prepare(p.conversations, seed=SEED, producer=PRODUCER)
        bench = Bench(p, ids)
        print(f"  {len(ids):,} scored conversations ready after {time.monotonic() - started:.0f}s; warming up ...")
        bench.warm_up()
        print("measuring (conversations/second per round) ...", flush=True)
        results = bench.run()
        ratio = report(bench, results)
        if ratio < TARGET or args.profile:
            bench.profile()
    print(f"\ntotal {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
