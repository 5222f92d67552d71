"""The pages a person opens first: login, the queues list, the API docs."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get("/login/")

    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_home_requires_login(client):
    response = client.get("/")

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_reviewer_logs_in_and_sees_the_queues_they_may_work(client, reviewer):
    response = client.post("/login/", {"username": "rita", "password": "pw-rita"}, follow=True)

    content = response.content.decode()
    assert "Triage" in content and "Calibration sample" in content
    assert "Escalations" not in content


def test_user_without_a_role_sees_no_queues(client, outsider):
    client.force_login(outsider)

    assert "no review role" in client.get("/").content.decode()


def test_api_docs_and_schema_are_served(client):
    assert client.get("/api/v1/docs").status_code == 200
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/conversations" in schema["paths"]
    assert "/api/v1/conversations/{conversation_id}" in schema["paths"]
    assert "/api/v1/health" in schema["paths"]


def test_pages_deny_framing(client):
    assert client.get("/login/")["X-Frame-Options"] == "DENY"


def test_home_says_where_risk_comes_from(client, reviewer):
    from reviews.models import ScoringModel

    client.force_login(reviewer)
    assert "risk is the highest score the detectors gave (fallback)" in client.get("/").content.decode()

    ScoringModel.objects.create(version=4, encoder="e", status="active")
    assert "Risk is scored by model v4" in client.get("/").content.decode()
