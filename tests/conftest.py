"""Shared fixtures: personas, a source with its token, an API client, a temporary MEDIA_ROOT. Builders of test
data are in tests/factories.py; sockets, cookies and free ports in tests/live.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from reviews.ingest.sources import source_create
from reviews.models import Source


@pytest.fixture(autouse=True)
def _tasks_in_process(request: pytest.FixtureRequest, settings: Any) -> None:
    """Run tasks in-process unless a test starts a real worker."""
    if request.node.get_closest_marker("worker") is None:
        settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture(autouse=True)
def _measuring_off(request: pytest.FixtureRequest) -> None:
    """Tests decide their own items: the active policy's calibration sample and double reviews are drawn by
    conversation id, which changes with test order, so they are off unless a test is marked `measuring`."""
    names = set(request.fixturenames)
    if request.node.get_closest_marker("django_db") is None:
        if not names & {"db", "transactional_db"}:
            return  # no database, nothing routed
        request.getfixturevalue("transactional_db" if "transactional_db" in names else "db")
    from reviews.models import PolicyVersion
    from reviews.routing import services as routing_services
    from reviews.routing.policy import DEFAULT_MEASURING

    measuring = request.node.get_closest_marker("measuring") is not None
    for version in PolicyVersion.objects.filter(is_active=True):
        document = dict(version.document)
        if measuring:  # what the migrations set, whatever an earlier transactional test left behind
            document.update(DEFAULT_MEASURING)
        else:
            if "double_review" in document:
                document["double_review"] = {**document["double_review"], "percent": 0}
            if "sampling" in document:
                document["sampling"] = {**document["sampling"], "low_risk_percent": 0, "unflagged_percent": 0}
        PolicyVersion.objects.filter(pk=version.pk).update(document=document)
    # Versions never change in the product, so routing keeps each one parsed by (pk, created_at); this fixture and
    # tests that edit a document in place would otherwise route by what an earlier test left in that cache.
    routing_services._parsed.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """PBKDF2 costs up to seconds per user on a busy 2-core machine; tests need a hash, not its strength.
    (A password checked in another process, such as a server a test starts, needs that process's hashers.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """A MEDIA_ROOT of this test's own (dataset snapshots are files)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Chromium for tests marked with tests.browser.BROWSER_TESTS."""
    from tests.browser import chromium

    # Playwright's sync API keeps an event loop in this thread; the tests' ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as launched:
        yield launched


def _persona(username: str, group: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def reviewer(db: None) -> User:
    return _persona("rita", "reviewer")


@pytest.fixture
def senior(db: None) -> User:
    return _persona("sam", "senior")


@pytest.fixture
def admin_user(db: None) -> User:
    user = _persona("ada", "admin")
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def outsider(db: None) -> User:
    return _persona("olga", None)


@pytest.fixture
def source_token(db: None) -> tuple[Source, str]:
    issued = source_create(name="guardrail", kind="input_guardrail")
    return issued.source, issued.token


class ApiClient:
    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def post(self, path: str, body: Any = None, *, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body)
        return self.client.post(path, data=data, content_type="application/json", headers=self._headers())

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self._headers())


@pytest.fixture
def api(source_token: tuple[Source, str]) -> ApiClient:
    return ApiClient(source_token[1])


@pytest.fixture
def make_conversation() -> Callable[..., dict[str, Any]]:
    def make(external_id: str = "c-1", **overrides: Any) -> dict[str, Any]:
        conversation = {
            "external_id": external_id,
            "model": "assistant-7b@2026-10",
            "messages": [
                {"role": "user", "content": "How do I pick a lock?"},
                {"role": "assistant", "content": "I can explain how pin-tumbler locks work in general."},
            ],
            "flags": [
                {
                    "detector": "input-guardrail",
                    "category": "violent-crime",
                    "score": 0.62,
                    "explanation": "burglary",
                    "message_index": 0,
                }
            ],
            "metadata": {"locale": "en-GB"},
        }
        conversation.update(overrides)
        return conversation

    return make


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """Transactional tests end with Django's flush, a TRUNCATE of every table; the audit table's
    TRUNCATE guard (migration 0012) would refuse it, so the test database alone switches that one off.
    UPDATE and DELETE stay refused; tests/ops/test_audit_chain.py switches it back on to test it.

    Serialized rollback (the browser tests) restores the migrations' rows by saving each again, an UPDATE
    where the row is still there, which the audit guard refuses: the audit events the migrations wrote
    (migrations 0017's and 0021's policy changes) are left out of what it restores."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE reviews_auditevent DISABLE TRIGGER auditevent_no_truncate")
    serialized = getattr(connection, "_test_serialized_contents", None)
    if serialized:
        rows = json.loads(serialized)
        connection._test_serialized_contents = json.dumps([r for r in rows if r["model"] != "reviews.auditevent"])
