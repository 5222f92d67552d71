"""Clustering off the request path: ingest enqueues the new ids after commit, a `default` worker files them.

Ingest's transaction only stores conversations; the task reads the requests back and files each under its
near-duplicates' campaign (reviews/ingest/clustering.py). Batches are clustered one at a time (a transaction
advisory lock on PostgreSQL; SQLite serializes writers anyway), in id order, so a request always sees the seeds
of every batch clustered before it, as it did in ingest's transaction. Running a task twice changes nothing:
conversations that already have their member row are skipped. The sweeper files conversations whose task was
lost (broker down at commit, worker killed), never a gold item's copy (reviews/quality/gold.py), which ingest
never saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from reviews.ingest.clustering import campaigns_assign
from reviews.ingest.minhash import stored_request_text
from reviews.models import Conversation, gold_copy
from reviews.taskqueue import CAMPAIGNS_TASK, enqueue

CLUSTER_BATCH = 1000  # one ingest batch: one candidate query and one member insert each
# A conversation still unfiled this long after it arrived is taken as lost; older than the window, left alone
# (the sweep stays a range scan of one day of received_at).
SWEEP_AFTER, SWEEP_WINDOW = timedelta(minutes=3), timedelta(days=1)
_LOCK = 0x6361_6D70  # "camp": the advisory lock that serializes clustering
# stored_request_text in SQL: the user turns' contents in order, one per line (a missing content adds no word).
_USER_TURNS = RawSQL(
    "SELECT string_agg(m ->> 'content', E'\\n' ORDER BY i) FROM jsonb_array_elements(CASE jsonb_typeof(messages) "
    "WHEN 'array' THEN messages ELSE '[]' END) WITH ORDINALITY AS t(m, i) WHERE m ->> 'role' = 'user'",
    [],
)


def campaigns_enqueue(*, conversation_ids: Iterable[int]) -> None:
    ids = sorted(conversation_ids)
    for start in range(0, len(ids), CLUSTER_BATCH):
        enqueue(CAMPAIGNS_TASK, ids[start : start + CLUSTER_BATCH])


@transaction.atomic
def campaigns_cluster(*, conversation_ids: Iterable[int]) -> int:
    """File the given conversations not filed yet under their campaigns, in id order. Returns how many."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
    unfiled = Conversation.objects.filter(pk__in=list(conversation_ids), campaign_member__isnull=True).order_by("pk")
    if connection.vendor == "postgresql":  # only the user turns leave the database, already joined
        rows = list(unfiled.annotate(request=_USER_TURNS).values_list("pk", "request", "received_at"))
        requests = [(pk, text or "") for pk, text, _ in rows]
    else:
        rows = list(unfiled.values_list("pk", "messages", "received_at"))
        requests = [(pk, stored_request_text(messages)) for pk, messages, _ in rows]
    if rows:
        campaigns_assign(requests=requests, now=max(received_at for _, _, received_at in rows))
    return len(rows)


def campaigns_sweep(*, limit: int = 10_000) -> int:
    """Enqueue conversations of the last day still unfiled minutes after they arrived. Returns how many."""
    now = timezone.now()
    lost = list(
        Conversation.objects.filter(
            received_at__gte=now - SWEEP_WINDOW, received_at__lt=now - SWEEP_AFTER, campaign_member__isnull=True
        )
        .exclude(gold_copy())  # a gold item's copy was never ingested: it must join no campaign, as its original did
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    campaigns_enqueue(conversation_ids=lost)
    return len(lost)
