"""Snapshot builder adapters: the export-scoped API, the page per persona, audited downloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from reviews.datasets.builder import dataset_build, dataset_create
from reviews.ingest.sources import source_create
from reviews.models import AuditEvent, Conversation, Dataset, DatasetStatus, Queue, ReviewItem, Source
from reviews.workspace.decisions import decision_record
from tests.conftest import ApiClient


@pytest.fixture
def decided(db: None, reviewer: User) -> None:
    source = Source.objects.create(name="monitor", kind="output_classifier")
    triage = Queue.objects.get(slug="triage")
    for i, verdict in enumerate(["harmful_compliance", "appropriate_help", "over_refusal", "appropriate_refusal"] * 3):
        conversation = Conversation.objects.create(
            source=source,
            external_id=f"x-{i}",
            messages=[{"role": "user", "content": f"ask {i}"}, {"role": "assistant", "content": f"answer {i}"}],
        )
        item = ReviewItem.objects.create(conversation=conversation, queue=triage)
        decision_record(
            item=item, reviewer=reviewer, verdict=verdict, preferred_response="better" if i % 2 == 0 else ""
        )


@pytest.fixture
def export_api(db: None) -> ApiClient:
    return ApiClient(source_create(name="ml-platform", kind="ml_export").token)


def test_export_token_builds_a_snapshot_and_reads_it_back(decided, export_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = export_api.post("/api/v1/datasets", {"kind": "eval", "format": "jsonl", "seed": 5})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "eval" and body["status"] == "pending"

    detail = export_api.get(f"/api/v1/datasets/{body['id']}").json()
    assert detail["status"] == "ready" and detail["row_count"] == 12 and detail["percent"] == 100
    assert sum(detail["split_counts"].values()) == 12 and detail["seed"] == 5
    info = next(f for f in detail["files"].values() if f["rows"])
    download = export_api.get(info["url"])
    assert download.status_code == 200
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert len(lines) == info["rows"] and {"prompt", "response", "is_harmful", "verdict"} <= set(json.loads(lines[0]))
    assert AuditEvent.objects.filter(action="download", target_id=str(body["id"])).get().data["client"] == "ml-platform"


def test_export_api_rejects_bad_input_with_the_error_shape(decided, export_api):
    response = export_api.post("/api/v1/datasets", {"kind": "eval", "filters": {"verdicts": ["nope"]}})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_dataset" and "nope" in response.json()["message"]
    assert export_api.post("/api/v1/datasets", {"kind": "poems"}).status_code == 422
    assert export_api.get("/api/v1/datasets/999").status_code == 404


def test_ingest_token_gets_403_on_export(api):
    response = api.post("/api/v1/datasets", {"kind": "eval"})
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert api.get("/api/v1/datasets/1").status_code == 403


def test_export_token_cannot_ingest_or_read_conversations(export_api, make_conversation):
    response = export_api.post("/api/v1/conversations", {"conversations": [make_conversation()]})
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert export_api.get("/api/v1/conversations/1").status_code == 403
    assert not Conversation.objects.exists()


def test_missing_or_unknown_token_gets_401(db):
    assert ApiClient(None).post("/api/v1/datasets", {"kind": "eval"}).status_code == 401
    assert ApiClient("ovs_nope").get("/api/v1/datasets/1").status_code == 401


def _login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def snapshot(decided) -> Dataset:
    return dataset_build(dataset_id=dataset_create(kind="sft", enqueue=False).pk)


def test_datasets_page_per_persona(snapshot, reviewer, senior, admin_user, outsider):
    url = reverse("reviews:datasets")
    assert _login(admin_user).get(url).status_code == 200
    for user in (reviewer, senior, outsider):
        assert _login(user).get(url).status_code == 403, user
    assert Client().get(url).status_code == 302
    outsider.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    ml_engineer = User.objects.get(pk=outsider.pk)
    assert _login(ml_engineer).get(url).status_code == 200


def test_download_is_checked_and_audited(snapshot, reviewer, admin_user, settings):
    split = next(s for s, f in snapshot.files.items() if f["rows"])
    url = reverse("reviews:dataset-download", args=[snapshot.pk, split])
    assert _login(reviewer).get(url).status_code == 403
    assert not AuditEvent.objects.filter(action="download").exists()

    response = _login(admin_user).get(url)
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content == (Path(settings.MEDIA_ROOT) / snapshot.files[split]["path"]).read_bytes()
    event = AuditEvent.objects.get(action="download")
    assert event.actor == admin_user and event.data["split"] == split
    card = _login(admin_user).get(reverse("reviews:dataset-download", args=[snapshot.pk, "card"]))
    assert b"".join(card.streaming_content).decode() == snapshot.card
    assert _login(admin_user).get(reverse("reviews:dataset-download", args=[snapshot.pk, "nope"])).status_code == 404


def test_page_lists_snapshots_with_downloads_in_bounded_queries(snapshot, admin_user, django_assert_max_num_queries):
    for _ in range(5):
        dataset_create(kind="eval", enqueue=False)
    client = _login(admin_user)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("reviews:datasets"))
    html = response.content.decode()
    assert f'id="dataset-{snapshot.pk}"' in html
    assert reverse("reviews:dataset-download", args=[snapshot.pk, "card"]) in html
    assert html.count('hx-trigger="every 10s"') == 5  # the pending ones poll, as the websocket's fallback
    assert 'ws-connect="/ws/datasets/"' in html and "vendor/htmx-ext-ws-2.0.4.min.js" in html


def test_building_from_the_page_and_cancelling(decided, admin_user, django_capture_on_commit_callbacks):
    client = _login(admin_user)
    data = {"kind": "preference", "format": "parquet", "seed": 1, "train": 0.8, "validation": 0.1, "test": 0.1}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("reviews:datasets"), {**data, "verdicts": ["harmful_compliance"]}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    dataset = Dataset.objects.get()
    assert dataset.status == DatasetStatus.READY and dataset.created_by == admin_user
    assert dataset.filters["verdicts"] == ["harmful_compliance"] and dataset.row_count == 3

    bad = client.post(reverse("reviews:datasets"), {**data, "train": 0.5}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and "add up to 1" in bad.content.decode()

    pending = dataset_create(kind="eval", enqueue=False)
    row = client.post(reverse("reviews:dataset-cancel", args=[pending.pk]), HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and f'id="dataset-{pending.pk}"' in row.content.decode()
    pending.refresh_from_db()
    assert pending.status == DatasetStatus.CANCELLED
    poll = client.get(reverse("reviews:dataset-row", args=[dataset.pk]), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and "every 10s" not in poll.content.decode()
