"""Live queue counts over the websocket: authenticated, same-origin, per-queue groups, pushed after commit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.db import transaction
from django.test import Client

from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.ingest.sources import source_create
from reviews.live import broadcast
from reviews.models import Queue, ReviewItem
from tests.factories import DECISION, HX, claim, make_item
from tests.live import ORIGIN, connects, listen_while, session_cookie

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

QUEUES = "/ws/queues/"


def _notice(item) -> str:
    """The live notice names the new item with a link to it."""
    return f'A new hard-limit item (<a href="/items/{item.pk}/">#{item.pk}</a>) arrived in Triage.'


def _connects(cookie: bytes | None, origin: bytes = ORIGIN) -> bool:
    return connects(QUEUES, cookie, origin)


def _listen_while(cookie: bytes, action: Callable[[], Any], *, every: bool = False) -> list[str]:
    """The first push, or every push of the action (all the tests' users work Triage: its group marks the end)."""
    every_in = broadcast.queue_group(Queue.objects.get(slug="triage").pk) if every else None
    return listen_while(QUEUES, cookie, action, every_in=every_in)


def test_anonymous_and_foreign_origin_sockets_are_refused(client, reviewer):
    assert not _connects(None)
    client.force_login(reviewer)
    assert _connects(session_cookie(client))
    assert not _connects(session_cookie(client), origin=b"http://evil.example")


def test_outsider_socket_is_refused(client, outsider):
    client.force_login(outsider)

    assert not _connects(session_cookie(client))


def test_a_decision_pushes_the_new_count_to_everyone_on_the_queue(client, reviewer, senior):
    make_item(n=1)
    make_item(n=2)
    watcher = Client()
    watcher.force_login(senior)
    client.force_login(reviewer)
    item = claim(client)
    assert item is not None

    received = _listen_while(
        session_cookie(watcher), lambda: client.post(f"/items/{item.pk}/decide/", DECISION, headers=HX)
    )

    triage = Queue.objects.get(slug="triage")
    assert f'id="queue-{triage.pk}-open" hx-swap-oob="true">1</td>' in received[0]


def test_reviewer_socket_does_not_hear_about_senior_queues(client, reviewer, senior):
    make_item(n=1)
    client.force_login(reviewer)
    seniors = Client()
    seniors.force_login(senior)
    item = claim(seniors)
    assert item is not None

    received = _listen_while(
        session_cookie(client),
        lambda: seniors.post(f"/items/{item.pk}/escalate/", {"reason": "policy call"}, headers=HX),
        every=True,
    )

    triage, escalation = Queue.objects.get(slug="triage"), Queue.objects.get(slug="escalation")
    assert any(f"queue-{triage.pk}-open" in html for html in received)
    assert not any(f"queue-{escalation.pk}-" in html for html in received)


def test_queues_page_connects_the_websocket_and_loads_the_vendored_extension(client, reviewer):
    client.force_login(reviewer)

    content = client.get("/").content.decode()

    assert 'ws-connect="/ws/queues/"' in content and "vendor/htmx-ext-ws-2.0.4.min.js" in content


def test_hard_limit_arrival_notice_is_pushed_after_commit(client, reviewer):
    item = make_item(n=1, category="violent-crime")
    client.force_login(reviewer)

    def arrive() -> None:
        with transaction.atomic():
            broadcast.hard_limit_arrived(queue_id=item.queue_id, item_id=item.pk)

    received = _listen_while(session_cookie(client), arrive)

    assert received[0].lstrip().startswith('<p id="live-notice"')
    assert _notice(item) in received[0]


@pytest.mark.skipif(not settings.REDIS_URL, reason="only the Redis channel layer waits on a socket read")
def test_a_socket_idle_past_the_layers_blocking_pop_still_gets_the_next_push(client, reviewer):
    item = make_item(n=1, category="violent-crime")
    client.force_login(reviewer)

    def idle_then_arrive() -> None:
        time.sleep(RedisChannelLayer.brpop_timeout + 1)  # the consumer's BZPOPMIN comes back empty meanwhile
        broadcast.hard_limit_arrived(queue_id=item.queue_id, item_id=item.pk)

    received = _listen_while(session_cookie(client), idle_then_arrive)

    assert _notice(item) in received[0]


def test_viewers_of_an_item_see_who_claims_it(client, reviewer, senior):
    item = make_item(n=1)
    watcher = Client()
    watcher.force_login(senior)
    content = watcher.get(f"/items/{item.pk}/").content.decode()
    assert f'ws-connect="/ws/items/{item.pk}/"' in content and f'<span id="claimed-{item.pk}">Not claimed.' in content
    client.force_login(reviewer)

    received = listen_while(f"/ws/items/{item.pk}/", session_cookie(watcher), lambda: claim(client))

    assert f'<span id="claimed-{item.pk}" hx-swap-oob="true">Claimed by rita.</span>' in received[0]


def test_item_socket_refuses_users_outside_the_queue(client, reviewer):
    item = make_item("escalation")
    client.force_login(reviewer)

    assert not connects(f"/ws/items/{item.pk}/", session_cookie(client))


def test_routing_a_new_hard_limit_item_pushes_its_count_and_a_notice(client, reviewer, make_conversation):
    issued = source_create(name="guard-live", kind="input_guardrail")
    conversation = make_conversation("hard-1", flags=[{"detector": "g", "category": "violent-crime", "score": 0.85}])
    client.force_login(reviewer)

    def ingest() -> None:
        conversations_ingest(source=issued.source, conversations=[ConversationIn.model_validate(conversation)])

    received = _listen_while(session_cookie(client), ingest, every=True)

    triage = Queue.objects.get(slug="triage")
    item = ReviewItem.objects.get(conversation__external_id="hard-1", queue=triage)
    assert any(f'id="queue-{triage.pk}-open" hx-swap-oob="true">1</td>' in html for html in received)
    assert any(_notice(item) in html for html in received)
