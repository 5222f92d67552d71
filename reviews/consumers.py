"""Websocket consumers: authenticate, join the groups the user may hear (queues they work, items they may
view, snapshots they may export), forward HTML. No writes."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from reviews.broadcast import DATASETS_GROUP, item_group, queue_group
from reviews.permissions import can_export
from reviews.selectors import item_for_user, queue_overview


def _groups_for(user: Any) -> list[str]:
    return [queue_group(queue.pk) for queue in queue_overview(user=user)]


class HtmlConsumer(AsyncWebsocketConsumer):
    """Accept signed-in users with at least one group to join; forward `html.push` events as they come."""

    joined: list[str]

    async def groups_for(self, user: Any) -> list[str]:
        raise NotImplementedError

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        groups = await self.groups_for(user)
        if not groups:
            await self.close()
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page sends nothing we act on."""

    async def html_push(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])


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


def _dataset_groups(user: Any) -> list[str]:
    return [DATASETS_GROUP] if can_export(user) else []


class DatasetConsumer(HtmlConsumer):
    """Snapshot builds' progress for the Datasets page; only for users who may export."""

    async def groups_for(self, user: Any) -> list[str]:
        return await database_sync_to_async(_dataset_groups)(user)
