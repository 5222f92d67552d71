"""The websocket consumer every live page uses: authenticate, join the groups the user may hear, forward HTML.

Each feature subclasses it with the groups of its page (workspace/consumers.py, datasets/consumers.py). No writes.
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


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
