"""Dataset export throughput: ``dataset_build`` of an ``eval`` JSONL snapshot against a bare ``COPY … TO``.

What it measures, on a throw-away PostgreSQL database (``oversight_bench_export``,
migrated, dropped at the end, also on error, unless ``--keep``), filled once in SQL with N conversations
(1,000,000; 100,000 with ``--quick``), each with one done ReviewItem in triage and one
Decision (the four verdicts in turn; harmful ones with a category, failures with a
preferred response):

1. **export**: ``reviews.datasets.builder.dataset_build`` of an ``eval`` snapshot
   to JSONL (train/validation/test files in a temporary MEDIA_ROOT): keyset chunks of
   conversation ids, the effective decision and agreement per conversation, one JSON
   line per row, SHA-256 of each file, the card, and the decision ids it used (the
   lineage table). Rows/second = rows written / wall time of the build.
2. **copy**: ``COPY (SELECT <the same columns the builder reads, same join, same
   order>) TO STDOUT`` through psycopg, written to a file: the floor for reading
   these rows out of PostgreSQL at all.

Each measurement runs in a fresh child process, so its peak RSS (``ru_maxrss``) is its
own: Python, Django and pyarrow included. Before the timed build the child renders the Datasets page's status
cell once and reverses a URL, as a long-lived worker already has (template loaded, URL conf imported: about
0.3 s once per process);
``--cold`` times that too. Rounds alternate export and copy; the
figures are medians. Targets: export/copy >= 0.3, export peak RSS < 250 MB.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust)::

    .venv/bin/python bench/export.py            # 1,000,000 decisions, 2 rounds
    .venv/bin/python bench/export.py --quick    # 100,000 decisions, 2 rounds
    .venv/bin/python bench/export.py --quick --db oversight_bench_mine --keep            # fill once, keep it
    .venv/bin/python bench/export.py --quick --db oversight_bench_mine --keep --reuse    # measure only
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root first, so `bench.*` imports
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import _harness
from bench._harness import PG_URL, ROOT, bench_env

DB = "oversight_bench_export"
TARGET_RATIO = 0.3
TARGET_RSS_MB = 250
COPY_SQL = """
COPY (
    SELECT d.id, i.conversation_id, d.verdict, d.harmful_request, d.categories, d.severity, d.preferred_response,
           d.is_final, d.created_at, pv.number, c.messages, c.model_name, s.name
    FROM reviews_decision d
    JOIN reviews_reviewitem i ON i.id = d.item_id
    JOIN reviews_conversation c ON c.id = i.conversation_id
    JOIN reviews_source s ON s.id = c.source_id
    LEFT JOIN reviews_policyversion pv ON pv.id = i.policy_version_id
    ORDER BY i.conversation_id, d.is_final, d.created_at, d.id
) TO STDOUT
"""


def fill(n: int) -> None:
    """N conversations, items and decisions in three INSERT … SELECTs, then VACUUM ANALYZE."""
    from django.contrib.auth.models import User
    from django.db import connection

    from reviews.models import Queue, Source

    source = Source.objects.create(name="bench", kind="output_classifier")
    reviewer = User.objects.create_user("bench-reviewer")
    queue = Queue.objects.get(slug="triage")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO reviews_conversation (source_id, external_id, model_name, messages, metadata, content_length,
                                              scoring_status, scoring_attempts, scoring_error)
            SELECT %s, 'bench-' || g, 'bench-model-' || (g %% 3),
                   jsonb_build_array(
                       jsonb_build_object('role', 'user', 'content',
                                          'Request ' || g || ': ' || repeat('please explain this in detail ', 6)),
                       jsonb_build_object('role', 'assistant', 'content',
                                          'Answer ' || g || ': ' || repeat('here is what I can say about it ', 8))),
                   '{}'::jsonb, 450, 'scored', 0, ''
            FROM generate_series(1, %s) AS g
            """,
            [source.pk, n],
        )
        cursor.execute(
            """
            INSERT INTO reviews_reviewitem (conversation_id, queue_id, status, priority, risk, reviews_required,
                                            reviews_done, routed_by)
            SELECT id, %s, 'done', 0, 0, 1, 1, 'bench' FROM reviews_conversation WHERE source_id = %s
            """,
            [queue.pk, source.pk],
        )
        cursor.execute(
            """
            INSERT INTO reviews_decision (item_id, reviewer_id, verdict, harmful_request, categories, severity,
                                          rationale, preferred_response, time_spent_seconds, is_final, is_imported,
                                          created_at)
            SELECT id, %s,
                   (ARRAY['harmful_compliance', 'appropriate_refusal',
                          'over_refusal', 'appropriate_help'])[id %% 4 + 1],
                   id %% 4 < 2,
                   CASE WHEN id %% 4 < 2 THEN '["violent-crime"]'::jsonb ELSE '[]'::jsonb END,
                   id %% 4, '', CASE WHEN id %% 2 = 0 THEN 'A better answer.' ELSE '' END, 30, false, false,
                   now() - interval '1 day'  -- single reviews past their edit window: settled, so exported
            FROM reviews_reviewitem
            """,
            [reviewer.pk],
        )
        cursor.execute("VACUUM ANALYZE")


def child_export() -> dict[str, float]:
    from django.db import connection
    from django.urls import reverse

    from reviews.datasets.builder import dataset_build, dataset_create
    from reviews.live.broadcast import dataset_progressed

    dataset = dataset_create(kind="eval", format="jsonl", enqueue=False)
    if not os.environ.get("BENCH_COLD"):
        # A long-lived worker has pushed a build's status cell before: the template is loaded, and the URL
        # conf (all the views, which an ended build's cell reverses) imported. About 0.3 s, once per process.
        dataset_progressed(dataset=dataset)
        reverse("reviews:datasets")
    profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    dataset = dataset_build(dataset_id=dataset.pk)
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(30)
    if dataset.status != "ready":
        raise RuntimeError(f"export ended {dataset.status}: {dataset.error}")
    if not dataset.row_count:  # a rate over no rows measures nothing
        raise RuntimeError("export wrote no rows: are the filled decisions settled?")
    with connection.cursor() as cursor:  # the next round starts from the same state
        cursor.execute("TRUNCATE reviews_datasetlineage")
    return {"seconds": seconds, "rows": dataset.row_count}


def child_copy(out: Path) -> dict[str, float]:
    import psycopg

    rows = 0
    started = time.perf_counter()
    with (
        psycopg.connect(f"{PG_URL}/{os.environ['BENCH_DB']}") as conn,
        conn.cursor() as cursor,
        out.open("wb") as handle,
        cursor.copy(COPY_SQL) as copy,
    ):
        for block in copy:
            handle.write(block)
            rows += bytes(block).count(b"\n")
    return {"seconds": time.perf_counter() - started, "rows": rows}


def child(kind: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        os.environ["MEDIA_ROOT"] = tmp
        os.environ.update(
            {"DATABASE_URL": f"{PG_URL}/{os.environ['BENCH_DB']}", "DJANGO_SETTINGS_MODULE": "oversight.settings"}
        )
        os.environ.update({"DEBUG": "0", "SECRET_KEY": "bench-only-secret-key-not-for-production-use"})
        os.environ.pop("REDIS_URL", None)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        result = child_export() if kind == "export" else child_copy(Path(tmp) / "copy.tsv")
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind], check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 decisions")
    parser.add_argument("--rows", type=int, default=None, help="decisions to export (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each export (stderr)")
    parser.add_argument("--db", default=DB, help=f"the scratch database (default {DB})")
    parser.add_argument("--keep", action="store_true", help="leave the database in place for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure only, on a database left by --keep")
    parser.add_argument("--cold", action="store_true", help="time the export's one-time warm-up too (a new process)")
    parser.add_argument("--child", choices=["export", "copy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    n = args.rows or (100_000 if args.quick else 1_000_000)
    if args.profile:
        os.environ["BENCH_PROFILE"] = "1"
    if args.cold:
        os.environ["BENCH_COLD"] = "1"
    started = time.monotonic()
    os.environ["BENCH_DB"] = args.db
    with ExitStack() as stack:
        if not args.reuse:
            _harness.drop_database(args.db)
            _harness.admin(f'CREATE DATABASE "{args.db}"')
        if not args.keep:
            stack.callback(_harness.drop_database, args.db)
        if not args.reuse:
            print(f"migrating and filling {n:,} decisions ...", flush=True)
            _harness.setup_django(bench_env(args.db))
            from django.db import connections

            fill(n)
            connections.close_all()
            print(f"  filled after {time.monotonic() - started:.0f}s; measuring ...", flush=True)
        results: dict[str, list[dict[str, float]]] = {"export": [], "copy": []}
        for round_ in range(args.rounds):
            for kind in ("export", "copy") if round_ % 2 == 0 else ("copy", "export"):
                result = measure(kind)
                results[kind].append(result)
                rate = result["rows"] / result["seconds"]
                print(f"  round {round_ + 1} {kind:6} {rate:>10,.0f} rows/s  peak RSS {result['peak_rss_mb']:.0f} MB")
        export_rate = statistics.median(r["rows"] / r["seconds"] for r in results["export"])
        copy_rate = statistics.median(r["rows"] / r["seconds"] for r in results["copy"])
        rss = max(r["peak_rss_mb"] for r in results["export"])
        ratio = export_rate / copy_rate
        print(f"\n{n:,} decisions, eval JSONL, {args.rounds} rounds (medians)")
        print(f"  export {export_rate:>10,.0f} rows/s   peak RSS {rss:.0f} MB (target < {TARGET_RSS_MB})")
        copy_rss = max(r["peak_rss_mb"] for r in results["copy"])
        print(f"  COPY   {copy_rate:>10,.0f} rows/s   peak RSS {copy_rss:.0f} MB")
        print(f"  export/COPY {ratio:.2f} (target >= {TARGET_RATIO})")
    print(f"\ntotal {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
