"""A building snapshot's progress reaches the Datasets page over the websocket, for those who may export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from reviews.datasets import builder
from reviews.datasets.builder import dataset_build, dataset_cancel, dataset_create
from reviews.models import Dataset, DatasetStatus
from tests.live import connects, listen_while, session_cookie

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
DATASETS = "/ws/datasets/"


def _cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return session_cookie(client)


def _connects(cookie: bytes) -> bool:
    return connects(DATASETS, cookie)


def _listen_while(cookie: bytes, action: Callable[[], Any]) -> list[str]:
    return listen_while(DATASETS, cookie, action, every=True)


def test_only_those_who_may_export_hear_builds(reviewer, senior, admin_user, django_user_model):
    engineer = django_user_model.objects.create_user("mel", password="pw-mel")
    engineer.user_permissions.add(Permission.objects.get(codename="view_dataset"))

    assert _connects(_cookie(admin_user)) and _connects(_cookie(engineer))
    assert not _connects(_cookie(reviewer)) and not _connects(_cookie(senior))


@pytest.mark.usefixtures("corpus")
def test_a_build_pushes_its_progress_and_then_asks_for_its_finished_row(admin_user, monkeypatch):
    monkeypatch.setattr(builder, "CHUNK", 20)
    monkeypatch.setattr(builder, "PUSH_EVERY", 0)
    dataset = dataset_create(kind="eval", enqueue=False)

    received = _listen_while(_cookie(admin_user), lambda: dataset_build(dataset_id=dataset.pk))

    cell = f'<td id="dataset-{dataset.pk}-status" hx-swap-oob="true">'
    assert all(html.strip().startswith(cell) for html in received)
    running = [html for html in received if "<progress" in html]
    assert [f"{n} / 61" in html for n, html in zip((20, 40, 60), running, strict=False)] == [True, True, True]
    assert "Ready" in received[-1] and "<progress" not in received[-1]
    row = reverse("reviews:dataset-row", args=[dataset.pk])
    assert f'hx-get="{row}" hx-trigger="load" hx-target="#dataset-{dataset.pk}"' in received[-1]


@pytest.mark.usefixtures("corpus")
def test_a_cancel_and_a_failure_are_pushed(admin_user, monkeypatch):
    pending = dataset_create(kind="eval", enqueue=False)
    received = _listen_while(_cookie(admin_user), lambda: dataset_cancel(dataset=pending))
    assert "Cancelled" in received[-1] and f'id="dataset-{pending.pk}-status"' in received[-1]

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full <b>now</b>")

    monkeypatch.setattr(builder, "card_render", broken)
    failing = dataset_create(kind="eval", enqueue=False)

    def build() -> None:
        with pytest.raises(RuntimeError):
            dataset_build(dataset_id=failing.pk)

    received = _listen_while(_cookie(admin_user), build)
    assert Dataset.objects.get(pk=failing.pk).status == DatasetStatus.FAILED
    assert "Failed" in received[-1] and "disk full &lt;b&gt;now&lt;/b&gt;" in received[-1]
