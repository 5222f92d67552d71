"""Risk scores: the fallback from detectors' own scores, and storing model scores idempotently."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import transaction

from reviews.models import FALLBACK_PRODUCER, Conversation, Flag, Score, ScoringModel, ScoringStatus
from reviews.taskqueue import SCORE_QUEUE, SCORE_TASK, enqueue

SCORE_BATCH = 256  # conversations per task: a good GPU batch, and few broker round trips per ingest


def scoring_enqueue(*, conversation_ids: Iterable[int]) -> None:
    """Queue conversations for scoring in worker-sized batches."""
    ids = sorted(conversation_ids)
    for start in range(0, len(ids), SCORE_BATCH):
        enqueue(SCORE_TASK, ids[start : start + SCORE_BATCH], queue=SCORE_QUEUE)


def fallback_scores(*, conversation_ids: Iterable[int]) -> dict[int, dict[str, float]]:
    """Per-category risk from the detectors' own scores: the highest score each category got."""
    risks: dict[int, dict[str, float]] = {cid: {} for cid in conversation_ids}
    rows = Flag.objects.filter(conversation_id__in=list(risks)).values_list("conversation_id", "category", "score")
    for conversation_id, category, score in rows:
        by_category = risks[conversation_id]
        by_category[category] = max(score, by_category.get(category, 0.0))
    return risks


def scores_store(
    *,
    producer: str,
    per_conversation: Mapping[int, Mapping[str, float]],
    overall: Mapping[int, float] | None = None,
    scoring_model: ScoringModel | None = None,
) -> list[int]:
    """Write one Score per conversation for `producer`; rows that exist are left alone.

    Returns the ids that now have a score from this producer. Safe to run twice.
    """
    ids = list(per_conversation)
    with transaction.atomic():
        Score.objects.bulk_create(
            [
                Score(
                    conversation_id=cid,
                    producer=producer,
                    scoring_model=scoring_model,
                    categories=dict(categories),
                    risk=overall[cid] if overall is not None else max(categories.values(), default=0.0),
                )
                for cid, categories in per_conversation.items()
            ],
            ignore_conflicts=True,
        )
        Conversation.objects.filter(pk__in=ids).update(
            scoring_status=ScoringStatus.SCORED, scoring_error="", scoring_attempts=0
        )
    return ids


def score_with_fallback(*, conversation_ids: Iterable[int]) -> list[int]:
    return scores_store(producer=FALLBACK_PRODUCER, per_conversation=fallback_scores(conversation_ids=conversation_ids))
