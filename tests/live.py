"""Shared set-up of the websocket tests: a signed-in session's cookie, and sockets through the real ASGI app
(session auth and the origin check included)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from oversight.asgi import application

ORIGIN = b"http://localhost"


def session_cookie(client: Client) -> bytes:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def communicator(path: str, cookie: bytes | None, origin: bytes = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


def connects(path: str, cookie: bytes | None, origin: bytes = ORIGIN) -> bool:
    async def attempt() -> bool:
        socket = communicator(path, cookie, origin)
        connected, _ = await socket.connect()
        await socket.disconnect()
        return bool(connected)

    return async_to_sync(attempt)()


def listen_while(path: str, cookie: bytes, action: Callable[[], Any], *, every: bool = False) -> list[str]:
    """Connect, run the (sync) action, and collect what the socket received: the first message, or every one
    that arrives until the socket is quiet for half a second."""

    async def scenario() -> list[str]:
        socket = communicator(path, cookie)
        connected, _ = await socket.connect()
        assert connected
        await sync_to_async(action)()
        received = [await socket.receive_from(timeout=5)]
        while every and not await socket.receive_nothing(timeout=0.5):
            received.append(await socket.receive_from(timeout=1))
        await socket.disconnect()
        return received

    return async_to_sync(scenario)()


def free_port() -> int:
    """A TCP port nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
