"""Live updates: render the same fragments the pages use, with hx-swap-oob, and push them after commit.

Consumers (reviews/live/consumers.py, subclassed per page) only forward what arrives here; the pages poll as
well, so a lost websocket costs freshness, never correctness.
"""

from __future__ import annotations

from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.template.loader import render_to_string

from reviews.models import Dataset, Queue, ReviewItem
from reviews.queue_stats import queue_stats

HOME = "reviews/workspace/home.html"
ITEM = "reviews/workspace/item.html"
DATASETS = "reviews/datasets/datasets.html"
DATASETS_GROUP = "datasets"  # everyone on the Datasets page: every snapshot is theirs to watch


def queue_group(queue_id: int) -> str:
    return f"queue-{queue_id}"


def item_group(item_id: int) -> str:
    return f"item-{item_id}"


def item_claim_changed(*, item: ReviewItem) -> None:
    """Tell everyone viewing the item who holds it now (after commit); `item.claimed_by` must be loaded."""
    transaction.on_commit(
        lambda: _send(item_group(item.pk), render_to_string(f"{ITEM}#claimed", {"item": item, "oob": True})),
        robust=True,
    )


def queues_changed(*, queue_ids: Iterable[int]) -> None:
    """Call inside the transaction that changed the queues; the push happens once it commits."""
    ids = sorted(set(queue_ids))
    if ids:
        transaction.on_commit(lambda: _push_stats(ids), robust=True)


def hard_limit_arrived(*, queue_id: int, item_id: int, count: int = 1) -> None:
    """Tell everyone who works the queue that `count` new hard-limit items arrived, `item_id` the first (after commit).

    One notice per queue and batch: a routing pass can bring thousands.
    """
    transaction.on_commit(lambda: _push_notice(queue_id, item_id, count), robust=True)


def dataset_progressed(*, dataset: Dataset) -> None:
    """Push the snapshot's status cell (its progress, or how it ended) to the Datasets page, after commit.

    The cell is the same for every viewer; an ended one also asks the page for its whole row, which holds
    the viewer's own downloads and actions.
    """
    html = render_to_string(f"{DATASETS}#dataset-status", {"dataset": dataset, "oob": True})
    transaction.on_commit(lambda: _send(DATASETS_GROUP, html), robust=True)


def _send(group: str, html: str) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, {"type": "html.push", "html": html})


def _push_stats(queue_ids: list[int]) -> None:
    for queue in queue_stats(queue_ids=queue_ids):
        _send(queue_group(queue.pk), render_to_string(f"{HOME}#queue_stats", {"queue": queue, "oob": True}))


def _push_notice(queue_id: int, item_id: int, count: int) -> None:
    queue = Queue.objects.filter(pk=queue_id).first()
    if queue is not None:
        context = {"notice_queue": queue, "notice_item": item_id, "notice_count": count, "oob": True}
        html = render_to_string(f"{HOME}#live_notice", context)
        _send(queue_group(queue_id), html)
