"""Websocket consumers of the workspace: join the groups the user may hear (queues they work, items they may
view) and forward HTML (reviews/live/consumers.py holds the shared base). No writes."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from reviews.live.broadcast import item_group, queue_group
from reviews.live.consumers import HtmlConsumer
from reviews.workspace.selectors import item_for_user, queue_overview


def _groups_for(user: Any) -> list[str]:
    return [queue_group(queue.pk) for queue in queue_overview(user=user)]


class QueueConsumer(HtmlConsumer):
    """Queue counts and hard-limit notices for the queues page, as htmx out-of-band fragments."""

    async def groups_for(self, user: Any) -> list[str]:
        return await database_sync_to_async(_groups_for)(user)


def _item_groups(user: Any, pk: int) -> list[str]:
    return [item_group(pk)] if item_for_user(user=user, pk=pk) is not None else []


class ItemConsumer(HtmlConsumer):
    """Who holds the item, for everyone viewing it; only for users who may work its queue."""

    async def groups_for(self, user: Any) -> list[str]:
        return await database_sync_to_async(_item_groups)(user, int(self.scope["url_route"]["kwargs"]["pk"]))
