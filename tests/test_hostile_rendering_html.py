"""Hostile rendering without a browser: every page that shows conversation text, with the corpus planted in
every field it shows, is inert HTML (no event handler, script, foreign URL or htmx attribute from a payload)
and shows each payload as escaped text. Seconds to run; tests/test_hostile_rendering.py drives Chromium.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from reviews.analytics.dashboards import DASHBOARDS
from reviews.analytics.rollup import analytics_rollup
from reviews.models import AuditEvent, Conversation
from reviews.routing import policies
from reviews.workspace.visibility import WITHHELD
from tests.hostile_corpus import (
    BLURRED,
    BULK,
    BY_NAME,
    EXTERNAL_IDS,
    MODELS,
    PAYLOADS,
    REASON,
    Planted,
    held_conversation,
    inert_violations,
    plant_corpus,
)

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
JSON_DATA = re.compile(r'(<script [^>]*type="application/json"[^>]*>)(.*?)(</script>)', re.DOTALL)


@pytest.fixture(autouse=True)
def _media(media_root: Path) -> None:
    """Escalations and snapshots may write files: each test gets its own folder."""


@pytest.fixture
def root(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("root", password="pw-root")


@pytest.fixture
def planted(api, reviewer, senior, root, django_capture_on_commit_callbacks) -> Planted:
    return plant_corpus(
        api=api,
        reviewer=reviewer,
        senior=senior,
        admin=root,
        on_commit=lambda: django_capture_on_commit_callbacks(execute=True),
    )


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html_of(client: Client, url: str, *, data: Any = None, post: bool = False, htmx: bool = False) -> str:
    headers = HX if htmx else {}
    response = client.post(url, data or {}, headers=headers) if post else client.get(url, data, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    assert response["Content-Type"].startswith("text/html"), url
    return response.content.decode()


def assert_inert(html: str, where: str) -> None:
    assert inert_violations(html) == [], where
    # Chart data is JSON in <script type="application/json"> (json_script): never run, and with no "<" in it,
    # nothing there can close the element. Quotes are plain JSON there, so the check below skips it.
    data = [match.group(2) for match in JSON_DATA.finditer(html)]
    assert [block[:80] for block in data if "<" in block] == [], where
    text = JSON_DATA.sub(r"\1\3", html)
    # A payload with markup in it must only ever appear escaped.
    leaked = [p.name for p in PAYLOADS if escape(p.text) != p.text and p.text in text]
    assert leaked == [], where


def assert_shown(html: str, texts: list[str], where: str) -> None:
    missing = [text[:60] for text in texts if escape(text) not in html]
    assert missing == [], where


def test_the_item_page_shows_every_turn_flag_and_score_as_escaped_text(planted, reviewer):
    client = _client(reviewer)
    url = f"/items/{planted.held.pk}/"

    for html in (html_of(client, url), html_of(client, url, htmx=True)):
        assert_inert(html, url)
        assert_shown(html, [p.text for p in PAYLOADS], "turns and flag explanations")
        assert_shown(html, [p.text[:100] for p in PAYLOADS], "flag categories as the detector sent them")
        assert_shown(html, [p.text[:200] for p in PAYLOADS], "detector names")
        assert_shown(html, [MODELS["held"], "unpinned " + BY_NAME["hx_get_on_load"].text], "model, unpinned flag")
        assert escape(BLURRED) not in html and "Reveal turn" in html  # blurred until revealed
        assert 'id="decision-form"' in html  # the reviewer holds it: the form renders beside the corpus


def test_a_revealed_turn_arrives_as_escaped_text(planted, reviewer):
    client = _client(reviewer)
    reveal = f"/items/{planted.held.pk}/messages/{planted.blurred_index}/reveal/"

    fragment = html_of(client, reveal, post=True, htmx=True)
    page = html_of(client, f"/items/{planted.held.pk}/")

    for html in (fragment, page):
        assert_inert(html, reveal)
        assert_shown(html, [BLURRED], reveal)


def test_reviewer_pages_show_rationale_preferred_response_and_reason_as_text(planted, reviewer):
    # The forms stored the corpus unchanged, so the pages below are showing exactly it.
    assert planted.decision.rationale == BULK and planted.decision.preferred_response == BULK
    assert planted.escalation.reason == REASON and planted.resolution.rationale == BULK
    client = _client(reviewer)
    pages = {
        "/": [],
        f"/items/{planted.decided.pk}/": [BULK],  # the reviewer's own earlier decision
        f"/items/{planted.escalated.pk}/": [BY_NAME["noscript_mxss"].text],  # blind: no reason shown
        "/my/work/": [],
        f"/my/work/{planted.decision.pk}/edit/": [BULK],  # both textareas
        "/my/escalations/": [REASON, BULK],  # the reason and the senior's resolution
    }

    for url, texts in pages.items():
        html = html_of(client, url)
        assert_inert(html, url)
        assert_shown(html, texts, url)
    assert html_of(client, f"/my/work/{planted.decision.pk}/edit/").count(escape(BULK)) == 2


def test_senior_pages_show_the_escalation_reason_and_every_decision_as_text(planted, senior):
    client = _client(senior)

    for url in (f"/items/{planted.senior_item.pk}/", f"/items/{planted.escalated.pk}/"):
        html = html_of(client, url)
        assert_inert(html, url)
        assert_shown(html, [REASON, BULK, MODELS["escalated"]], url)  # seniors see the history
    html = html_of(client, f"/items/{planted.decided.pk}/")
    assert_inert(html, "decided item")
    assert_shown(html, [BULK, MODELS["decided"]], "decided item")


def _lines(text: str) -> list[str]:
    """What a read-only admin field shows of multi-line text: each line, the breaks turned into <br>."""
    return [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]


def test_admin_pages_show_the_corpus_as_text(planted, root):
    client = _client(root)
    conversation = planted.held.conversation_id
    audit = AuditEvent.objects.filter(target_type="reviews.escalation").first()
    assert audit is not None
    pages = {
        "/admin/reviews/conversation/": [EXTERNAL_IDS["held"], MODELS["held"], EXTERNAL_IDS["escalated"]],
        f"/admin/reviews/conversation/{conversation}/change/": [EXTERNAL_IDS["held"], MODELS["held"]],
        f"/admin/reviews/conversation/{planted.decided.conversation_id}/change/": [EXTERNAL_IDS["decided"]],
        "/admin/reviews/reviewitem/": [],
        f"/admin/reviews/reviewitem/{planted.held.pk}/change/": [],
        "/admin/reviews/decision/": [],
        # The record is read-only there: text fields show as text, each line break a <br>.
        f"/admin/reviews/decision/{planted.decision.pk}/change/": _lines(BULK),
        "/admin/reviews/escalation/": [],
        f"/admin/reviews/escalation/{planted.escalation.pk}/change/": _lines(REASON),
        "/admin/reviews/auditevent/": [],
        f"/admin/reviews/auditevent/{audit.pk}/change/": [],
    }

    for url, texts in pages.items():
        html = html_of(client, url)
        assert_inert(html, url)
        assert_shown(html, texts, url)
    change = html_of(client, f"/admin/reviews/conversation/{conversation}/change/")
    # Messages and metadata show as JSON text; the flags inline shows detector and explanation read-only.
    assert_shown(change, [json.dumps(BY_NAME["svg_script"].text, ensure_ascii=False)], "messages JSON")
    assert_shown(change, [BY_NAME["img_onerror"].text], "flag inline")
    for payload in (BY_NAME["script_tag"], BY_NAME["attribute_breakout_double"], BY_NAME["textarea_breakout"]):
        html = html_of(client, "/admin/reviews/conversation/", data={"q": payload.text})
        assert_inert(html, f"admin search for {payload.name}")


def test_dataset_pages_stay_inert_and_downloads_are_attachments(planted, root):
    client = _client(root)
    assert planted.dataset.status == "ready" and planted.dataset.row_count >= 1

    for url in ("/datasets/", f"/datasets/{planted.dataset.pk}/row/"):
        html = html_of(client, url)
        assert_inert(html, url)
        assert f'id="dataset-{planted.dataset.pk}"' in html
    split = next(name for name, file in planted.dataset.files.items() if file["rows"])
    response = client.get(f"/datasets/{planted.dataset.pk}/download/{split}/")
    body = b"".join(response.streaming_content).decode()
    # The file holds the corpus raw (it is training data), so it must never be rendered by the browser.
    assert BY_NAME["img_onerror"].text in body
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert not response["Content-Type"].startswith("text/html")


def test_read_api_returns_the_corpus_verbatim_as_json_never_html(planted, api, reviewer):
    url = f"/api/v1/conversations/{planted.held.conversation_id}"
    sent = held_conversation()

    for response, withheld in ((api.get(url), set()), (_client(reviewer).get(url), {planted.blurred_index})):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert response["X-Content-Type-Options"] == "nosniff"
        body = response.json()
        # A source reads its own conversation whole; a reviewer's session gets the blurred turn withheld.
        shown = [m for i, m in enumerate(body["messages"]) if i not in withheld]
        assert shown == [m for i, m in enumerate(sent["messages"]) if i not in withheld]
        assert all(body["messages"][i]["content"] is None for i in withheld)
        assert body["metadata"] == sent["metadata"]
        assert body["external_id"] == EXTERNAL_IDS["held"] and body["model"] == MODELS["held"]
        # An explanation on a blurred turn is withheld with it (it can quote the turn).
        assert sorted(f["explanation"] for f in body["flags"]) == sorted(
            WITHHELD if f.get("message_index") in withheld else f.get("explanation", "") for f in sent["flags"]
        )


def test_policy_dry_run_over_the_corpus_stays_inert(planted, root):
    document = policies.draft_get().document
    hostile_key = f"key {BY_NAME['script_tag'].text}"
    rule = {"name": "<script>alert('rule')</script>", "when": {"metadata": {hostile_key: "script_tag"}}}
    document = {**document, "rules": [{**rule, "then": {"queue": "calibration"}}, *document["rules"]]}
    client = _client(root)

    data = {"text": json.dumps(document), "limit": 100}

    fragment = html_of(client, "/policy/dry-run/", data=data, post=True, htmx=True)
    page = html_of(client, "/policy/dry-run/", data=data, post=True)

    assert_inert(fragment, "dry run")
    assert_inert(page, "policy editor after a dry run")
    assert 'id="dry-run-calibration"' in fragment  # the hostile metadata key reached routing unchanged
    assert Conversation.objects.count() == 3


def test_analytics_dashboards_show_model_source_and_detector_names_as_text(planted, senior):
    analytics_rollup(full=True)
    client = _client(senior)

    for name in DASHBOARDS:
        for query in ({}, {"model": MODELS["held"]}):
            html = html_of(client, f"/analytics/{name}/", data=query)
            assert_inert(html, f"{name} {query}")
            assert_shown(html, list(MODELS.values()), f"{name}: the model filter")
    monitors = html_of(client, "/analytics/monitors/")
    assert_shown(monitors, [BY_NAME["img_onerror"].text], "a reviewed detector's name")
