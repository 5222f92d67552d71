"""The API is rate-limited per token: over API_RATE_LIMIT_PER_MINUTE a token gets 429 with `Retry-After` and
nothing is written; other tokens are untouched. Counted in Redis (shared by every web process) when REDIS_URL
is set, in Django's cache otherwise; with Redis unreachable the API keeps accepting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from reviews.ingest import rate_limit
from reviews.ingest.rate_limit import WINDOW_SECONDS
from reviews.ingest.sources import source_create
from reviews.models import Conversation, Flag
from tests.conftest import ApiClient
from tests.factories import make_item

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
needs_redis = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL: counts shared in Redis")


@pytest.fixture
def limiter_now(monkeypatch: pytest.MonkeyPatch) -> float:
    """The limiter's clock, stopped: all of a test's requests fall in one window, however slow the machine."""
    now = time.time()
    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(time=lambda: now))
    return now


@pytest.fixture(autouse=True)
def _limit_of_three(settings: Any, limiter_now: float) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 3


def _ingest(api: ApiClient, make_conversation: Any, n: int) -> Any:
    return api.post("/api/v1/conversations", {"conversations": [make_conversation(f"rl-{n}")]})


def test_the_fourth_request_in_a_minute_gets_429_with_retry_after(api, make_conversation):
    statuses = [_ingest(api, make_conversation, n).status_code for n in range(3)]
    over = _ingest(api, make_conversation, 3)

    assert statuses == [202, 202, 202]
    assert over.status_code == 429
    assert 0 < int(over["Retry-After"]) <= WINDOW_SECONDS
    body = over.json()
    assert body["error"] == "rate_limited" and "3 requests per minute" in body["message"] and body["details"] == []


def test_a_limited_request_writes_nothing(api, make_conversation):
    for n in range(3):
        _ingest(api, make_conversation, n)
    counts = Conversation.objects.count(), Flag.objects.count()

    assert _ingest(api, make_conversation, 99).status_code == 429
    assert (Conversation.objects.count(), Flag.objects.count()) == counts
    assert not Conversation.objects.filter(external_id="rl-99").exists()


def test_one_noisy_token_does_not_starve_another(api, make_conversation):
    for n in range(4):
        _ingest(api, make_conversation, n)
    other = ApiClient(source_create(name="cot-monitor", kind="cot_monitor").token)

    assert _ingest(other, make_conversation, 0).status_code == 202
    assert api.get("/api/v1/conversations/1").status_code == 429  # reads count against the same token


def test_export_tokens_are_limited_too(db):
    export = ApiClient(source_create(name="ml-platform", kind="ml_export").token)

    statuses = [export.get("/api/v1/datasets/404").status_code for _ in range(4)]

    assert statuses == [404, 404, 404, 429]


def test_an_unknown_token_is_refused_before_it_is_counted(api, make_conversation):
    """Guessing tokens costs no one their allowance: only a valid token's requests are counted."""
    stranger = ApiClient("ovs_" + "x" * 43)
    assert [stranger.get("/api/v1/conversations/1").status_code for _ in range(5)] == [401] * 5

    assert _ingest(api, make_conversation, 0).status_code == 202


@needs_redis
def test_web_processes_share_one_count_in_redis(api, make_conversation, source_token, limiter_now):
    """Another process (another web worker) spends two of the token's three; this process gets one more."""
    source, _ = source_token
    consume = f"token_rate_limit_consume(source=Source(token_hash='{source.token_hash}'), now={limiter_now!r})"
    script = (
        "import django; django.setup();"
        "from reviews.models import Source; from reviews.ingest.rate_limit import token_rate_limit_consume;"
        f"print([{consume}.allowed for _ in range(2)])"
    )
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "oversight.settings", "API_RATE_LIMIT_PER_MINUTE": "3"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[True, True]", done.stderr[-2000:]

    assert _ingest(api, make_conversation, 0).status_code == 202
    assert _ingest(api, make_conversation, 1).status_code == 429


def test_without_redis_the_count_is_kept_in_the_cache(api, make_conversation, settings):
    settings.REDIS_URL = ""

    statuses = [_ingest(api, make_conversation, n).status_code for n in range(4)]

    assert statuses == [202, 202, 202, 429]


def test_with_redis_unreachable_the_api_keeps_accepting(api, make_conversation, settings):
    """PostgreSQL, not Redis, is the source of truth: a limiter that cannot count lets requests through."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    statuses = [_ingest(api, make_conversation, n).status_code for n in range(4)]

    assert statuses == [202, 202, 202, 202]


def test_a_limit_of_zero_turns_the_limiter_off(api, make_conversation, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 0

    assert [_ingest(api, make_conversation, n).status_code for n in range(5)] == [202] * 5


def test_sessions_are_not_token_limited(admin_user, source_token):
    """The limit is per token; staff reading the API in a browser are not counted against a detector."""
    conversation = make_item("triage").conversation  # a session reads only conversations in queues it may work
    client = Client()
    client.force_login(admin_user)

    assert [client.get(f"/api/v1/conversations/{conversation.pk}").status_code for _ in range(5)] == [200] * 5
