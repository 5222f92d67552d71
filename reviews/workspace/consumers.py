"""Websocket consumers of the workspace: join the groups the user may hear (queues they work, items they may
view), re-check each push against the same rules, and forward HTML (reviews/live/consumers.py holds the shared
base). No writes."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from reviews.live.broadcast import item_group, queue_group
from reviews.live.consumers import HtmlConsumer
from reviews.workspace.selectors import queue_overview
from reviews.workspace.visibility import item_visible, items_visible, queues_workable


def _groups_for(user: Any) -> list[str]:
    return [queue_group(queue.pk) for queue in queue_overview(user=user)]


class QueueConsumer(HtmlConsumer):
    """Queue counts and hard-limit notices for the queues page, as htmx out-of-band fragments."""

    async def groups_for(self, user: Any) -> list[str]:
        return await database_sync_to_async(_groups_for)(user)

    def may_hear(self, user: Any, group: str | None) -> bool:
        wanted = [group] if group else self.joined
        workable = {queue_group(pk) for pk in queues_workable(user=user).values_list("pk", flat=True)}
        return bool(wanted) and all(name in workable for name in wanted)


def _item_groups(user: Any, pk: int) -> list[str]:
    return [item_group(pk)] if item_visible(user=user, pk=pk) is not None else []


class ItemConsumer(HtmlConsumer):
    """Who holds the item, for everyone viewing it; only for users who may work its queue."""

    @property
    def item_pk(self) -> int:
        return int(self.scope["url_route"]["kwargs"]["pk"])

    async def groups_for(self, user: Any) -> list[str]:
        return await database_sync_to_async(_item_groups)(user, self.item_pk)

    def may_hear(self, user: Any, group: str | None) -> bool:
        return group in (None, item_group(self.item_pk)) and items_visible(user=user).filter(pk=self.item_pk).exists()
