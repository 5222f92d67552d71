"""The websocket consumer every live page uses: authenticate, join the groups the user may hear, forward HTML.

Each feature subclasses it with the groups of its page and the check of one push (workspace/consumers.py,
datasets/consumers.py). No writes.

Access is checked at connect and again on every push (live/access.py says why): a socket whose session ended,
whose user was deactivated or lost access is closed instead of fed; the page's htmx extension then reconnects,
and connect decides afresh what that user may hear.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from reviews.live.access import session_user

ACCESS_ENDED = 4403  # close code: the session or the access behind this socket has ended


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

    def still_allowed(self, group: str | None) -> bool:
        """The session stands and its user may hear `group`: a few primary-key reads (live/access.py)."""
        user = session_user(session_key=self.session_key, user_id=self.user_id)
        return user is not None and self.may_hear(user, group)

    async def html_push(self, event: dict[str, Any]) -> None:
        if self.ended:
            return
        if not await database_sync_to_async(self.still_allowed)(event.get("group")):
            self.ended = True
            await self._leave()
            await self.close(code=ACCESS_ENDED)
            return
        await self.send(text_data=event["html"])


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any other /ws/ path: refused cleanly at the handshake (the router would otherwise raise: a 500)."""

    async def connect(self) -> None:
        await self.close()
