"""Celery tasks of the `score` queue. Tasks take ids, are acked late and are safe to run twice.

torch is imported inside the tasks: `worker-default` and beat load this module without it.
"""

from __future__ import annotations

import logging

import redis
from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from reviews.scoring.attempts import (
    scoring_attempt_begin,
    scoring_attempt_failed,
    scoring_attempt_uncount,
)
from reviews.taskqueue import SCORE_QUEUE, SCORE_TASK, TRAIN_TASK, enqueue

logger = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError, redis.ConnectionError)


@shared_task(bind=True, name=SCORE_TASK, acks_late=True, reject_on_worker_lost=True, max_retries=8)
def score_conversations(self: Task, conversation_ids: list[int]) -> int:
    attempt = scoring_attempt_begin(conversation_ids=conversation_ids)
    ids = attempt.conversation_ids
    if len(ids) > 1 and attempt.redelivered:
        _split(ids)  # a worker died on this batch: find the culprit one conversation at a time
        return 0
    if not ids:
        return 0
    from worker.scoring import score_and_route

    try:
        return len(score_and_route(ids))
    except TRANSIENT as exc:
        scoring_attempt_uncount(conversation_ids=ids)
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 60)) from exc
    except Exception as exc:
        logger.exception("scoring failed for %s", ids)
        if len(ids) > 1:
            _split(ids)
        elif not scoring_attempt_failed(conversation_id=ids[0], error=f"{type(exc).__name__}: {exc}"):
            raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 1), 60)) from exc
        return 0


def _split(ids: list[int]) -> None:
    for cid in ids:
        enqueue(SCORE_TASK, [cid], queue=SCORE_QUEUE)


@shared_task(name=TRAIN_TASK, acks_late=True)
def train_model(
    dataset_id: int | None = None,
    include_imported: bool = True,
    promote: bool = False,
    fine_tune: bool | None = None,
    loso: bool = True,
    fine_tune_rows: int | None = None,
    reference: bool = True,
) -> int:
    """Train a new model version (status `ready`) from decisions, or from a `classifier` snapshot; its version.
    With `promote` (the demo's first model) it becomes the active model at once. `fine_tune` None: fine-tune
    the encoder where this worker has CUDA; `fine_tune_rows`: on a sample of that many conversations; `reference`:
    with Oversight's reference conversations (`reviews/imports/reference.py`)."""
    from reviews.models import Dataset
    from reviews.scoring.model_registry import model_promote
    from worker.versions import model_train

    dataset = Dataset.objects.get(pk=dataset_id) if dataset_id is not None else None
    model = model_train(
        include_imported=include_imported,
        dataset=dataset,
        fine_tune=fine_tune,
        fine_tune_rows=fine_tune_rows,
        loso=loso,
        reference=reference,
    )
    if promote:
        model_promote(model=model, force=True)
    return model.version
