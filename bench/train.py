"""Retraining the head on 100,000 cached embeddings, against re-encoding those 100,000 texts.

Why it matters: a new head version is trained from the embedding cache, never from
the texts, so retraining must cost a small fraction of encoding (target: encoding
100k texts takes at least 20x as long as training on their cached vectors) and
stay under a minute on a small CPU box.

What it measures:

1. **train**: ``worker.training.train_verdict_head`` with the default ``TrainConfig``
   (early stopping, Platt calibration on the held-out 15%) on 100,000 float32
   ``[u, r]`` vectors (request and reply, 2 x 384) with the verdict contract's
   targets over the real category list (``category_names()`` of a freshly migrated
   throw-away SQLite database).
   Printed: median seconds over rounds, the epochs run, seconds per epoch, and
   the worst case (all 300 epochs) extrapolated from seconds per epoch.
2. **encode**: the encoder's rate on real conversation texts, the way rescoring
   encodes them (``Encoder.encode_views`` of ``text_views(messages)``, one call
   per ``SCORE_BATCH`` = 256 conversations, as ``worker.scoring.embed`` makes it
   inside each scoring task), median over rounds, extrapolated linearly to
   100,000 texts: encoding is linear in the number of texts for a fixed length
   distribution, and 100k texts would be encoded in the same 256-text task
   batches. This is the encoder alone, without the database work of the scoring
   task (see bench/rescore.py, about 5% more on CPU), so the ratio is conservative.

The 100,000 vectors: ``generate_conversations`` (seed 1729; 2,000 with the full
run, 500 with ``--quick``) encoded for real (an untimed first pass that is also
the warm-up), each with its demo ground truth as targets (its categories, plus
"harmful" for a harmful request), then tiled to 100,000 rows: every copy gets
Gaussian noise (sigma 0.03 per dimension, cosine about 0.86 to its original, like
a paraphrase) and is renormalised, and 2% of its target bits are flipped
(reviewers disagree; without it the held-out split holds near-copies of training
rows and early stopping never triggers, which real data does not do). How many
epochs early stopping runs depends on the data: that is why the worst case is
printed too.

Run from the repository root (no PostgreSQL needed)::

    .venv/bin/python bench/train.py             # ~3 minutes on 2 cores
    .venv/bin/python bench/train.py --quick     # ~1 minute
    .venv/bin/python bench/train.py --device cuda   # the encoder on the GPU (training stays on the CPU)
"""

from __future__ import annotations

import sys

# Run as a file: put the repository root first on sys.path, so `bench._harness` imports as a package.
if __package__ in (None, ""):
    sys.path[0] = str(__import__("pathlib").Path(__file__).resolve().parent.parent)

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED = 1729
ROWS = 100_000
NOISE = 0.03  # per dimension: |noise| ~ 0.59 against a unit vector
FLIP = 0.02  # share of target bits flipped per copy
TARGET_RATIO = 20.0
TARGET_SECONDS = 60.0


@dataclass(frozen=True)
class Params:
    sample: int = 2_000  # real conversations encoded (and timed per round)
    rounds: int = 3


FULL = Params()
QUICK = Params(sample=500, rounds=1)


def setup_django(db_path: Path) -> list[str]:
    """A throw-away SQLite database, migrated: the real label list comes from its seeded taxonomy."""
    os.environ.pop("REDIS_URL", None)
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "oversight.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from reviews.scoring.training_data import category_names

    return category_names()


def demo_targets(conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The verdict contract's targets from the demo ground truth, as a reviewer's decision gives them."""
    from reviews.demo.data import demo_label
    from reviews.scoring.training_data import decision_targets

    targets = []
    for conversation in conversations:
        truth = demo_label(conversation)
        targets.append(
            decision_targets(
                verdict=truth["verdict"], harmful_request=truth["harmful_request"], categories=truth["categories"]
            )
        )
    return targets


def tile(base: np.ndarray, targets: list[dict[str, Any]], rows: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """`rows` noisy, renormalised copies of the base vectors (each half, request and reply, renormalised; a
    missing reply stays zero), with a few request labels flipped."""
    rng = np.random.default_rng(SEED)
    index = np.arange(rows) % len(base)
    half = base.shape[1] // 2
    features = base[index] + rng.normal(0, NOISE, (rows, base.shape[1])).astype(np.float32)
    for part in (slice(0, half), slice(half, None)):
        features[:, part] /= np.linalg.norm(features[:, part], axis=1, keepdims=True)
    features[np.abs(base[index, half:]).sum(axis=1) == 0, half:] = 0
    tiled = []
    for i in index:
        t = dict(targets[i])
        if "request_harmful" in t and rng.random() < FLIP:
            t["request_harmful"] = 1 - t["request_harmful"]
        tiled.append(t)
    return np.ascontiguousarray(features, dtype=np.float32), tiled


class Bench:
    def __init__(self, texts: list[Any], encoder: Any, batch: int) -> None:
        self.texts, self.encoder, self.batch = texts, encoder, batch

    def sync(self) -> None:
        if self.encoder.device.type == "cuda":
            import torch

            torch.cuda.synchronize()

    def encode(self) -> tuple[float, np.ndarray]:
        """Conversations per second, one Encoder.encode_views call per task batch, as rescoring does; and the
        vectors."""
        out = []
        self.sync()
        start = time.perf_counter()
        for i in range(0, len(self.texts), self.batch):
            out.append(self.encoder.encode_views(self.texts[i : i + self.batch]))
        self.sync()
        return len(self.texts) / (time.perf_counter() - start), np.concatenate(out)


def train(features: np.ndarray, targets: Any) -> tuple[float, Any]:
    from worker.training import TrainConfig, train_verdict_head

    config = TrainConfig()
    order = np.random.default_rng(SEED).permutation(len(features))
    n_val = round(len(features) * config.val_fraction)  # tiled copies: any row split is as good as another
    start = time.perf_counter()
    result = train_verdict_head(features, targets, train_rows=order[n_val:], val_rows=order[:n_val], config=config)
    return time.perf_counter() - start, result


def _rounds(
    bench: Bench, features: np.ndarray, targets: Any, rounds: int
) -> tuple[list[float], list[float], list[int], Any]:
    """Encode and train `rounds` times, alternating which goes first; the rates, seconds, epochs and last result."""
    encode_rates: list[float] = []
    train_seconds: list[float] = []
    epochs: list[int] = []
    result = None
    for round_no in range(rounds):
        steps = ["encode", "train"] if round_no % 2 == 0 else ["train", "encode"]
        for step in steps:
            if step == "encode":
                encode_rates.append(bench.encode()[0])
            else:
                seconds, result = train(features, targets)
                train_seconds.append(seconds)
                epochs.append(result.epochs)
        print(f"  round {round_no + 1}/{rounds}: encode {encode_rates[-1]:,.1f} texts/s,"
              f" train {train_seconds[-1]:.1f}s ({epochs[-1]} epochs)", flush=True)  # fmt: skip
    assert result is not None
    return encode_rates, train_seconds, epochs, result


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer texts encoded, one round (a smoke run)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the encoder runs")
    return parser.parse_args()


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    args = _args()
    p = QUICK if args.quick else FULL
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        labels = setup_django(Path(tmp) / "train.sqlite3")
        import torch

        from reviews.demo.data import generate_conversations
        from reviews.scoring.services import SCORE_BATCH
        from reviews.scoring.text import text_views
        from worker.encoder import load_encoder
        from worker.training import TargetArrays, TrainConfig

        if args.device == "cuda" and not torch.cuda.is_available():
            sys.exit("--device cuda: CUDA is not available here.")
        conversations = generate_conversations(p.sample, seed=SEED)
        texts = [text_views(c["messages"]) for c in conversations]
        bench = Bench(texts, load_encoder(args.device), SCORE_BATCH)
        print(f"encoding {len(texts):,} demo texts (warm-up, and the base vectors) ...", flush=True)
        _, base = bench.encode()
        features, tiled = tile(base, demo_targets(conversations), ROWS)
        targets = TargetArrays.build(tiled, labels)
        print(f"  {features.shape[0]:,} x {features.shape[1]} vectors, {len(labels)} labels; measuring ...", flush=True)

        encode_rates, train_seconds, epochs, result = _rounds(bench, features, targets, p.rounds)

    config = TrainConfig()
    train_s = statistics.median(train_seconds)
    per_epoch = statistics.median(s / e for s, e in zip(train_seconds, epochs, strict=True))
    worst = per_epoch * config.max_epochs
    rate = statistics.median(encode_rates)
    encode_s = ROWS / rate
    flat = [t for v in texts for t in (v.request, *v.reply_chunks)]
    tokens = [len(ids) for ids in bench.encoder.tokenizer(flat, truncation=True, max_length=256)["input_ids"]]

    print(f"\n{'measurement':<52} {'median':>10} {'min':>9} {'max':>9}")
    print(f"{'train_verdict_head on 100,000 vectors (s)':<52} {train_s:>10.1f} {min(train_seconds):>9.1f}"
          f" {max(train_seconds):>9.1f}")  # fmt: skip
    print(f"{'  epochs run (early stopping)':<52} {statistics.median(epochs):>10.0f} {min(epochs):>9} {max(epochs):>9}")
    print(f"{'  seconds per epoch':<52} {per_epoch:>10.2f}")
    print(f"{'encoder rate on real texts (texts/s)':<52} {rate:>10.1f} {min(encode_rates):>9.1f}"
          f" {max(encode_rates):>9.1f}")  # fmt: skip
    print(f"{'encode 100,000 texts (s, extrapolated)':<52} {encode_s:>10.0f}")

    ratio = encode_s / train_s
    print(f"\nencode / train: {ratio:.0f}x  (target >= {TARGET_RATIO:.0f}x: {_met(ratio >= TARGET_RATIO)})")
    print(f"train under {TARGET_SECONDS:.0f}s on this machine: {'yes' if train_s < TARGET_SECONDS else 'NO'}"
          f" ({train_s:.1f}s; worst case, all {config.max_epochs} epochs: {worst:.0f}s,"
          f" encode/worst {encode_s / worst:.0f}x)")  # fmt: skip
    auroc = result.val_metrics["risk"]["auroc"]
    print(f"held-out risk AUROC of the last head: {auroc:.3f} (a sanity check that it learned)")
    print(
        f"\nparameters: {ROWS:,} rows tiled from {p.sample:,} encoded demo conversations (seed {SEED}),"
        f" noise sigma {NOISE}, {FLIP:.0%} target bits flipped; default TrainConfig {vars(config)};\n"
        f"  encoder on {bench.encoder.device} ({next(bench.encoder.model.parameters()).dtype}), one encode call per"
        f" {SCORE_BATCH} texts; texts {statistics.mean(tokens):.0f} tokens mean, {max(tokens)} max;"
        f" {p.rounds} rounds (medians); torch threads {torch.get_num_threads()}."
    )
    print(f"\ntotal {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
