"""Websockets keep to the same access rules after connect: every push re-checks the session and the user's
access, so logging out, leaving a group or being deactivated ends the feed; the origin must match scheme, host
and port; an unknown /ws/ path closes cleanly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import Client

from oversight.asgi import application
from reviews.live import broadcast
from reviews.live.consumers import ACCESS_CHANGED, SESSION_ENDED
from reviews.models import Queue, QueueKind
from reviews.workspace.consumers import QueueConsumer
from tests.factories import make_item
from tests.live import communicator, connects, session_cookie

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

QUEUES = "/ws/queues/"


def _push_counts(queue: Queue) -> None:
    with transaction.atomic():
        broadcast.queues_changed(queue_ids=[queue.pk])


def _first_push_after(path: str, cookie: bytes, change: Callable[[], Any], push: Callable[[], Any]) -> dict[str, Any]:
    """Connect, see one push arrive, `change` something, push again: what the socket gets next (a message or
    its close)."""

    async def scenario() -> dict[str, Any]:
        socket = communicator(path, cookie)
        connected, _ = await socket.connect()
        assert connected
        await sync_to_async(push)()
        assert (await socket.receive_output(timeout=5))["type"] == "websocket.send"
        await sync_to_async(change)()
        await sync_to_async(push)()
        output = await socket.receive_output(timeout=5)
        await socket.disconnect()
        return output

    return async_to_sync(scenario)()


@pytest.fixture
def triage() -> Queue:
    make_item(n=1)
    return Queue.objects.get(slug="triage")


def test_a_socket_stops_hearing_the_queue_once_its_user_logs_out(client, reviewer, triage):
    client.force_login(reviewer)

    after = _first_push_after(QUEUES, session_cookie(client), client.logout, lambda: _push_counts(triage))

    assert after == {"type": "websocket.close", "code": SESSION_ENDED}  # and the page does not reconnect


def test_a_socket_stops_hearing_a_queue_once_its_user_leaves_the_group(client, reviewer, triage):
    client.force_login(reviewer)

    def leave() -> None:
        reviewer.groups.remove(Group.objects.get(name="reviewer"))

    after = _first_push_after(QUEUES, session_cookie(client), leave, lambda: _push_counts(triage))

    assert after == {
        "type": "websocket.close",
        "code": ACCESS_CHANGED,
    }  # the page reconnects, and connect decides afresh


def test_a_socket_stops_hearing_the_queue_once_its_user_is_deactivated(client, reviewer, triage):
    client.force_login(reviewer)

    def deactivate() -> None:
        User.objects.filter(pk=reviewer.pk).update(is_active=False)

    after = _first_push_after(QUEUES, session_cookie(client), deactivate, lambda: _push_counts(triage))

    assert after == {"type": "websocket.close", "code": SESSION_ENDED}


def test_a_socket_stops_hearing_a_queue_whose_groups_no_longer_include_the_user(client, reviewer, triage):
    client.force_login(reviewer)

    def restrict() -> None:
        triage.allowed_groups.remove(Group.objects.get(name="reviewer"))

    after = _first_push_after(QUEUES, session_cookie(client), restrict, lambda: _push_counts(triage))

    assert after == {"type": "websocket.close", "code": ACCESS_CHANGED}


def test_a_socket_keeps_hearing_while_access_stands(client, reviewer, triage):
    client.force_login(reviewer)

    after = _first_push_after(QUEUES, session_cookie(client), lambda: None, lambda: _push_counts(triage))

    assert after["type"] == "websocket.send" and "hx-swap-oob" in after["text"]


def test_an_item_socket_stops_hearing_claims_once_its_user_logs_out(client, reviewer, senior):
    item = make_item(n=1)
    client.force_login(senior)

    def claim_changed() -> None:
        with transaction.atomic():
            broadcast.item_claim_changed(item=item)

    after = _first_push_after(f"/ws/items/{item.pk}/", session_cookie(client), client.logout, claim_changed)

    assert after == {"type": "websocket.close", "code": SESSION_ENDED}


def test_a_custom_group_on_a_queue_lets_its_members_hear_it(client, reviewer):
    cbrn = Group.objects.create(name="cbrn-team")
    queue = Queue.objects.create(slug="cbrn", name="CBRN", kind=QueueKind.TRIAGE)
    queue.allowed_groups.add(cbrn)
    item = make_item("cbrn", n=1)
    client.force_login(reviewer)
    assert not connects(f"/ws/items/{item.pk}/", session_cookie(client))

    reviewer.groups.add(cbrn)

    assert connects(f"/ws/items/{item.pk}/", session_cookie(client))


@pytest.mark.parametrize(
    "origin",
    [b"http://localhost:8001", b"https://localhost", b"http://localhost.evil.example", b"null"],
)
def test_origin_must_match_scheme_host_and_port(client, reviewer, origin):
    client.force_login(reviewer)
    assert connects(QUEUES, session_cookie(client))

    assert not connects(QUEUES, session_cookie(client), origin=origin)


def test_origin_with_the_pages_own_port_is_accepted(client, reviewer):
    client.force_login(reviewer)
    headers = [(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000"), (b"cookie", session_cookie(client))]

    async def attempt() -> bool:
        socket = WebsocketCommunicator(application, QUEUES, headers=headers)
        connected, _ = await socket.connect()
        await socket.disconnect()
        return bool(connected)

    assert async_to_sync(attempt)()


@pytest.mark.parametrize("path", ["/ws/nowhere/", "/ws/items/not-a-number/", "/ws/"])
def test_an_unknown_websocket_path_closes_cleanly(client, reviewer, path):
    client.force_login(reviewer)

    assert not connects(path, session_cookie(client))


def test_the_check_on_each_push_costs_three_short_reads(client, reviewer, triage, django_assert_max_num_queries):
    client.force_login(reviewer)
    consumer = QueueConsumer()
    consumer.joined = [broadcast.queue_group(triage.pk)]
    consumer.session_key, consumer.user_id = client.session.session_key, reviewer.pk

    with django_assert_max_num_queries(3):  # the session row, the user, the queues they may work
        assert consumer.access_check(broadcast.queue_group(triage.pk)) is None
    client.logout()
    assert consumer.access_check(broadcast.queue_group(triage.pk)) == SESSION_ENDED


def _connects_as(client: Client, headers: list[tuple[bytes, bytes]]) -> bool:
    async def attempt() -> bool:
        socket = WebsocketCommunicator(application, QUEUES, headers=[*headers, (b"cookie", session_cookie(client))])
        connected, _ = await socket.connect()
        await socket.disconnect()
        return bool(connected)

    return async_to_sync(attempt)()


def test_behind_a_tls_proxy_the_https_origin_is_the_pages_own(client, reviewer, settings):
    settings.ALLOWED_HOSTS = ["oversight.example.org"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client.force_login(reviewer)
    site = [(b"origin", b"https://oversight.example.org"), (b"host", b"oversight.example.org")]

    assert _connects_as(client, [*site, (b"x-forwarded-proto", b"https")])
    assert not _connects_as(client, site)  # plain ws: the page was http, so an https origin is another one


def test_csrf_trusted_origins_are_accepted_wildcards_included(client, reviewer, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.org"]
    client.force_login(reviewer)
    host = (b"host", b"localhost")

    assert _connects_as(client, [(b"origin", b"https://review.example.org"), host])
    assert not _connects_as(client, [(b"origin", b"https://review.example.org:8443"), host])
    assert not _connects_as(client, [(b"origin", b"http://review.example.org"), host])
