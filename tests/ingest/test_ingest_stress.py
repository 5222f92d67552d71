"""Ingest under stress: the same batch sent many times at once, and errors nobody planned for."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client

from reviews.models import Conversation, Flag

URL = "/api/v1/conversations"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need a database server")
@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_batch_sent_ten_times_at_once_is_accepted_every_time_and_stored_once(source_token, make_conversation):
    _, token = source_token
    body = json.dumps({"conversations": [make_conversation(f"c-{i}") for i in range(200)]})
    start, answers, lock = threading.Barrier(10), [], threading.Lock()

    def send() -> None:
        try:
            start.wait()
            response = Client(raise_request_exception=False).post(
                URL, data=body, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
            )
            with lock:
                answers.append((response.status_code, response.content))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)

    assert [status for status, _ in answers] == [202] * 10, [content[:300] for _, content in answers]
    bodies = [json.loads(content) for _, content in answers]
    assert sum(b["accepted"] for b in bodies) == 200
    assert all(b["ids"] == bodies[0]["ids"] for b in bodies)
    assert Conversation.objects.count() == 200
    assert Flag.objects.count() == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", [URL, "/api/v1/conversations/1"])
def test_an_unexpected_error_answers_the_json_error_shape_without_a_traceback(
    source_token, make_conversation, monkeypatch, path, settings
):
    settings.DEBUG = False

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals at /srv/oversight/reviews/services/ingest.py line 42")

    monkeypatch.setattr("reviews.api.conversations_ingest", broken)
    monkeypatch.setattr("reviews.api.conversation_detail", broken)
    client = Client(raise_request_exception=False)
    headers = {"Authorization": f"Bearer {source_token[1]}"}

    if path == URL:
        body = json.dumps({"conversations": [make_conversation()]})
        response = client.post(path, data=body, content_type="application/json", headers=headers)
    else:
        response = client.get(path, headers=headers)

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "error": "server_error",
        "message": "The server failed to handle this request. Retry later; report it if it persists.",
        "details": [],
    }
    assert b"secret internals" not in response.content and b"Traceback" not in response.content


@pytest.mark.django_db
def test_an_unexpected_error_is_json_even_with_debug_on(source_token, make_conversation, monkeypatch, settings):
    settings.DEBUG = True
    monkeypatch.setattr("reviews.api.conversations_ingest", lambda **kwargs: 1 / 0)

    response = Client(raise_request_exception=False).post(
        URL,
        data=json.dumps({"conversations": [make_conversation()]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {source_token[1]}"},
    )

    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert b"ZeroDivisionError" not in response.content
