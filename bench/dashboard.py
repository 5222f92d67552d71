"""Analytics dashboards at scale: each ``dashboard_build`` against a bare ``SELECT count(*) FROM reviews_decision``.

What it measures, in one process, on a throw-away PostgreSQL database (``oversight_bench_dashboard``,
migrated, dropped at the end, also on error):

1. **fill**: about N decisions (``--decisions``, default 1,000,000) written in SQL from one
   ``generate_series`` plan (seeded, so every run holds the same data): conversations over the last 60 days
   from 4 sources and 4 models, with flags from 8 detectors and model-v1/model-v2 scores; 80% single-review
   triage (1.2% of it escalated and ruled by a senior), 8% double review (20% disagreeing, then adjudicated),
   10% calibration sample, 2% still open; 40 reviewers and 4 seniors; one RoutingRecord each. Then
   ``VACUUM ANALYZE``.
2. **rollup**: ``analytics_rollup(full=True)``, the whole history, timed; then the incremental run that beat
   makes every five minutes (the last hours, plus older hours of conversations touched since).
3. **dashboards**: each dashboard of ``reviews.analytics`` for the last 24 hours, 7 days, 30 days
   and the whole 60 days (and the reviewers page as one reviewer sees it), warm, the median of ``--rounds``
   builds: server time for the page's data, without templates. Against it, the median of as many bare
   ``SELECT count(*) FROM reviews_decision`` in the same run: the floor for touching the decisions at all.
   Target: every build under 300 ms at 1,000,000 decisions.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth)::

    .venv/bin/python bench/dashboard.py                       # 1,000,000 decisions
    .venv/bin/python bench/dashboard.py --decisions 20000     # a quick check that it runs

``--keep`` leaves the database in place to study the plans in psql.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root first, so `bench.*` imports
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from functools import partial
from typing import Any

from bench import _harness
from bench._harness import bench_env

DB = "oversight_bench_dashboard"
SEED = 0.1729
SPAN_DAYS = 60
REVIEWERS = 40
SENIORS = 4
DECISIONS_PER_CONVERSATION = 1.076  # from the shares below: what N decisions needs in conversations
TARGET_MS = 300.0
RANGES = (("24 hours", timedelta(days=1)), ("7 days", timedelta(days=7)), ("30 days", timedelta(days=30)))
CATEGORIES = ("cyber", "fraud", "violent-crime", "hate", "harassment", "jailbreak", "sexual-content", "self-harm")
MODELS = ("assistant-large-2026-10", "assistant-small-2026-09", "assistant-large-2026-06", "agent-2026-11")

# One row per conversation: every draw the inserts below need, so they agree with each other.
PLAN_SQL = """
CREATE UNLOGGED TABLE bench_plan AS
WITH draws AS (
    SELECT g, random() AS a, random() AS b, random() AS c, random() AS d, random() AS e, random() AS f,
           random() AS h, random() AS i, random() AS j, random() AS k
    FROM generate_series(1, %(conversations)s) AS g
), shaped AS (
    SELECT g, a, c, e, f, h, i, j, k,
           CASE WHEN a < 0.788 THEN 'single' WHEN a < 0.80 THEN 'escalated' WHEN a < 0.88 THEN 'double'
                WHEN a < 0.98 THEN 'calibration' ELSE 'open' END AS kind,
           b < CASE WHEN a >= 0.88 AND a < 0.98 THEN 0.1 ELSE 0.45 END AS harmful,
           (%(categories)s::text[])[1 + floor(d * d * 8)::int] AS category,
           now() - make_interval(secs => %(span)s * (1 - g::float / %(conversations)s)) AS at
    FROM draws
)
SELECT g, kind, harmful, category, at,
       g %% 4 AS src, (g / 4) %% 4 AS model,
       CASE WHEN harmful THEN CASE WHEN c < 0.75 THEN 'appropriate_refusal' ELSE 'harmful_compliance' END
            ELSE CASE WHEN c < 0.2 THEN 'over_refusal' ELSE 'appropriate_help' END END AS verdict,
       CASE WHEN harmful THEN CASE WHEN c < 0.75 THEN 'harmful_compliance' ELSE 'appropriate_refusal' END
            ELSE CASE WHEN c < 0.2 THEN 'appropriate_help' ELSE 'over_refusal' END END AS other_verdict,
       kind = 'double' AND j < 0.2 AS disagree,
       60 + floor(e * e * e * 43200)::int AS lat1,
       60 + floor(f * f * 7200)::int AS lat2,
       CASE WHEN harmful THEN 0.35 + 0.65 * h ELSE 0.7 * h END AS flag_score,
       CASE WHEN i < 0.85 THEN category ELSE (%(categories)s::text[])[1 + floor(j * 8)::int] END AS flag_category,
       kind <> 'calibration' OR i < 0.4 AS flagged,
       i < 0.3 AS second_flag,
       LEAST(1, GREATEST(0, CASE WHEN harmful THEN 0.3 + 0.7 * i ELSE 0.55 * i END)) AS risk,
       1 + floor(k * %(reviewers)s)::int AS rev1,
       1 + ((floor(k * %(reviewers)s)::int + 1 + floor(j * (%(reviewers)s - 1))::int) %% %(reviewers)s) AS rev2,
       1 + (g %% %(seniors)s) AS senior
FROM shaped
"""

FILL_SQL = [
    # Conversations, ids 1..C.
    """
    INSERT INTO reviews_conversation (id, source_id, external_id, model_name, messages, metadata, content_length,
                                      received_at, scoring_status, scoring_attempts, scoring_error)
    SELECT g, (%(sources)s::bigint[])[1 + src], 'bench-' || g, (%(models)s::text[])[1 + model],
           '[{"role": "user", "content": "?"}, {"role": "assistant", "content": "."}]'::jsonb, '{}'::jsonb, 2,
           at, 'scored', 0, ''
    FROM bench_plan
    """,
    """
    INSERT INTO reviews_flag (conversation_id, detector, category, score, explanation)
    SELECT g, 'det-' || src || '-' || (g %% 2), flag_category, flag_score, '' FROM bench_plan WHERE flagged
    UNION ALL
    SELECT g, 'det-' || src || '-' || ((g + 1) %% 2), category, LEAST(1, flag_score * 0.8 + 0.1), ''
    FROM bench_plan WHERE flagged AND second_flag
    """,
    """
    INSERT INTO reviews_score (conversation_id, scoring_model_id, producer, categories, risk, created_at)
    SELECT g, %(model_v2)s, 'model-v2', '{}'::jsonb, risk, at FROM bench_plan
    UNION ALL
    SELECT g, %(model_v1)s, 'model-v1', '{}'::jsonb, LEAST(1, GREATEST(0, risk * 0.8 + 0.15 * (g %% 3) / 2.0)), at
    FROM bench_plan WHERE g <= %(conversations)s / 2
    """,
    """
    INSERT INTO reviews_routingrecord (conversation_id, policy_version_id, rule, outcome, queue_id, created_at)
    SELECT g, %(policy)s, CASE WHEN kind = 'calibration' THEN 'sampling' ELSE 'risky' END,
           CASE WHEN kind = 'calibration' THEN 'sampled' ELSE 'queued' END,
           CASE kind WHEN 'calibration' THEN %(calibration)s WHEN 'double' THEN %(double)s ELSE %(triage)s END, at
    FROM bench_plan
    """,
    # Items: the routed one (id g), adjudication (C + g) and escalation (2C + g) where reached.
    """
    INSERT INTO reviews_reviewitem (id, conversation_id, queue_id, status, priority, risk, due_at,
                                    reviews_required, reviews_done, routed_by, sla_breached_at, created_at, closed_at)
    SELECT g, g,
           CASE kind WHEN 'calibration' THEN %(calibration)s WHEN 'double' THEN %(double)s ELSE %(triage)s END,
           CASE kind WHEN 'open' THEN 'open' WHEN 'escalated' THEN 'escalated' ELSE 'done' END,
           10 * risk, risk, at + interval '4 hours',
           CASE WHEN kind = 'double' THEN 2 ELSE 1 END,
           CASE kind WHEN 'open' THEN 0 WHEN 'escalated' THEN 0 WHEN 'double' THEN 2 ELSE 1 END, 'bench',
           CASE WHEN kind <> 'open' AND lat1 > 14400 THEN at + interval '4 hours' END,
           at, CASE WHEN kind <> 'open' THEN at + make_interval(secs => lat1 + lat2) END
    FROM bench_plan
    UNION ALL
    SELECT %(conversations)s + g, g, %(adjudication)s, 'done', 15, risk, at + interval '4 hours', 1, 1,
           'reviewers disagreed', NULL, at + make_interval(secs => lat1 + lat2),
           at + make_interval(secs => lat1 + 2 * lat2)
    FROM bench_plan WHERE disagree
    UNION ALL
    SELECT 2 * %(conversations)s + g, g, %(escalation)s, 'done', 15, risk, at + interval '4 hours', 1, 1,
           'escalated', NULL, at + make_interval(secs => lat1), at + make_interval(secs => lat1 + lat2)
    FROM bench_plan WHERE kind = 'escalated'
    """,
    """
    INSERT INTO reviews_escalation (item_id, raised_by_id, reason, status, resolved_by_id, created_at, resolved_at)
    SELECT g, (%(reviewer_ids)s::bigint[])[rev1], 'Not sure', 'resolved', (%(senior_ids)s::bigint[])[senior],
           at + make_interval(secs => lat1), at + make_interval(secs => lat1 + lat2)
    FROM bench_plan WHERE kind = 'escalated'
    """,
    # Decisions: the first reviewer's, the second of a double review, and seniors' final ones.
    """
    INSERT INTO reviews_decision (item_id, reviewer_id, verdict, harmful_request, categories, severity, rationale,
                                  preferred_response, time_spent_seconds, is_final, is_imported, created_at,
                                  updated_at)
    SELECT item, reviewer, verdict, verdict IN ('harmful_compliance', 'appropriate_refusal'),
           CASE WHEN verdict IN ('harmful_compliance', 'appropriate_refusal') THEN jsonb_build_array(category)
                ELSE '[]'::jsonb END,
           0, '', '', 20 + lat2 %% 200, final, false, decided, decided
    FROM (
        SELECT g AS item, (%(reviewer_ids)s::bigint[])[rev1] AS reviewer, verdict, category, lat2,
               false AS final, at + make_interval(secs => lat1) AS decided
        FROM bench_plan WHERE kind IN ('single', 'double', 'calibration')
        UNION ALL
        SELECT g, (%(reviewer_ids)s::bigint[])[rev2], CASE WHEN disagree THEN other_verdict ELSE verdict END,
               category, lat2, false, at + make_interval(secs => lat1 + lat2)
        FROM bench_plan WHERE kind = 'double'
        UNION ALL
        SELECT %(conversations)s + g, (%(senior_ids)s::bigint[])[senior], other_verdict, category, lat2, true,
               at + make_interval(secs => lat1 + 2 * lat2)
        FROM bench_plan WHERE disagree
        UNION ALL
        SELECT 2 * %(conversations)s + g, (%(senior_ids)s::bigint[])[senior], verdict, category, lat2, true,
               at + make_interval(secs => lat1 + lat2)
        FROM bench_plan WHERE kind = 'escalated'
    ) AS decided
    """,
]
SEQUENCES = ("reviews_conversation", "reviews_reviewitem")


def fill(decisions: int) -> dict[str, int]:
    """The plan, then one INSERT … SELECT per table, then VACUUM ANALYZE; returns row counts."""
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from reviews.models import PolicyVersion, Queue, QueueKind, ScoringModel, Source, SourceKind

    conversations = max(100, round(decisions / DECISIONS_PER_CONVERSATION))
    reviewer_group, senior_group = Group.objects.get(name="reviewer"), Group.objects.get(name="senior")
    reviewers = User.objects.bulk_create([User(username=f"reviewer-{n:02}") for n in range(REVIEWERS)])
    seniors = User.objects.bulk_create([User(username=f"senior-{n}") for n in range(SENIORS)])
    reviewer_group.user_set.add(*reviewers)
    senior_group.user_set.add(*seniors)
    sources = [Source.objects.create(name=f"monitor-{n}", kind=SourceKind.OUTPUT_CLASSIFIER) for n in range(4)]
    double = Queue.objects.create(slug="double", name="Double review", reviews_required=2)
    metrics = {"per_label": {"harmful": {"auroc": 0.9, "auprc": 0.85, "f1": 0.8, "threshold": 0.5, "ece": 0.05}}}
    v1 = ScoringModel.objects.create(version=1, encoder="bench", status="retired", metrics=metrics)
    v2 = ScoringModel.objects.create(version=2, encoder="bench", status="active", metrics=metrics)
    queues = {q.kind: q.pk for q in Queue.objects.exclude(pk=double.pk)}
    params: dict[str, Any] = {
        "conversations": conversations,
        "span": SPAN_DAYS * 86400,
        "categories": list(CATEGORIES),
        "models": list(MODELS),
        "reviewers": REVIEWERS,
        "seniors": SENIORS,
        "reviewer_ids": [u.pk for u in reviewers],
        "senior_ids": [u.pk for u in seniors],
        "sources": [s.pk for s in sources],
        "model_v1": v1.pk,
        "model_v2": v2.pk,
        "policy": PolicyVersion.objects.get(is_active=True).pk,
        "triage": queues[QueueKind.TRIAGE],
        "calibration": queues[QueueKind.CALIBRATION],
        "escalation": queues[QueueKind.ESCALATION],
        "adjudication": queues[QueueKind.ADJUDICATION],
        "double": double.pk,
    }
    with connection.cursor() as cursor:
        # The rows are consistent by construction: skip the per-row foreign-key triggers and the WAL flushes.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT setseed(%s)", [SEED])
        cursor.execute(PLAN_SQL, params)
        for sql in FILL_SQL:
            started = time.monotonic()
            cursor.execute(sql, params)
            table = sql.split("INSERT INTO ", 1)[1].split()[0]
            print(f"    {table:22} {cursor.rowcount:>10,} rows {time.monotonic() - started:6.1f}s", flush=True)
        cursor.execute("SET session_replication_role = DEFAULT")
        for table in SEQUENCES:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute("DROP TABLE bench_plan")
        cursor.execute("VACUUM ANALYZE")
        counts = {}
        for table in ("conversation", "flag", "score", "reviewitem", "decision"):
            cursor.execute(f"SELECT count(*) FROM reviews_{table}")
            counts[table] = cursor.fetchone()[0]
    return counts


def bare_count() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reviews_decision")
        cursor.fetchone()


def median_ms(call: Callable[[], object], rounds: int) -> float:
    call()  # warm: plans, caches, the ORM's compiled bits
    times = []
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(rounds: int) -> list[tuple[str, str, float]]:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from reviews.analytics.dashboards import DASHBOARDS, dashboard_build
    from reviews.analytics.types import AnalyticsFilters

    now = timezone.now()
    reviewer = User.objects.get(username="reviewer-00")
    cases: list[tuple[str, str, AnalyticsFilters]] = []
    for label, length in (*RANGES, (f"{SPAN_DAYS} days", timedelta(days=SPAN_DAYS + 1))):
        cases += [(name, label, AnalyticsFilters(start=now - length, end=now)) for name in DASHBOARDS]
    own = AnalyticsFilters(start=now - timedelta(days=30), end=now, reviewer_id=reviewer.pk)
    cases.append(("reviewers (own)", "30 days", own))
    results = [("count(*)", "-", median_ms(bare_count, rounds))]
    for name, label, filters in cases:
        build = name.removesuffix(" (own)")
        results.append((name, label, median_ms(partial(dashboard_build, name=build, filters=filters), rounds)))
        print(f"  {name:16} {label:9} {results[-1][2]:8.1f} ms", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    args = parser.parse_args()
    started = time.monotonic()
    with ExitStack() as stack:
        _harness.drop_database(DB)
        _harness.admin(f'CREATE DATABASE "{DB}"')
        if not args.keep:
            stack.callback(_harness.drop_database, DB)
        print(f"migrating and filling about {args.decisions:,} decisions ...", flush=True)
        _harness.setup_django(bench_env(DB))
        from django.db import connection

        from reviews.analytics.rollup import analytics_rollup

        counts = fill(args.decisions)
        print("  " + ", ".join(f"{n:,} {table}" for table, n in counts.items()))
        print(f"  filled after {time.monotonic() - started:.0f}s; rolling up ...", flush=True)
        full = analytics_rollup(full=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        incremental = analytics_rollup()
        print(
            f"  full rollup {full.seconds:.1f}s ({full.hours:,} hours, {full.rows:,} rows); "
            f"incremental {incremental.seconds:.2f}s ({incremental.hours} hours)",
            flush=True,
        )
        results = measure(args.rounds)
        connection.close()
    floor = results[0][2]
    print(f"\n{counts['decision']:,} decisions, median of {args.rounds} warm builds (server time, no templates)")
    print(f"  {'':16} {'range':9} {'ms':>8} {'x count(*)':>10}")
    for name, label, ms in results:
        print(f"  {name:16} {label:9} {ms:8.1f} {ms / floor:10.2f}")
    slowest = max(ms for name, _, ms in results[1:])
    verdict = "under" if slowest < TARGET_MS else "OVER"
    print(f"  slowest dashboard {slowest:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
    print(f"\ntotal {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
