"""Websocket consumers: authenticate, join the groups the user may hear (queues they work, items they may
view, snapshots they may export), forward HTML. No writes.

Access is checked at connect and again on every push (reviews/ws_access.py says why): a socket whose session
ended, whose user was deactivated or lost access is closed instead of fed; the page's htmx extension then
reconnects, and connect decides afresh what that user may hear.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from reviews.broadcast import DATASETS_GROUP, item_group, queue_group
from reviews.permissions import can_export
from reviews.selectors import queue_overview
from reviews.visibility import item_visible, items_visible, queues_workable
from reviews.ws_access import session_user

ACCESS_ENDED = 4403  # close code: the session or the access behind this socket has ended


def _groups_for(user: Any) -> list[str]:
    return [queue_group(queue.pk) for queue in queue_overview(user=user)]


class HtmlConsumer(AsyncWebsocketConsumer):
    """Accept signed-in users with at least one group to join; forward `html.push` events while they may hear
    them."""

    joined: list[str]
    session_key: str | None = None
    user_id: Any = None
    ended = False

    async def groups_for(self, user: Any) -> list[str]:
        raise NotImplementedError

    def may_hear(self, user: Any, group: str | None) -> bool:
        """Whether `user` may still hear a push to `group` (None: any of the joined ones). Runs in a thread."""
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
        session = self.scope.get("session")
        self.session_key, self.user_id = getattr(session, "session_key", None), user.pk
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page sends nothing we act on."""

    def _still_allowed(self, group: str | None) -> bool:
        user = session_user(session_key=self.session_key, user_id=self.user_id)
        return user is not None and self.may_hear(user, group)

    async def html_push(self, event: dict[str, Any]) -> None:
        if self.ended:
            return
        if not await database_sync_to_async(self._still_allowed)(event.get("group")):
            self.ended = True
            await self._leave()
            await self.close(code=ACCESS_ENDED)
            return
        await self.send(text_data=event["html"])


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


def _dataset_groups(user: Any) -> list[str]:
    return [DATASETS_GROUP] if can_export(user) else []


class DatasetConsumer(HtmlConsumer):
    """Snapshot builds' progress for the Datasets page; only for users who may export."""

    async def groups_for(self, user: Any) -> list[str]:
        return await database_sync_to_async(_dataset_groups)(user)

    def may_hear(self, user: Any, group: str | None) -> bool:
        return can_export(user)


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any other /ws/ path: refused cleanly at the handshake (the router would otherwise raise: a 500)."""

    async def connect(self) -> None:
        await self.close()
