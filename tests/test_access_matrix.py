"""Who may reach what: every URL pattern and API operation, requested as each persona, from one table.

The table is checked against the URL resolver and the API's OpenAPI schema in both directions, so a new
route without a row (or a row for a route that is gone) fails here. Each row is requested as anonymous, a
reviewer, a senior, an admin (staff), an ingest token, an export token and a revoked token, from an
address outside METRICS_ALLOWED_NETWORKS, each request in a savepoint that is rolled back so one persona's
writes never change what the next one sees. Django admin's own pages are left to Django except its index.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from reviews.api import api
from reviews.ingest.sources import source_create, source_revoke
from reviews.models import (
    BulkVerdict,
    Campaign,
    CampaignMember,
    Comment,
    Dataset,
    DatasetStatus,
    Decision,
    ItemStatus,
    ModelStatus,
    PolicyVersion,
    Queue,
    ReviewItem,
    SavedFilter,
    ScoringModel,
)
from tests import factories

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "reviewer", "senior", "admin", "ingest", "export", "revoked")
OUTSIDE = "203.0.113.7"  # TEST-NET-3: outside the default METRICS_ALLOWED_NETWORKS
LOGIN = "login"  # 302 to the login page
ADMIN_LOGIN = "admin-login"  # 302 to the admin's login page
REDIRECT = "redirect"  # 302 somewhere else: the action ran and moved on

Expected = int | str


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # as the resolver spells it, or the OpenAPI path for API operations
    expected: tuple[Expected, ...]  # one per persona, in PERSONAS order
    params: dict[str, str] = field(default_factory=dict)  # path parameter → name of an object in `world`
    body: Any = None
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}{' ' + self.note if self.note else ''}"


def row(method: str, route: str, *expected: Expected, note: str = "", body: Any = None, **params: str) -> Row:
    assert len(expected) == len(PERSONAS), route
    return Row(method, route, tuple(expected), params, body, note)


L, AL, R = LOGIN, ADMIN_LOGIN, REDIRECT
# fmt: off
#         method  route                                         anon reviewer senior admin ingest export revoked
PAGES = [
    row("GET",  "admin/",                                       AL,  AL,  AL,  200, AL,  AL,  AL),
    row("GET",  "login/",                                       200, 200, 200, 200, 200, 200, 200),
    row("POST", "logout/",                                      L,   L,   L,   L,   L,   L,   L),
    row("GET",  "metrics",                                      403, 403, 403, 403, 401, 401, 401),
    row("GET",  "favicon.ico",                                  301, 301, 301, 301, 301, 301, 301),
    row("GET",  "api/v1/",                                      404, 404, 404, 404, 404, 404, 404),
    row("GET",  "api/v1/docs",                                  200, 200, 200, 200, 200, 200, 200),
    row("GET",  "api/v1/openapi.json",                          200, 200, 200, 200, 200, 200, 200),
    row("GET",  "",                                             L,   200, 200, 200, L,   L,   L),
    row("POST", "queues/<slug:slug>/next/",                     L,   R,   R,   R,   L,   L,   L,   slug="triage"),
    row("POST", "queues/<slug:slug>/next/",                     L,   404, R,   R,   L,   L,   L,   slug="seniors_queue",
        note="(seniors' queue)"),
    row("GET",  "queues/<slug:slug>/empty/",                    L,   200, 200, 200, L,   L,   L,   slug="triage"),
    row("GET",  "items/<int:pk>/",                              L,   200, 200, 200, L,   L,   L,   pk="item"),
    row("GET",  "items/<int:pk>/",                              L,   404, 200, 200, L,   L,   L,   pk="senior_item",
        note="(seniors' queue)"),
    row("POST", "items/<int:pk>/decide/",                       L,   422, 422, 422, L,   L,   L,   pk="item"),
    row("POST", "items/<int:pk>/skip/",                         L,   422, 422, 422, L,   L,   L,   pk="item"),
    row("POST", "items/<int:pk>/escalate/",                     L,   422, 422, 422, L,   L,   L,   pk="item"),
    row("POST", "items/<int:pk>/renew/",                        L,   409, 409, 409, L,   L,   L,   pk="item"),
    row("POST", "items/<int:pk>/gold/",                         L,   403, 404, 404, L,   L,   L,   pk="item",
        note="(open: not settled)"),
    row("GET",  "items/<int:pk>/messages/<int:index>/",         L,   200, 200, 200, L,   L,   L,   pk="item",
        index="first_message"),
    row("GET",  "items/<int:pk>/messages/<int:index>/",         L,   404, 200, 200, L,   L,   L,   pk="senior_item",
        index="first_message", note="(seniors' queue)"),
    row("POST", "items/<int:pk>/messages/<int:index>/reveal/",  L,   R,   R,   R,   L,   L,   L,   pk="item",
        index="first_message"),
    row("POST", "items/<int:pk>/reveal-all/",                   L,   R,   R,   R,   L,   L,   L,   pk="item"),
    row("POST", "items/<int:pk>/reveal-all/",                   L,   404, R,   R,   L,   L,   L,   pk="senior_item",
        note="(seniors' queue)"),
    row("GET",  "items/<int:pk>/discussion/",                   L,   200, 200, 200, L,   L,   L,   pk="item"),
    row("GET",  "items/<int:pk>/discussion/",                   L,   404, 200, 200, L,   L,   L,   pk="senior_item",
        note="(seniors' queue)"),
    row("POST", "items/<int:pk>/comments/",                     L,   422, 422, 422, L,   L,   L,   pk="item"),
    row("POST", "items/<int:pk>/comments/",                     L,   404, 422, 422, L,   L,   L,   pk="senior_item",
        note="(seniors' queue)"),
    row("POST", "items/<int:pk>/comments/<int:comment_pk>/",    L,   422, 422, 422, L,   L,   L,   pk="item",
        comment_pk="comment"),
    row("POST", "items/<int:pk>/tags/",                         L,   422, 422, 422, L,   L,   L,   pk="item"),
    row("POST", "items/<int:pk>/tags/remove/",                  L,   R,   R,   R,   L,   L,   L,   pk="item"),
    row("GET",  "items/<int:pk>/history/",                      L,   200, 200, 200, L,   L,   L,   pk="item"),
    row("GET",  "items/<int:pk>/history/",                      L,   404, 200, 200, L,   L,   L,   pk="senior_item",
        note="(seniors' queue)"),
    row("GET",  "search/",                                      L,   200, 200, 200, L,   L,   L),
    row("POST", "search/saved/",                                L,   R,   R,   R,   L,   L,   L),
    row("POST", "search/saved/<int:pk>/delete/",                L,   R,   404, 404, L,   L,   L,   pk="saved_filter"),
    row("GET",  "inbox/",                                       L,   403, 200, 200, L,   L,   L),
    row("POST", "my/mentions/dismiss/",                         L,   R,   R,   R,   L,   L,   L),
    row("GET",  "my/work/",                                     L,   200, 200, 200, L,   L,   L),
    row("GET",  "my/work/<int:pk>/edit/",                       L,   200, 404, 404, L,   L,   L,   pk="decision"),
    row("POST", "my/work/<int:pk>/undo/",                       L,   R,   404, 404, L,   L,   L,   pk="decision"),
    row("GET",  "my/escalations/",                              L,   200, 200, 200, L,   L,   L),
    row("GET",  "policy/",                                      L,   403, 403, 200, L,   L,   L),
    row("POST", "policy/dry-run/",                              L,   403, 403, 422, L,   L,   L),
    row("POST", "policy/activate/",                             L,   403, 403, 422, L,   L,   L),
    row("GET",  "policy/versions/",                             L,   403, 403, 200, L,   L,   L),
    # Version 1 is the active one: rolling back to it is refused, but only after the admin check.
    row("POST", "policy/versions/<int:number>/rollback/",       L,   403, 403, 422, L,   L,   L,   number="policy"),
    row("GET",  "datasets/",                                    L,   403, 403, 200, L,   L,   L),
    row("GET",  "datasets/<int:pk>/row/",                       L,   403, 403, 200, L,   L,   L,   pk="dataset"),
    row("POST", "datasets/<int:pk>/cancel/",                    L,   403, 403, 200, L,   L,   L,   pk="dataset"),
    row("GET",  "datasets/<int:pk>/download/<slug:split>/",     L,   403, 403, 200, L,   L,   L,   pk="dataset",
        split="split"),
    row("POST", "datasets/<int:pk>/train/",                     L,   403, 403, 422, L,   L,   L,   pk="dataset"),
    row("POST", "datasets/models/<int:pk>/promote/",            L,   403, 403, 200, L,   L,   L,   pk="model"),
    row("GET",  "sources/",                                     L,   403, 403, 200, L,   L,   L),
    row("POST", "sources/<int:pk>/revoke/",                     L,   403, 403, 200, L,   L,   L,   pk="victim"),
    row("POST", "sources/<int:pk>/rotate/",                     L,   403, 403, 200, L,   L,   L,   pk="victim"),
    row("GET",  "campaigns/",                                   L,   200, 200, 200, L,   L,   L),
    row("GET",  "campaigns/<int:pk>/",                          L,   200, 200, 200, L,   L,   L,   pk="campaign"),
    row("POST", "campaigns/<int:pk>/items/<int:item_pk>/decide/", L, 422, 422, 422, L,   L,   L,   pk="campaign",
        item_pk="item"),
    row("POST", "campaigns/<int:pk>/apply/",                    L,   422, 422, 422, L,   L,   L,   pk="campaign"),
    row("POST", "campaigns/<int:pk>/bulk/<int:bulk_pk>/revert/", L,  422, 200, 200, L,   L,   L,   pk="campaign",
        bulk_pk="bulk", note="(applied by the senior)"),
    row("GET",  "analytics/",                                   L,   R,   R,   R,   L,   L,   L),
    row("GET",  "analytics/<slug:name>/",                       L,   200, 200, 200, L,   L,   L,   name="queue_health"),
    row("GET",  "analytics/<slug:name>/",                       L,   403, 200, 200, L,   L,   L,   name="safety",
        note="(seniors and admins)"),
    row("GET",  "analytics/<slug:name>/<slug:table>.csv",       L,   200, 200, 200, L,   L,   L,   name="queue_health",
        table="queues_table"),
    row("GET",  "analytics/<slug:name>/<slug:table>.csv",       L,   403, 200, 200, L,   L,   L,   name="safety",
        table="grid_table", note="(seniors and admins)"),
]
API = [
    row("POST", "/api/v1/conversations",                        401, 401, 401, 401, 422, 403, 401,
        body={"conversations": []}),
    row("GET",  "/api/v1/conversations/{conversation_id}",      401, 200, 200, 200, 200, 403, 401,
        conversation_id="conversation"),
    row("GET",  "/api/v1/conversations/{conversation_id}",      401, 404, 404, 404, 404, 403, 401,
        conversation_id="other_conversation", note="(another source's, in no queue)"),
    row("POST", "/api/v1/conversations/{conversation_id}/messages/{index}/reveal",
                                                                401, 200, 200, 200, 401, 401, 401,
        conversation_id="conversation", index="first_message"),
    row("GET",  "/api/v1/health",                               200, 200, 200, 200, 200, 200, 200),
    row("POST", "/api/v1/datasets",                             401, 401, 401, 422, 403, 422, 401, body={}),
    row("GET",  "/api/v1/datasets/{dataset_id}",                401, 401, 401, 200, 403, 200, 401,
        dataset_id="dataset"),
    row("GET",  "/api/v1/datasets/{dataset_id}/files/{split}",  401, 401, 401, 200, 403, 200, 401,
        dataset_id="dataset", split="split"),
]
# fmt: on
ROWS = PAGES + API


# --- What exists -------------------------------------------------------------------------------


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            yield route, pattern


def _is_api_operation(pattern: URLPattern) -> bool:
    return getattr(pattern.callback, "__module__", "") == "ninja.operation"


def _routes() -> set[str]:
    """Every Django route outside the admin (bar its index), API operations left to the schema."""
    return {
        route
        for route, pattern in _walk(get_resolver().url_patterns)
        if not _is_api_operation(pattern) and (route == "admin/" or not route.startswith("admin/"))
    }


def _operations() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods}


def _api_routes_in_schema() -> set[str]:
    """The resolver's API operation routes, spelled as OpenAPI paths: they must all be in the schema."""
    return {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        for route, pattern in _walk(get_resolver().url_patterns)
        if _is_api_operation(pattern)
    }


def test_the_table_has_a_row_for_every_route_and_api_operation_and_no_other():
    assert {r.route for r in PAGES} == _routes()
    assert {(r.method, r.route) for r in API} == _operations()
    assert _api_routes_in_schema() == {path for _, path in _operations()}


# --- The world every row is requested in -------------------------------------------------------


@dataclass
class World:
    users: dict[str, User]
    tokens: dict[str, str]
    objects: dict[str, Any]


@pytest.fixture
def world(reviewer, senior, admin_user, source_token, settings, media_root: Path) -> World:
    # The health row would otherwise wait a second per persona for worker pings; access is what is tested.
    settings.REDIS_URL = ""
    ingest_source, ingest_token = source_token
    export_token = source_create(name="ml-platform", kind="ml_export").token
    revoked = source_create(name="retired", kind="output_classifier")
    source_revoke(source=revoked.source)
    other = source_create(name="canary", kind="sampler").source

    triage, seniors = Queue.objects.get(slug="triage"), Queue.objects.get(slug="escalation")
    item = ReviewItem.objects.create(conversation=factories.conversation(ingest_source, "c-open"), queue=triage)
    senior_item = ReviewItem.objects.create(
        conversation=factories.conversation(ingest_source, "c-senior"), queue=seniors
    )
    done = ReviewItem.objects.create(
        conversation=factories.conversation(ingest_source, "c-done"),
        queue=triage,
        status=ItemStatus.DONE,
        reviews_done=1,
    )
    decision = Decision.objects.create(item=done, reviewer=reviewer, verdict="appropriate_refusal")
    comment = Comment.objects.create(item=item, author=reviewer, body="a note")
    saved_filter = SavedFilter.objects.create(user=reviewer, name="mine", query="status=open")

    dataset = Dataset.objects.create(kind="eval", status=DatasetStatus.READY, row_count=1)
    path = default_storage.save(f"datasets/{dataset.pk}/train.jsonl", ContentFile(b'{"id": "ovs-1"}\n'))
    dataset.files = {"train": {"path": path, "rows": 1, "sha256": "0" * 64, "bytes": 15}}
    dataset.save(update_fields=["files"])
    model = ScoringModel.objects.create(version=1, encoder="test", labels=["harmful"], status=ModelStatus.READY)
    campaign = Campaign.objects.create(seed=item.conversation, size=2)
    CampaignMember.objects.bulk_create(
        CampaignMember(conversation=c, campaign=campaign) for c in (item.conversation, done.conversation)
    )
    bulk = BulkVerdict.objects.create(campaign=campaign, applied_by=senior, verdict="appropriate_refusal")

    return World(
        users={"reviewer": reviewer, "senior": senior, "admin": admin_user},
        tokens={"ingest": ingest_token, "export": export_token, "revoked": revoked.token},
        objects={
            "triage": triage.slug,
            "seniors_queue": seniors.slug,
            "item": item.pk,
            "senior_item": senior_item.pk,
            "first_message": 0,
            "decision": decision.pk,
            "comment": comment.pk,
            "saved_filter": saved_filter.pk,
            "policy": PolicyVersion.objects.get(is_active=True).number,  # rolling back to it: 422, nothing changes
            "dataset": dataset.pk,
            "split": "train",
            "model": model.pk,
            "victim": other.pk,
            "conversation": item.conversation_id,
            "other_conversation": factories.conversation(other, "c-other").pk,
            "queue_health": "queue-health",
            "safety": "safety",
            "queues_table": "queues",
            "grid_table": "grid",
            "campaign": campaign.pk,
            "bulk": bulk.pk,
        },
    )


def _client(world: World, persona: str) -> Client:
    headers = {"Authorization": f"Bearer {world.tokens[persona]}"} if persona in world.tokens else {}
    client = Client(REMOTE_ADDR=OUTSIDE, headers=headers)
    if persona in world.users:
        client.force_login(world.users[persona])
    return client


def _path(row: Row, world: World) -> str:
    """The row's route with each path parameter, `<int:pk>` or `{pk}`, replaced by its object's id."""

    def fill(match: re.Match[str]) -> str:
        return str(world.objects[row.params[match.group(1) or match.group(2)]])

    path = re.sub(r"<(?:\w+:)?(\w+)>|\{(\w+)\}", fill, row.route)
    return path if path.startswith("/") else "/" + path


def _request(client: Client, row: Row, path: str) -> Any:
    if row.route.startswith("/api/"):
        body = None if row.body is None else json.dumps(row.body)
        return client.generic(row.method, path, data=body or "", content_type="application/json")
    if row.method == "GET":
        return client.get(path)
    return client.post(path, row.body or {})


def _outcome(response: Any) -> Expected:
    if response.status_code != 302:
        return response.status_code
    location = response["Location"]
    if location.startswith("/admin/login/"):
        return ADMIN_LOGIN
    if location.startswith("/login/"):
        return LOGIN
    return REDIRECT


def test_each_persona_gets_the_expected_answer_on_every_row(world: World):
    """One world for all rows (building it per row would cost the suite half a minute); the report names
    every row that differs, with what each persona got."""
    wrong = []
    for r in ROWS:
        got = {}
        for persona in PERSONAS:
            with transaction.atomic():
                got[persona] = _outcome(_request(_client(world, persona), r, _path(r, world)))
                transaction.set_rollback(True)
        expected = dict(zip(PERSONAS, r.expected, strict=True))
        if got != expected:
            diff = ", ".join(f"{p}: {got[p]} (expected {expected[p]})" for p in PERSONAS if got[p] != expected[p])
            wrong.append(f"{r.id}: {diff}")
    assert not wrong, "\n".join(wrong)
