"""Scores: the fallback from detectors' own scores, and storing model scores (risk, verdict grid) idempotently."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import transaction

from reviews.models import FALLBACK_PRODUCER, Conversation, Flag, Judged, Score, ScoringModel, ScoringStatus
from reviews.scoring.text import text_views
from reviews.taskqueue import SCORE_QUEUE, SCORE_TASK, enqueue
from reviews.vocabulary import VERDICTS

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


def _verdict_grid(verdicts: Mapping[str, float] | None) -> dict[str, float] | None:
    """The four verdict probabilities as stored; refuses a grid with other keys or one that does not sum to 1."""
    if verdicts is None:
        return None
    if set(verdicts) != set(VERDICTS):
        raise ValueError(f"verdicts must give exactly {', '.join(VERDICTS)}; got {', '.join(sorted(verdicts))}")
    grid = {name: float(verdicts[name]) for name in VERDICTS}
    if not all(0.0 <= value <= 1.0 for value in grid.values()) or abs(sum(grid.values()) - 1.0) > 1e-3:
        raise ValueError(f"verdict probabilities must lie in [0, 1] and sum to 1; got {grid}")
    return grid


def judged_of(*, conversation_ids: Iterable[int]) -> dict[int, str]:
    """What a score of each conversation judges: its response, or its request when no reply follows it."""
    rows = Conversation.objects.filter(pk__in=list(conversation_ids)).values_list("pk", "messages")
    return {pk: text_views(messages if isinstance(messages, list) else []).judged for pk, messages in rows}


def scores_store(
    *,
    producer: str,
    per_conversation: Mapping[int, Mapping[str, float]],
    overall: Mapping[int, float] | None = None,
    verdicts: Mapping[int, Mapping[str, float] | None] | None = None,
    judged: Mapping[int, str] | None = None,
    scoring_model: ScoringModel | None = None,
) -> list[int]:
    """Write one Score per conversation for `producer`; rows that exist are left alone.

    `overall` is the risk (P(harmful compliance)); without it, the highest category value.
    `verdicts` the four verdict probabilities per conversation (None or absent: no verdict grid);
    `judged` "response" or "request" per conversation (absent: read from the messages).
    Returns the ids that now have a score from this producer. Safe to run twice.
    """
    ids = list(per_conversation)
    verdicts = verdicts or {}
    judged = judged if judged is not None else judged_of(conversation_ids=ids)
    with transaction.atomic():
        Score.objects.bulk_create(
            [
                Score(
                    conversation_id=cid,
                    producer=producer,
                    scoring_model=scoring_model,
                    categories=dict(categories),
                    risk=overall[cid] if overall is not None else max(categories.values(), default=0.0),
                    verdicts=_verdict_grid(verdicts.get(cid)),
                    judged=judged.get(cid, Judged.RESPONSE),
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
