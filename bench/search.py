"""Search speed at scale: the reviewers' search (``reviews.workspace.search.items_search``, and the page
``GET /search/``) over N conversations, at two sizes to show how p95 grows.

What it measures, in one process, on a throw-away PostgreSQL database (``oversight_bench_search``, migrated,
dropped at the end, also on error), as a reviewer (not a superuser, so the queue access EXISTS runs):

- **text**: full-text queries over the conversations' turns (the stored ``search_vector`` column under its GIN
  index, migration 0023; ``search._text`` lists up to TEXT_IDS matches, else walks newest first): a rare word,
  a mid-frequency word, a common word, a common and a mid word together, a quoted phrase seen in the data, and
  text with queue and risk filters;
- **filters**: queue, status and risk without text; a flag category; a tag;
- **page**: the whole ``GET /search/?q=…`` through the Django test Client (session, form, selector, template);
- **pk lookup**: ``ReviewItem.objects.get(pk=…)``, the floor for a round trip on this machine in this run.

Each query is timed as its first page (25 rows, newest first, 26 asked for: no COUNT). Rounds repeat every
measurement with a ``gc.collect()`` before each; printed are medians over rounds of p50/p95/p99. Target:
search p95 < 300 ms at 1M conversations.

Data: conversations of 2-4 turns, 20-60 words each, drawn Zipf-like from 20,000 made-up words plus 80 common
ones (so a word can be rare or everywhere), one flag and one review item each (70% triage, 15% calibration,
10% escalation, 5% adjudication; 40% open), loaded with psycopg ``COPY``; the GIN index is dropped during the
load and built after (as a bulk load would), then ``VACUUM ANALYZE``. The smaller size is loaded first and
measured, then the rest is added and everything measured again.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth)::

    .venv/bin/python bench/search.py                                   # 200,000 and 1,000,000
    .venv/bin/python bench/search.py --small 20000 --conversations 100000
    .venv/bin/python bench/search.py --keep ...; .venv/bin/python bench/search.py --measure-only   # re-measure
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import gc
import itertools
import json
import random
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import psycopg

from bench import _harness
from bench._harness import admin, db_url, drop_database, percentile
from bench._server import django_env
from bench._synthetic import WORDS
from bench.ingest import CONVERSATION_COPY

DB = "oversight_bench_search"
SEED = 1729
TARGET_MS = 300.0
SHARES = {"triage": 0.70, "calibration": 0.15, "escalation": 0.10, "adjudication": 0.05}
CATEGORIES = ("cyber", "fraud", "privacy", "hate", "weapons", "self-harm")
INDEX = "CREATE INDEX conversation_search ON reviews_conversation USING gin (search_vector)"  # as migration 0023
ITEM_COPY = (
    "COPY reviews_reviewitem (id, conversation_id, queue_id, status, priority, risk, reviews_required,"
    " reviews_done, routed_by, created_at) FROM STDIN"
)
FLAG_COPY = "COPY reviews_flag (conversation_id, detector, category, score, explanation) FROM STDIN"


def made_up_words(n: int = 20_000) -> list[str]:
    rng = random.Random(SEED)
    letters = "bcdfghjklmnprstvz"
    vowels = "aeiou"
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(letters) + rng.choice(vowels) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Text:
    """Words by Zipf's law over the 80 common words then 20,000 made-up ones: the k-th has weight 1/k, so the
    commonest are in nearly every conversation, rank ~20 in about a third, rank ~2,000 in under 1%."""

    def __init__(self) -> None:
        self.rare = made_up_words()
        self.vocabulary = list(WORDS) + self.rare
        self.cumulative = list(itertools.accumulate(1 / (k + 1) for k in range(len(self.vocabulary))))
        self.phrases: list[str] = []

    def turns(self, rng: random.Random) -> list[dict[str, str]]:
        turns = []
        for i in range(rng.randint(2, 4)):
            words = rng.choices(self.vocabulary, cum_weights=self.cumulative, k=rng.randint(20, 60))
            if len(self.phrases) < 500 and rng.random() < 0.01:  # phrases reviewers saw, to search again
                at = rng.randrange(len(words) - 1)
                self.phrases.append(f'"{words[at]} {words[at + 1]}"')
            turns.append({"role": "user" if i % 2 == 0 else "assistant", "content": " ".join(words)})
        return turns


def load(start: int, stop: int, text: Text) -> None:
    """Conversations start+1..stop with a flag and an item each; the search index rebuilt after."""
    rng = random.Random(SEED + start)
    now = datetime.now(UTC)
    with psycopg.connect(db_url(DB)) as conn:
        queues: dict[str, int] = dict(conn.execute("SELECT slug, id FROM reviews_queue").fetchall())
        source = conn.execute("SELECT id FROM reviews_source WHERE name = 'bench'").fetchone()[0]  # type: ignore[index]
        conn.execute("DROP INDEX IF EXISTS conversation_search")
        slugs, weights = list(SHARES), list(SHARES.values())
        with conn.cursor().copy(CONVERSATION_COPY) as copy:
            for i in range(start + 1, stop + 1):
                model = f"assistant-{rng.choice(('7b', '13b', '70b'))}"
                copy.write_row((i, source, f"s-{i}", model, json.dumps(text.turns(rng)), "{}", 0, "scored", 1, ""))
        with conn.cursor().copy(FLAG_COPY) as copy:
            for i in range(start + 1, stop + 1):
                copy.write_row((i, "bench", rng.choice(CATEGORIES), round(rng.random(), 3), ""))
        with conn.cursor().copy(ITEM_COPY) as copy:
            for i in range(start + 1, stop + 1):
                created = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
                status = "open" if rng.random() < 0.4 else "done"
                queue = queues[rng.choices(slugs, weights)[0]]
                copy.write_row((i, i, queue, status, round(rng.random(), 4), round(rng.random(), 4), 1, 0, "bench",
                                created))  # fmt: skip
        for table in ("reviews_conversation", "reviews_reviewitem"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (stop,))
        conn.commit()  # the deferred foreign-key checks run here, before the index is built
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(INDEX)
        conn.commit()
    with psycopg.connect(db_url(DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


class Bench:
    def __init__(self, text: Text, rounds: int, calls: int) -> None:
        from django.contrib.auth.models import Group, User
        from django.test import Client

        from reviews.models import ItemTag

        self.rounds, self.calls = rounds, calls
        self.rng = random.Random(SEED)
        self.reviewer = User.objects.get_or_create(username="bench-reviewer")[0]
        self.reviewer.groups.add(Group.objects.get(name="reviewer"))
        self.client = Client()
        self.client.force_login(self.reviewer)
        if not ItemTag.objects.exists():
            ItemTag.objects.bulk_create(ItemTag(item_id=pk, name="needs-policy", added_by=self.reviewer)
                                        for pk in range(1, 2001, 7))  # fmt: skip
        self.text = text

    def queries(self) -> dict[str, Callable[[], dict[str, object]]]:
        rare, mid, common = self.text.rare, self.text.rare[:500], [w for w in WORDS[10:] if len(w) > 4]
        return {
            "text: rare word": lambda: {"q": self.rng.choice(rare[5_000:])},
            "text: mid-frequency word": lambda: {"q": self.rng.choice(mid)},
            "text: common word": lambda: {"q": self.rng.choice(common)},
            "text: two words": lambda: {"q": f"{self.rng.choice(common)} {self.rng.choice(rare[:2000])}"},
            "text: phrase": lambda: {"q": self.rng.choice(self.text.phrases)},
            "text + queue + risk": lambda: {"q": self.rng.choice(mid), "queue": "triage", "risk_min": 0.8},
            "filters: queue+status+risk": lambda: {"queue": "calibration", "status": "open", "risk_min": 0.5},
            "filters: category": lambda: {"category": self.rng.choice(CATEGORIES)},
            "filters: tag": lambda: {"tag": "needs-policy"},
            "(not in p95) category, by risk": lambda: {"category": self.rng.choice(CATEGORIES), "sort": "risk"},
        }

    def search(self, make: Callable[[], dict[str, object]]) -> float:
        from reviews.workspace.search import items_search

        data = make()
        start = time.perf_counter()
        items_search(user=self.reviewer, data=data)
        return time.perf_counter() - start

    def page(self) -> float:
        start = time.perf_counter()
        response = self.client.get("/search/", {"q": self.rng.choice(self.text.rare[:200]), "status": "open"})
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        return elapsed

    def pk_lookup(self) -> float:
        from reviews.models import ReviewItem

        pk = self.rng.randint(1, 1000)
        start = time.perf_counter()
        ReviewItem.objects.get(pk=pk)
        return time.perf_counter() - start

    def run(self) -> dict[str, list[list[float]]]:
        named: dict[str, Callable[[], float]] = {"pk lookup": self.pk_lookup, "page GET /search/?q=…": self.page}
        for name, make in self.queries().items():
            named[name] = lambda make=make: self.search(make)  # type: ignore[misc]
        for measure in named.values():
            for _ in range(3):
                measure()
        results: dict[str, list[list[float]]] = {name: [] for name in named}
        for round_no in range(self.rounds):
            order = list(named) if round_no % 2 == 0 else list(reversed(named))
            for name in order:
                gc.collect()
                results[name].append([1000 * named[name]() for _ in range(self.calls)])
        return results


def report(size: int, results: dict[str, list[list[float]]]) -> float:
    """Print the table; the p95 over every search query's samples (not the page, not the pk lookup)."""

    def median_of(name: str, q: float) -> float:
        return statistics.median(percentile(samples, q) for samples in results[name])

    print(f"\n{size:,} conversations — {'ms, median over rounds':<30} {'p50':>8} {'p95':>8} {'p99':>8}")
    for name in results:
        print(f"  {name:<52} {median_of(name, 50):>8.2f} {median_of(name, 95):>8.2f} {median_of(name, 99):>8.2f}")
    searches = [s for name, rounds in results.items() if name[:5] in ("text:", "text ", "filte") for s in
                itertools.chain.from_iterable(rounds)]  # fmt: skip
    p95 = percentile(searches, 95)
    print(f"  all search queries together: p95 {p95:.1f} ms (target < {TARGET_MS:.0f} ms at 1M)")
    return p95


def measure_kept(rounds: int, calls: int) -> None:
    """Measure the kept database again (after a change to the search code), at whatever size it holds."""
    _harness.setup_django({**django_env(DB), "ALLOWED_HOSTS": "127.0.0.1,testserver"})
    from reviews.models import Conversation

    text, rng = Text(), random.Random(SEED)
    while len(text.phrases) < 200:  # phrases drawn as the load drew them (not necessarily the same ones)
        text.turns(rng)
    report(Conversation.objects.count(), Bench(text, rounds, calls).run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1_000_000, help="the larger size (default 1,000,000)")
    parser.add_argument("--small", type=int, default=200_000, help="the smaller size, measured first (200,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every measurement (default 3)")
    parser.add_argument("--calls", type=int, default=20, help="calls per measurement per round (default 20)")
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DB}")
    parser.add_argument("--measure-only", action="store_true", help=f"measure a database {DB} kept earlier, as is")
    args = parser.parse_args()
    if not 0 < args.small < args.conversations:
        parser.error("--small must be above 0 and below --conversations")
    started = time.monotonic()
    if args.measure_only:
        measure_kept(args.rounds, args.calls)
        return
    with ExitStack() as stack:
        drop_database(DB)
        admin(f'CREATE DATABASE "{DB}"')
        if not args.keep:
            stack.callback(drop_database, DB)
        _harness.setup_django({**django_env(DB), "ALLOWED_HOSTS": "127.0.0.1,testserver"})
        from django.db import connections

        stack.callback(connections.close_all)
        from reviews.models import Source

        Source.objects.create(name="bench", kind="sampler")
        text, p95s = Text(), {}
        for start, stop in ((0, args.small), (args.small, args.conversations)):
            print(f"loading conversations {start + 1:,}..{stop:,} ...", flush=True)
            load(start, stop, text)
            print(f"  loaded and indexed after {time.monotonic() - started:.0f}s; measuring ...", flush=True)
            p95s[stop] = report(stop, Bench(text, args.rounds, args.calls).run())
        small, large = p95s[args.small], p95s[args.conversations]
        growth = args.conversations / args.small
        print(f"\nsearch p95: {small:.1f} ms at {args.small:,} → {large:.1f} ms at {args.conversations:,}"
              f" ({large / small:.2f}x for {growth:.0f}x the conversations)")  # fmt: skip
    print(f"total {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
