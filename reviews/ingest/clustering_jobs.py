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
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from reviews.ingest.clustering import campaigns_assign
from reviews.ingest.minhash import stored_request_text
from reviews.lookups import int_array
from reviews.models import CampaignMember, Conversation, gold_copy
from reviews.taskqueue import CAMPAIGNS_TASK, enqueue

CLUSTER_BATCH = 1000  # one ingest batch: one candidate query and one member insert each
# A conversation still unfiled this long after it arrived is taken as lost; older than the window, left alone
# (the sweep stays a range scan of one day of received_at).
SWEEP_AFTER, SWEEP_WINDOW = timedelta(minutes=3), timedelta(days=1)
_LOCK = 0x6361_6D70  # "camp": the advisory lock that serializes clustering
# The batch's unfiled conversations with their user turns' contents (stored_request_text in SQL: only the user
# turns leave the database, already joined) and their arrival as epoch seconds (a float is parsed in C, a
# timestamp in Python); the ids as one array literal.
_UNFILED = (
    "SELECT c.id, CASE jsonb_typeof(c.messages) WHEN 'array' THEN array_to_string(ARRAY("
    "SELECT m ->> 'content' FROM jsonb_array_elements(c.messages) WITH ORDINALITY AS t(m, i) "
    "WHERE m ->> 'role' = 'user' ORDER BY i), E'\\n') END, "
    "extract(epoch FROM c.received_at)::float8 FROM {conversation} c WHERE c.id = ANY(%s::bigint[]) "
    "AND NOT EXISTS (SELECT FROM {member} m WHERE m.conversation_id = c.id) ORDER BY c.id"
)


def campaigns_enqueue(*, conversation_ids: Iterable[int]) -> None:
    ids = sorted(conversation_ids)
    for start in range(0, len(ids), CLUSTER_BATCH):
        enqueue(CAMPAIGNS_TASK, ids[start : start + CLUSTER_BATCH])


@transaction.atomic
def campaigns_cluster(*, conversation_ids: Iterable[int]) -> int:
    """File the given conversations not filed yet under their campaigns, in id order. Returns how many."""
    ids = sorted(conversation_ids)
    if connection.vendor == "postgresql":
        requests, now = _unfiled_postgres(ids)
    else:
        rows = list(
            Conversation.objects.filter(pk__in=ids, campaign_member__isnull=True)
            .order_by("pk")
            .values_list("pk", "messages", "received_at")
        )
        requests = [(pk, stored_request_text(messages)) for pk, messages, _ in rows]
        now = max((received_at for _, _, received_at in rows), default=None)
    if requests and now is not None:
        campaigns_assign(requests=requests, now=now)
    return len(requests)


def _unfiled_postgres(ids: list[int]) -> tuple[list[tuple[int, str]], datetime | None]:
    tables = {"conversation": Conversation._meta.db_table, "member": CampaignMember._meta.db_table}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        # Not waiting for this commit's WAL flush: a crash loses at most the last moments of clustering, whole
        # transactions, and the sweeper files those conversations again (ingest's own commits stay durable).
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(_UNFILED.format(**tables), [int_array(ids)])
        rows = cursor.fetchall()
    latest = max((epoch for _, _, epoch in rows), default=None)
    # Microseconds survive the float: its error at today's epochs is under a quarter of one, and this rounds.
    now = datetime.fromtimestamp(latest, tz=UTC) if latest is not None else None
    return [(pk, text or "") for pk, text, _ in rows], now


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
