"""The Django admin shows the review record but cannot change it: edits there would skip the audit trail
and the snapshots' staleness marks. Changes go through the audited services (the workspace, the API, the
management commands); configuration (sources, queues, taxonomy, models) stays editable there."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from reviews.audit import audit_record
from reviews.models import (
    AuditAction,
    AuditEvent,
    Conversation,
    Dataset,
    Decision,
    Escalation,
    Queue,
    ReviewItem,
    ScoringModel,
    Source,
)

pytestmark = pytest.mark.django_db

RECORD = ["conversation", "reviewitem", "decision", "escalation", "dataset", "auditevent"]


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-root")


@pytest.fixture
def record(superuser: User) -> dict[str, Any]:
    source = Source.objects.create(name="guardrail", kind="input_guardrail")
    conversation = Conversation.objects.create(
        source=source, external_id="c-1", messages=[{"role": "user", "content": "hi"}]
    )
    item = ReviewItem.objects.create(conversation=conversation, queue=Queue.objects.get(slug="triage"))
    decision = Decision.objects.create(item=item, reviewer=superuser, verdict="appropriate_help")
    escalation = Escalation.objects.create(item=item, raised_by=superuser, reason="unsure")
    dataset = Dataset.objects.create(kind="eval")
    event = audit_record(actor=superuser, action=AuditAction.DOWNLOAD, target=dataset)
    return {
        "conversation": conversation,
        "reviewitem": item,
        "decision": decision,
        "escalation": escalation,
        "dataset": dataset,
        "auditevent": event,
    }


@pytest.fixture
def root_client(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.mark.parametrize("model", RECORD)
def test_the_review_record_has_no_add_page(root_client, record, model):
    assert root_client.get(f"/admin/reviews/{model}/add/").status_code == 403


@pytest.mark.parametrize("model", RECORD)
def test_the_review_record_can_be_viewed_but_not_saved(root_client, record, model):
    obj = record[model]
    url = f"/admin/reviews/{model}/{obj.pk}/change/"

    page = root_client.get(url)
    posted = root_client.post(url, {"_save": "Save"})

    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert posted.status_code == 403


@pytest.mark.parametrize("model", RECORD)
def test_the_review_record_cannot_be_deleted_one_by_one_or_in_bulk(root_client, record, model):
    obj = record[model]
    before = type(obj).objects.count()

    one = root_client.post(f"/admin/reviews/{model}/{obj.pk}/delete/", {"post": "yes"})
    bulk = root_client.post(
        f"/admin/reviews/{model}/", {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    changelist = root_client.get(f"/admin/reviews/{model}/")

    assert one.status_code == 403
    assert bulk.status_code in (200, 302)
    assert type(obj).objects.count() == before
    assert changelist.status_code == 200
    assert b'value="delete_selected"' not in changelist.content


def test_a_decision_survives_every_admin_path_and_no_audit_event_is_rewritten(root_client, record):
    decision = record["decision"]
    events = list(AuditEvent.objects.values_list("pk", "hash"))

    root_client.post(f"/admin/reviews/decision/{decision.pk}/change/", {"verdict": "harmful_compliance"})
    root_client.post(f"/admin/reviews/reviewitem/{record['reviewitem'].pk}/delete/", {"post": "yes"})
    root_client.post(f"/admin/reviews/conversation/{record['conversation'].pk}/delete/", {"post": "yes"})

    decision.refresh_from_db()
    assert decision.verdict == "appropriate_help"
    assert list(AuditEvent.objects.values_list("pk", "hash")) == events


def test_configuration_stays_editable_and_service_actions_still_work(root_client, record):
    source = Source.objects.get(name="guardrail")
    model = ScoringModel.objects.create(version=1, status="ready", encoder="test")

    issued = root_client.post("/admin/reviews/source/", {"action": "issue_token", "_selected_action": [source.pk]})
    promoted = root_client.post(
        "/admin/reviews/scoringmodel/", {"action": "promote", "_selected_action": [model.pk]}, follow=True
    )

    assert issued.status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED, target_id=str(source.pk)).exists()
    assert promoted.status_code == 200
    model.refresh_from_db()
    assert model.status == "active"
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_PROMOTED).exists()
    for name in ("source", "queue", "category", "scoringmodel"):
        assert root_client.get(f"/admin/reviews/{name}/add/").status_code == 200, name
