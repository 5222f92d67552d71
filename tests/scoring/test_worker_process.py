"""A real Celery worker process over Redis and PostgreSQL: ingested conversations are scored by the model.

Workers killed mid-batch, a conversation that crashes the worker, and Redis or PostgreSQL going away are in
tests/scoring/test_faults_worker.py and tests/ops/test_faults_database.py.
"""

from __future__ import annotations

import pytest

from reviews.models import Conversation, ReviewItem, RoutingRecord
from tests import workerproc
from tests.workerproc import ingest, model_scored, needs_redis_and_postgres, wait_for

worker = workerproc.worker  # fixtures
active_model = workerproc.active_model

pytestmark = [
    pytest.mark.worker,
    # Generous bounds: they only matter when something is wrong, and a loaded 2-core CI
    # machine encodes slowly. The waits below fail first, with what was missing.
    pytest.mark.timeout(1200),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    needs_redis_and_postgres,
]


def test_ingested_conversations_are_scored_by_the_model_on_a_real_worker(worker, active_model):
    worker()
    ids = ingest(20, seed=101)

    wait_for(lambda: model_scored(ids, active_model) == 20, timeout=300, what="20 model scores")

    assert set(Conversation.objects.filter(pk__in=ids).values_list("scoring_status", flat=True)) == {"scored"}
    # Routing ran after scoring: each conversation has the active policy's outcome, and every
    # outcome that names a queue (the default policy drops what is low-risk) has its item there.
    records = RoutingRecord.objects.filter(conversation_id__in=ids, policy_version__is_active=True)
    assert records.count() == 20
    for record in records.exclude(queue=None):
        assert ReviewItem.objects.filter(conversation_id=record.conversation_id, queue=record.queue).exists()
    assert records.exclude(queue=None).exists()
