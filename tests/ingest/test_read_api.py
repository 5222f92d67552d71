"""GET /api/v1/conversations/{id} and /api/v1/health."""

from __future__ import annotations

import pytest

from reviews.ingest.sources import source_create
from reviews.models import Decision, ReviewItem, Verdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(api, make_conversation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ids = api.post("/api/v1/conversations", {"conversations": [make_conversation("a")]}).json()["ids"]
    return ids[0]


def test_conversation_comes_back_with_flags_scores_items_and_decisions(api, stored, reviewer):
    item = ReviewItem.objects.get(conversation_id=stored)
    Decision.objects.create(item=item, reviewer=reviewer, verdict=Verdict.APPROPRIATE_HELP, severity=1)

    body = api.get(f"/api/v1/conversations/{stored}").json()

    assert body["external_id"] == "a" and body["source"] == "guardrail"
    assert body["messages"][0] == {"role": "user", "content": "How do I pick a lock?"}
    assert body["flags"][0]["category"] == "violent-crime" and body["flags"][0]["message_index"] == 0
    assert body["scores"] == [
        {
            "producer": "fallback",
            "model_version": None,
            "risk": 0.62,
            "verdicts": None,  # the detectors' own scores have no verdict grid
            "judged": "response",
            "categories": {"violent-crime": 0.62},
            "created_at": body["scores"][0]["created_at"],
        }
    ]
    assert body["review_items"][0]["queue"] == "triage"
    assert body["review_items"][0]["decisions"][0]["verdict"] == "appropriate_help"


def test_another_sources_conversation_is_404(api, stored):
    api.token = source_create(name="other", kind="red_team").token

    response = api.get(f"/api/v1/conversations/{stored}")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_logged_in_reviewer_may_read_a_conversation(client, stored, reviewer):
    client.force_login(reviewer)

    assert client.get(f"/api/v1/conversations/{stored}").status_code == 200


def test_anonymous_and_role_less_users_may_not_read_conversations(client, stored, outsider):
    assert client.get(f"/api/v1/conversations/{stored}").status_code == 401
    client.force_login(outsider)
    assert client.get(f"/api/v1/conversations/{stored}").status_code == 401


def test_detail_read_takes_a_fixed_number_of_queries(api, stored, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert api.get(f"/api/v1/conversations/{stored}").status_code == 200


def test_health_reports_database_broker_and_workers(client, settings):
    body = client.get("/api/v1/health").json()

    assert body["database"] == "ok"
    if settings.REDIS_URL:
        assert body["broker"] == "ok"
    else:
        assert body == {"status": "ok", "database": "ok", "broker": "in-process", "workers": "in-process"}


def test_health_is_degraded_when_the_broker_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    body = client.get("/api/v1/health").json()

    assert body["status"] == "degraded"
    assert body["broker"].startswith("error")
