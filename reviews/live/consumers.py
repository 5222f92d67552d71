"""The websocket consumer every live page uses: authenticate, join the groups the user may hear, forward HTML.

Each feature subclasses it with the groups of its page and the check of one push (workspace/consumers.py,
datasets/consumers.py). No writes.

Access is checked at connect and again on every push (live/access.py says why): a socket whose session ended
(logout, expiry, deactivation, a new password) or whose user lost access to what is pushed is closed instead of
fed. The close code tells the page's htmx extension what to do: it reconnects after ACCESS_CHANGED (1012), and
connect decides afresh what the user may hear now; after SESSION_ENDED (4401) it stays closed, and the page's
own polling meets the login page.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from reviews.live.access import session_user

SESSION_ENDED = 4401  # close code: the session behind this socket has ended; the page does not reconnect
ACCESS_CHANGED = 1012  # close code: access changed; the page reconnects (htmx-ext-ws retries 1012)


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

    def access_check(self, group: str | None) -> int | None:
        """None while the session stands and its user may hear `group`, else the close code. A few primary-key
        reads (live/access.py)."""
        user = session_user(session_key=self.session_key, user_id=self.user_id)
        if user is None:
            return SESSION_ENDED
        return None if self.may_hear(user, group) else ACCESS_CHANGED

    async def html_push(self, event: dict[str, Any]) -> None:
        if self.ended:
            return
        code = await database_sync_to_async(self.access_check)(event.get("group"))
        if code is not None:
            self.ended = True
            await self._leave()
            await self.close(code=code)
            return
        await self.send(text_data=event["html"])


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any other /ws/ path: refused cleanly at the handshake (the router would otherwise raise: a 500)."""

    async def connect(self) -> None:
        await self.close()
