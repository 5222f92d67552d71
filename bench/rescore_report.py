"""bench/rescore.py's report: the rates and ratios, the token lengths, and the per-stage profile of a task round."""

from __future__ import annotations

import os
import pstats
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench._encoder_rates import chunks

if TYPE_CHECKING:
    from bench.rescore import Bench

SEED = 1729
TARGET = 0.85
GPU_TARGET = 0.5  # task / forward-only on a GPU (issue #14)
FORWARD_ONLY = "forward only (pre-tokenised)"
TOKENIZE_ONLY = "tokenize only"
TOKENIZE_BEFORE = "tokenize only, via transformers (before)"


def per_model(label: str, func: Callable[..., Any], spent: dict[str, list[float]]) -> Callable[..., Any]:
    """A QuerySet method clocked per model class, e.g. "ReviewItem.bulk_update"."""

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(self, *args, **kwargs)
        finally:
            spent.setdefault(label.format(model=self.model.__name__), []).append(time.perf_counter() - start)

    return wrapper


# (file suffix, function) → what it is, in call order within the task.
STAGES = [
    ("worker/tasks.py", "score_conversations", "task body (total)"),
    ("reviews/scoring/attempts.py", "scoring_attempt_begin", "  attempt bookkeeping (FOR UPDATE, +1)"),
    ("worker/scoring.py", "score_and_route", "  score_and_route"),
    ("worker/scoring.py", "active_model", "    active_model (model row)"),
    ("worker/scoring.py", "embed", "    embed"),
    ("reviews/scoring/embeddings.py", "embeddings_cached", "      embedding-cache lookup"),
    ("reviews/scoring/text.py", "text_views", "      text_views"),
    ("worker/encoder.py", "encode", "      Encoder.encode"),
    ("worker/encoder.py", "_forward", "        forward batches (model+pool)"),
    ("worker/encoder.py", "_tokenize", "        tokenize batches"),
    ("transformers/tokenization_utils_base.py", "__call__", "          tokenizer"),
    ("reviews/scoring/embeddings.py", "embeddings_store", "      embeddings_store"),
    ("worker/scoring.py", "predict", "    predict (head)"),
    ("reviews/scoring/services.py", "scores_store", "    scores_store"),
    ("reviews/routing/services.py", "items_route", "    items_route"),
]


def print_profile(stats: pstats.Stats, batches: int) -> None:
    table: dict[tuple[str, str], tuple[float, int]] = {}
    for (filename, _line, name), (_cc, calls, _tt, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for suffix, func, _label in STAGES:
            if name == func and filename.replace(os.sep, "/").endswith(suffix):
                old = table.get((suffix, func), (0.0, 0))
                table[(suffix, func)] = (old[0] + cumtime, old[1] + calls)
    print(f"\ncProfile of one task round ({batches} batches; cProfile inflates Python-heavy stages):")
    print(f"{'stage':<48} {'ms/batch':>9} {'calls/batch':>12}")
    for suffix, func, label in STAGES:
        if (suffix, func) in table:
            cumtime, calls = table[(suffix, func)]
            print(f"{label:<48} {1000 * cumtime / batches:>9.1f} {calls / batches:>12.1f}")
    total = table.get(("worker/tasks.py", "score_conversations"), (0.0, 0))[0]
    encode = table.get(("worker/encoder.py", "encode"), (0.0, 0))[0]
    print(f"{'task minus Encoder.encode (the overhead)':<48} {1000 * (total - encode) / batches:>9.1f}")
    print("\ntop 15 functions by own time:")
    stats.sort_stats("tottime").print_stats(15)


def token_lengths(encoder: Any, texts: list[str]) -> list[int]:
    from worker.encoder import MAX_TOKENS

    ids = encoder.tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]
    return [len(row) for row in ids]


def report(bench: Bench, results: dict[str, list[float]], device: str) -> float:
    import torch

    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"\n{'measurement':<36} {'median conv/s':>14} {'min':>9} {'max':>9}")
    for name, values in results.items():
        print(f"{name:<36} {medians[name]:>14,.1f} {min(values):>9,.1f} {max(values):>9,.1f}")

    print()
    names = list(results)
    task, bare, inner = names[:3]
    ratios = {}
    compared = [(bare, f"  (target >= {TARGET:.2f})"), (inner, "  (the task's overhead)")]
    if FORWARD_ONLY in results:
        compared.append((FORWARD_ONLY, f"  (GPU target >= {GPU_TARGET:.2f})"))
    for other, note in compared:
        paired = statistics.median(t / b for t, b in zip(results[task], results[other], strict=True))
        ratios[other] = medians[task] / medians[other]
        print(f"task / {other:<34}: {ratios[other]:.2f} (median of per-round ratios {paired:.2f}){note}")
    if FORWARD_ONLY in results:  # one tokenizer thread feeds the GPU: below 1 it is what caps the task
        keeps_up = medians[TOKENIZE_ONLY] / medians[FORWARD_ONLY]
        print(f"tokenize only / forward only{'':<11}: {keeps_up:.2f}  (the tokenizer keeps up with the GPU at >= 1)")
    speedup = statistics.median(a / b for a, b in zip(results[TOKENIZE_ONLY], results[TOKENIZE_BEFORE], strict=True))
    print(f"tokenize only / via transformers (before): {speedup:.2f} (median of per-round ratios)")

    from worker.encoder import view_texts

    flat = [t for v in bench.texts for t in view_texts(v)]
    lengths = token_lengths(bench.encoder, flat)
    truncated = sum(n >= 256 for n in lengths) / len(lengths)
    dev = bench.encoder.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    dtype = next(bench.encoder.model.parameters()).dtype
    print(
        f"\nparameters: device {device} ({name}, encoder {dtype}), batch {bench.batch} conversations per task call,"
        f" torch threads {torch.get_num_threads()},\n  {bench.params.per_round:,} conversations per measurement,"
        f" {bench.params.rounds} rounds (medians), demo conversations (seed {SEED});"
        f" texts {statistics.mean(lengths):.0f} tokens mean, {max(lengths)} max, {truncated:.0%} at the 256 cap,"
        f" {statistics.mean(map(len, flat)):,.0f} chars mean, {len(flat) / len(bench.texts):.2f} texts a conversation"
        " (request + reply chunks)."
    )
    return ratios[bare]


def stage_clocks(bench: Bench) -> None:
    """One more task round with a wall clock around each stage (no profiler overhead): the stages'
    functions are wrapped where the task path looks them up, in this process only, then restored."""
    from django.db.models import QuerySet

    import worker.scoring
    import worker.tasks
    from worker.encoder import Encoder

    spent: dict[str, list[float]] = {}

    def clocked(label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent.setdefault(label, []).append(time.perf_counter() - start)

        return wrapper

    targets: list[tuple[Any, str, str]] = [
        (worker.tasks, "scoring_attempt_begin", "  attempt bookkeeping"),
        (worker.scoring, "active_model", "  active_model"),
        (worker.scoring, "embeddings_cached", "  embedding-cache lookup"),
        (Encoder, "encode", "  Encoder.encode"),
        (worker.scoring, "embeddings_store", "  embeddings_store"),
        (worker.scoring, "predict", "  predict (head)"),
        (worker.scoring, "scores_store", "  scores_store"),
        (worker.scoring, "items_route", "  items_route"),
    ]
    targets += [(QuerySet, name, f"    {{model}}.{name}") for name in ("bulk_create", "bulk_update", "update")]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
    for owner, name, label in targets:
        original = getattr(owner, name)
        setattr(owner, name, per_model(label, original, spent) if owner is QuerySet else clocked(label, original))
    ids = bench.insert()
    try:
        for chunk in chunks(ids, bench.batch):
            clocked("task body (total)", worker.tasks.score_conversations)(chunk)
            bench.sync()
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    bench.verify(ids)
    batches = len(chunks(ids, bench.batch))
    total = sum(spent.get("task body (total)", []))
    encode = sum(spent.get("  Encoder.encode", []))
    print(f"\nwall clock per stage, one task round ({batches} batches, no profiler):")
    print(f"{'stage':<48} {'ms/batch':>9} {'calls/batch':>12}")
    for label, values in sorted(spent.items(), key=lambda item: not item[0].startswith("task")):
        print(f"{label:<48} {1000 * sum(values) / batches:>9.1f} {len(values) / batches:>12.1f}")
    print(f"{'task minus Encoder.encode (the overhead)':<48} {1000 * (total - encode) / batches:>9.1f}"
          f"   ({(total - encode) / total:.1%} of the task)")  # fmt: skip
