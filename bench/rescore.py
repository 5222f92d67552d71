"""Rescoring throughput: the whole scoring task against the bare encoder forward on the same texts.

What it measures, in one process, on a throw-away PostgreSQL database
(``oversight_bench_rescore``, migrated, dropped at the end, also on error):

1. **task**: conversations/second through the Celery task body
   ``worker.tasks.score_conversations`` run in-process (the task function called
   directly, exactly what a ``score`` worker runs per message), one call per
   ``--batch`` conversations. That is the whole path: attempt bookkeeping
   (``SELECT ... FOR UPDATE``), the embedding-cache lookup, reading the
   conversations' messages, ``text_views`` (the request and the reply chunks),
   ``Encoder.encode_views``, storing the embeddings, the active verdict head, writing
   Scores and routing into the triage queue.
   Nothing is cached: every round scores freshly inserted conversations (new
   external ids, the table truncated before), so every vector is encoded.
2. **bare encoder**: ``Encoder.encode_views`` (the very encoder object the task uses) on
   ``text_views(messages)`` of the same conversations, chunked the same way
   (one call per ``--batch`` texts, so length sorting and padding see the same
   groups), with ``batch_size=--batch``: the forward at the task's batch size.
3. **bare encoder, inner 64**: the same, but ``Encoder.encode_views(chunk)`` with its
   default ``batch_size`` (64 on the CPU, 256 on CUDA), which is the call
   ``worker.scoring.embed`` makes inside the task. task / this = the task's overhead
   over its own encoder work, independent of which inner forward batch is faster.
4. with ``--device cuda`` only, **forward only**: the same texts tokenised, padded and
   copied to the GPU before the clock starts, then only the model's forward and the
   pooling, batch by batch: the rate the GPU could give if tokenising cost nothing.
   task / forward-only is the issue's GPU target (>= 0.5); ``Encoder.encode`` tokenises
   the next batches on a thread during each forward (pinned-memory, non-blocking copies).
5. **tokenize only**: the encoder's tokenizer alone (``Encoder._tokenize``, on one thread) on the same batches;
   and, as the baseline in the same run, transformers' ``__call__`` that the encoder used before. On a GPU the
   tokenizer's rate bounds the task's (the issue measured 5,050 conv/s through ``__call__`` on an H200).

Printed: median conversations/second of each over interleaved rounds (order
alternating per round), task/bare ratios (of the medians and the median of
per-round ratios; the target for task/bare is >= 0.85 on CPU), the device and
dtype, batch size, torch threads and the texts' token lengths (the encoder's own
tokenizer, truncated at 256 like the encoder). When task/bare is below the target
(or with ``--profile``) one more task round runs under cProfile and the time per
batch of each stage of the task path is printed.

Conversations come from ``reviews.demo.data.generate_conversations`` (realistic
lengths: multi-turn, some long answers and pasted logs), inserted with
``reviews.ingest.bulk_insert.insert_batch`` before the clock starts (it does not
enqueue scoring). The active head is a throw-away one trained for a few epochs on
random vectors with the real label list: its weights do not change the cost.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth)::

    .venv/bin/python bench/rescore.py                  # CPU: ~4.5 minutes on 2 cores
    .venv/bin/python bench/rescore.py --quick          # ~1 minute
    .venv/bin/python bench/rescore.py --device cuda    # float16 encoder on the GPU
"""

from __future__ import annotations

import sys

# Run as a file: put the repository root first on sys.path, so `bench._harness` imports as a package.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from bench import _encoder_rates as rates
from bench import _harness
from bench._harness import admin, bench_env
from bench.rescore_report import (
    FORWARD_ONLY,
    SEED,
    TARGET,
    TOKENIZE_BEFORE,
    TOKENIZE_ONLY,
    print_profile,
    report,
    stage_clocks,
)

DB = "oversight_bench_rescore"
DEFAULT_BATCH = 256  # reviews.scoring.services.SCORE_BATCH (checked after Django starts)
EMBED_INNER_BATCH = 64  # Encoder.encode's default batch_size, which worker.scoring.embed uses


@dataclass(frozen=True)
class Params:
    per_round: int = 1024  # conversations per measurement
    rounds: int = 4


FULL = Params()
QUICK = Params(per_round=512, rounds=2)


# --- Database and Django ---------------------------------------------------------


def drop_database() -> None:
    _harness.drop_database(DB)


def setup_django(device: str) -> None:
    """Environment first (settings read it at import), then django.setup() and migrate. No broker: the one task
    run here is called directly."""
    _harness.setup_django(bench_env(DB, SCORING_DEVICE=device))


def create_active_model() -> list[str]:
    """A throw-away active head over the real label list, trained a few epochs on random vectors."""
    import numpy as np

    from reviews.models import ModelStatus, ScoringModel
    from reviews.scoring.training_data import category_names
    from worker.encoder import DIM, views_key
    from worker.head import checkpoint_dumps
    from worker.training import TargetArrays, TrainConfig, train_verdict_head

    labels = category_names()
    rng = np.random.default_rng(SEED)
    features = rng.standard_normal((2048, 3 * DIM), dtype=np.float32)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    # every row harmful compliance: the head's risk is high, so the default policy routes every conversation
    # into triage as before (verify() counts the ReviewItems); the weights do not change the cost
    rows = [{"request_harmful": 1, "complied": 1, "harmful_response": 1, "categories": []} for _ in range(2048)]
    targets = TargetArrays.build(rows, labels)
    every = np.arange(2048)
    result = train_verdict_head(
        features, targets, train_rows=every[256:], val_rows=every[:256], config=TrainConfig(max_epochs=3)
    )
    ScoringModel.objects.create(
        version=1,
        encoder=views_key(),
        labels=labels,
        model_args={"hidden_dim": result.head.config.hidden_dim},
        checkpoint=checkpoint_dumps(result.head, version=1, labels=labels, calibration=result.calibration),
        status=ModelStatus.ACTIVE,
    )
    return labels


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reviews_conversation CASCADE")  # scores, embeddings, items, flags go with it


# --- The benchmark ------------------------------------------------------------------


@dataclass
class Bench:
    params: Params
    batch: int
    pool: list[dict[str, Any]]  # generated conversations in the ingest payload shape
    texts: list[Any]  # text_views of each, in pool order
    source: int
    encoder: Any
    sync: Callable[[], None]
    runs: int = 0

    def insert(self) -> list[int]:
        """Fresh conversations (new external ids) on an empty table; their ids in pool order."""
        from django.db import transaction
        from django.utils import timezone

        from reviews.ingest.bulk_insert import insert_batch
        from reviews.ingest.schemas import ConversationIn

        self.runs += 1
        tag = f"r{self.runs}"  # fresh external ids
        payloads = [ConversationIn.model_validate({**c, "external_id": f"{tag}-{n}"}) for n, c in enumerate(self.pool)]
        truncate()
        with transaction.atomic():
            return insert_batch(source_id=self.source, payloads=payloads, received_at=timezone.now())

    def run_task(self, ids: list[int]) -> float:
        from worker.tasks import score_conversations

        self.sync()
        start = time.perf_counter()
        for chunk in rates.chunks(ids, self.batch):
            scored = score_conversations(chunk)
            assert scored == len(chunk), f"the task scored {scored} of {len(chunk)}"
        self.sync()
        return len(ids) / (time.perf_counter() - start)

    def task(self) -> float:
        ids = self.insert()
        rate = self.run_task(ids)
        self.verify(ids)
        return rate

    def verify(self, ids: list[int]) -> None:
        from reviews.models import Conversation, Embedding, ReviewItem, Score, ScoringStatus

        n = len(ids)
        assert Embedding.objects.filter(conversation_id__in=ids).count() == n, "not every conversation was encoded"
        assert Score.objects.filter(conversation_id__in=ids, producer="model-v1").count() == n, "scores missing"
        assert ReviewItem.objects.filter(conversation_id__in=ids).count() == n, "not every conversation was routed"
        assert not Conversation.objects.filter(pk__in=ids).exclude(scoring_status=ScoringStatus.SCORED).exists()

    def bare(self, inner: int | None, texts: list[Any] | None = None) -> float:
        """Encoder.encode_views per chunk of `batch` conversations, at batch_size=inner (None: its default, as
        embed calls it)."""
        texts = self.texts if texts is None else texts
        groups = rates.chunks(texts, self.batch)
        self.sync()
        start = time.perf_counter()
        for group in groups:
            if inner is None:
                self.encoder.encode_views(group)
            else:
                self.encoder.encode_views(group, batch_size=inner)
        self.sync()
        return len(texts) / (time.perf_counter() - start)

    def forward_only(self) -> float:
        """The model's forward and pooling alone, on batches tokenised and moved to the device beforehand."""
        if not hasattr(self, "_ready_batches"):
            self._ready_batches = rates.ready_batches(self.encoder, self.texts, self.batch)
        return rates.forward_only(self.encoder, self.texts, self._ready_batches, self.sync)

    def tokenize_only(self, *, transformers: bool = False) -> float:
        return rates.tokenize_only(self.encoder, self.texts, self.batch, transformers=transformers)

    def measurements(self) -> dict[str, Callable[[], float]]:
        named = {
            "task": self.task,
            f"bare encoder, batch {self.batch}": lambda: self.bare(self.batch),
            f"bare encoder, inner {EMBED_INNER_BATCH} (as embed)": lambda: self.bare(None),
        }
        if self.encoder.device.type == "cuda":
            named[FORWARD_ONLY] = self.forward_only
        named[TOKENIZE_ONLY] = self.tokenize_only
        named[TOKENIZE_BEFORE] = lambda: self.tokenize_only(transformers=True)
        return named

    def warm_up(self) -> None:
        """One batch of each: loads the head, touches every code path (on CUDA: initialises the kernels); and
        checks that the bare encoder reads exactly the texts the task reads."""
        from reviews.models import Conversation
        from reviews.scoring.text import text_views

        ids = self.insert()
        stored = dict(Conversation.objects.filter(pk__in=ids).values_list("pk", "messages"))
        assert [text_views(stored[cid]) for cid in ids] == self.texts, "the task would read other texts"
        self.run_task(ids[: self.batch])
        self.verify(ids[: self.batch])
        self.bare(self.batch, self.texts[: self.batch])
        self.bare(None, self.texts[: self.batch])

    def run(self) -> dict[str, list[float]]:
        named = self.measurements()
        results: dict[str, list[float]] = {name: [] for name in named}
        for round_no in range(self.params.rounds):
            order = list(named) if round_no % 2 == 0 else list(reversed(named))
            for name in order:
                results[name].append(named[name]())
            print(f"  round {round_no + 1}/{self.params.rounds}: " + ", ".join(
                f"{n} {results[n][-1]:,.1f}" for n in named), flush=True)  # fmt: skip
        return results

    def profile(self) -> None:
        """One more task round under cProfile (cumulative time per batch of each stage), then one with wall clocks."""
        ids = self.insert()
        profiler = cProfile.Profile()
        profiler.enable()
        self.run_task(ids)
        profiler.disable()
        self.verify(ids)
        print_profile(pstats.Stats(profiler), batches=len(rates.chunks(ids, self.batch)))
        stage_clocks(self)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer conversations and rounds (a smoke run)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="conversations per task call and encode")
    parser.add_argument("--profile", action="store_true", help="profile a task round even when on target")
    args = parser.parse_args()
    p = QUICK if args.quick else FULL
    started = time.monotonic()
    with ExitStack() as stack:
        drop_database()
        admin(f'CREATE DATABASE "{DB}"')
        stack.callback(drop_database)
        print("migrating and loading ...", flush=True)
        setup_django(args.device)
        from django.db import connections

        stack.callback(connections.close_all)

        import torch

        from reviews.demo.data import generate_conversations
        from reviews.ingest.sources import source_create
        from reviews.models import SourceKind
        from reviews.scoring.services import SCORE_BATCH
        from reviews.scoring.text import text_views
        from worker.encoder import get_encoder

        assert SCORE_BATCH == DEFAULT_BATCH, f"SCORE_BATCH is now {SCORE_BATCH}: update DEFAULT_BATCH"
        if args.device == "cuda" and not torch.cuda.is_available():
            sys.exit("--device cuda: CUDA is not available here.")
        create_active_model()
        source = source_create(name="bench", kind=SourceKind.OUTPUT_CLASSIFIER).source
        pool = generate_conversations(p.per_round, seed=SEED)
        texts = [text_views(c["messages"]) for c in pool]
        encoder = get_encoder()  # the task's own encoder (SCORING_DEVICE)
        assert encoder.device.type == args.device

        def sync() -> None:
            if encoder.device.type == "cuda":
                torch.cuda.synchronize()

        bench = Bench(p, args.batch, pool, texts, source.pk, encoder, sync)
        print(f"  ready after {time.monotonic() - started:.0f}s; warming up ...", flush=True)
        bench.warm_up()
        print("measuring (conversations/second per round) ...", flush=True)
        results = bench.run()
        ratio = report(bench, results, args.device)
        if ratio < TARGET or args.profile:
            bench.profile()
    print(f"\ntotal {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
