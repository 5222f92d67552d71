"""How well near-duplicate clustering groups the JailbreakBench attack artifacts: precision and recall of pairs.

Truth: two artifacts belong together when they attack the same behaviour (``index``) with the same method
(GCG or JailbreakChat); the four target models' prompts of one (behaviour, method) are the positives. Each
prompt is clustered in file order exactly as ingest clusters requests (``reviews.ingest.clustering_offline``,
the same code as ``reviews.ingest.clustering`` without a database). Printed: pairs, precision and recall,
overall and per method; then, for comparison, plain MinHash similarity thresholds with single-link joining
(what a Jaccard threshold alone does on this set). ``--embeddings`` adds the other candidate route: the
worker's MiniLM encoder (worker/encoder.py, 256 tokens) and cosine thresholds, single link (needs torch; about
6 minutes on one busy CPU core).

Run from the repository root (needs ../shared/data/jailbreakbench)::

    .venv/bin/python bench/campaigns_quality.py [--embeddings]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import itertools
import json
import time
from collections.abc import Sequence
from typing import Any

from reviews.ingest.clustering_offline import cluster_labels
from reviews.ingest.minhash import fingerprints, similarity

ARTIFACTS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "jailbreakbench" / "jbb_attack_artifacts_dev.jsonl"
)


def pair_scores(rows: Sequence[dict[str, Any]], labels: Sequence[int | None]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) over all pairs."""
    truth = [(r["method"], r["index"]) for r in rows]
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(rows)), 2):
        same, together = truth[i] == truth[j], labels[i] is not None and labels[i] == labels[j]
        tp, fp, fn = tp + (same and together), fp + (together and not same), fn + (same and not together)
    return tp, fp, fn


def line(name: str, tp: int, fp: int, fn: int) -> str:
    precision = tp / (tp + fp) if tp + fp else 1.0
    return (
        f"  {name:34s} pairs {tp + fn:5d}  found {tp + fp:6d}  precision {precision:.3f}  recall {tp / (tp + fn):.3f}"
    )


def threshold_labels(rows: Sequence[dict[str, Any]], threshold: float) -> list[int | None]:
    """Single-link: each prompt joins the cluster of its most similar earlier prompt at or above `threshold`."""
    prints = fingerprints([r["prompt"] for r in rows])
    sigs = [fp.row if (fp := prints.at(k)) else None for k in range(len(rows))]
    labels: list[int | None] = [None] * len(rows)
    for i, sig in enumerate(sigs):
        pairs = (
            (similarity(sig, other), j) for j, other in enumerate(sigs[:i]) if sig is not None and other is not None
        )
        best = max(pairs, default=None)
        if best is not None and best[0] >= threshold:
            j = best[1]
            labels[j] = labels[j] if labels[j] is not None else j
            labels[i] = labels[j]
    return labels


def embedding_lines(rows: Sequence[dict[str, Any]]) -> None:
    import numpy as np

    from worker.encoder import load_encoder

    vectors = load_encoder().encode([r["prompt"] for r in rows])  # unit length
    cosine = vectors @ vectors.T
    for threshold in (0.8, 0.9, 0.95, 0.99):
        labels: list[int | None] = [None] * len(rows)
        for i in range(1, len(rows)):
            j = int(np.argmax(cosine[i, :i]))
            if cosine[i, j] >= threshold:
                labels[j] = labels[j] if labels[j] is not None else j
                labels[i] = labels[j]
        print(line(f"embedding cosine >= {threshold}", *pair_scores(rows, labels)))


def main() -> None:
    if not ARTIFACTS.exists():
        sys.exit(f"no {ARTIFACTS}: the shared data is not here")
    rows = [json.loads(line) for line in ARTIFACTS.read_text().splitlines() if line.strip()]
    start = time.perf_counter()
    labels = cluster_labels(r["prompt"] for r in rows)
    elapsed = time.perf_counter() - start
    clusters = {label for label in labels if label is not None}
    print(f"{len(rows)} artifacts, {len(clusters)} campaigns, clustered in {elapsed * 1000:.0f} ms")
    print("Near-duplicates (LSH candidates, confirmed on shingles: <= 6 differ, Jaccard >= 0.5):")
    print(line("all", *pair_scores(rows, labels)))
    for method in sorted({r["method"] for r in rows}):
        picked = [i for i, r in enumerate(rows) if r["method"] == method]
        print(line(method, *pair_scores([rows[i] for i in picked], [labels[i] for i in picked])))
    print("For comparison, an estimated-Jaccard threshold alone (single link):")
    for threshold in (0.5, 0.8, 0.9, 0.95):
        print(line(f"similarity >= {threshold}", *pair_scores(rows, threshold_labels(rows, threshold))))
    if "--embeddings" in sys.argv[1:]:
        print("The cached-embedding route (MiniLM, truncated at 256 tokens), cosine threshold, single link:")
        embedding_lines(rows)


if __name__ == "__main__":
    main()
