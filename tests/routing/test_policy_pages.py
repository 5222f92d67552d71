"""Admin pages: the policy editor and its versions, and sources with their tokens."""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from reviews.ingest.sources import source_authenticate, source_create
from reviews.models import AuditEvent, Conversation, Flag, PolicyDraft, PolicyVersion, Score, Source
from reviews.routing.policies import draft_get, draft_save, policy_activate, pretty
from reviews.routing.policy import DEFAULT_POLICY

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'id="new-token">(ovs_[^<]+)</code>')


def _policy(**top: Any) -> dict[str, Any]:
    document = copy.deepcopy(DEFAULT_POLICY)
    document.update(top)
    return document


def _risky_to(queue: str) -> dict[str, Any]:
    """The default policy, with risky traffic sent to `queue` instead of triage."""
    document = _policy()
    next(rule for rule in document["rules"] if rule["name"] == "risky")["then"]["queue"] = queue
    return document


def _page(response: Any) -> str:
    return html.unescape(response.content.decode())


def _seeded() -> int:
    """The number of the version the migrations leave active (v1 seeded, then 0017's over-refusal rule)."""
    return PolicyVersion.objects.get(is_active=True).number


def _activate_another(admin: User) -> PolicyVersion:
    draft_save(text=json.dumps(_risky_to("escalation")), actor=admin)
    return policy_activate(actor=admin, note="risky goes to seniors")


def _conversations(source: Source, count: int, *, risk: float = 0.5) -> None:
    """Scored conversations flagged for a soft-limit category, so no auto-escalation and no sampling."""
    for n in range(count):
        conversation = Conversation.objects.create(source=source, external_id=f"{source.name}-{n}", messages=[])
        Flag.objects.create(conversation=conversation, detector="d", category="cyber", score=risk)
        Score.objects.create(conversation=conversation, producer="fallback", categories={"cyber": risk}, risk=risk)


# --- Access ------------------------------------------------------------------

ACTIONS = [
    ("get", "/policy/"),
    ("post", "/policy/"),
    ("post", "/policy/dry-run/"),
    ("post", "/policy/activate/"),
    ("get", "/policy/versions/"),
    ("post", "/policy/versions/1/rollback/"),
    ("get", "/sources/"),
    ("post", "/sources/"),
    ("post", "/sources/{pk}/revoke/"),
    ("post", "/sources/{pk}/rotate/"),
]

# persona fixture (None: anonymous) → expected status
ACCESS = [(None, 302), ("reviewer", 403), ("senior", 403), ("outsider", 403), ("admin_user", 200)]


@pytest.mark.parametrize(("persona", "status"), ACCESS)
@pytest.mark.parametrize(("method", "path"), ACTIONS)
def test_only_admins_may_open_the_policy_and_source_pages(client, request, admin_user, persona, status, method, path):
    seeded = _seeded()
    _activate_another(admin_user)  # so rolling back to v1 and activating the form's text both succeed
    source = source_create(name="guard", kind="input_guardrail").source
    if persona:
        client.force_login(request.getfixturevalue(persona))
    data = {"text": json.dumps(_policy()), "name": "new-source", "kind": "red_team"}

    response = getattr(client, method)(path.format(pk=source.pk), data if method == "post" else None)

    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/login/?next=")
    if status != 200:
        assert PolicyVersion.objects.count() == seeded + 1 and Source.objects.count() == 1


def test_the_nav_links_to_policy_and_sources_for_admins_only(client, admin_user, senior):
    client.force_login(senior)
    assert 'href="/policy/"' not in client.get("/").content.decode()

    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert 'href="/policy/"' in page and 'href="/sources/"' in page


# --- Policy editor -------------------------------------------------------------


def test_editor_shows_the_draft_the_active_version_and_the_formula(client, admin_user):
    client.force_login(admin_user)

    page = _page(client.get("/policy/"))

    assert pretty(draft_get().document) in page
    assert f'Active version: <span class="badge active">v{_seeded()}</span>' in page
    assert f"The draft is based on v{_seeded()}" in page
    assert "weights.severity" in page and "hours waiting" in page
    assert "priority_boost" in page and "any_detector_score" in page
    assert "P(harmful compliance)" in page and '<code>{"over_refusal": {"min": 0.5}}</code>' in page


def _overlapping() -> dict[str, Any]:
    document = _policy()
    document["rules"].append(
        {"name": "risky again", "when": {"risk": {"harmful": {"min": 0.5, "max": 1}}}, "then": {"queue": "calibration"}}
    )
    return document


def _empty_range() -> dict[str, Any]:
    document = _policy()
    document["rules"][2]["when"]["risk"]["harmful"] = {"min": 0.5, "max": 0.5}
    return document


INVALID = [
    pytest.param(json.dumps(_risky_to("nowhere")), "unknown queue 'nowhere'", id="unknown-queue"),
    pytest.param(json.dumps(_empty_range()), "empty range: min 0.5 must be below max 0.5", id="empty-risk-range"),
    pytest.param(
        json.dumps(_overlapping()),
        "rules 'risky' and 'risky again' have overlapping 'harmful' risk ranges",
        id="overlapping-ranges",
    ),
    pytest.param(
        json.dumps(_policy(sampling={"low_risk_percent": 150})),
        "sampling.low_risk_percent: Input should be less than or equal to 100",
        id="sampling-over-100",
    ),
    pytest.param('{"rules": [', "not valid JSON", id="invalid-json"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_an_invalid_draft_is_refused_with_the_reason_and_nothing_is_saved(client, admin_user, text, message):
    client.force_login(admin_user)
    before = draft_get().document

    response = client.post("/policy/", {"text": text})

    assert response.status_code == 422
    page = _page(response)
    assert "The draft was not saved:" in page and message in page
    assert text in page  # the submitted text is kept in the form
    assert PolicyDraft.objects.get().document == before


def test_saving_a_valid_draft_persists_it(client, admin_user):
    client.force_login(admin_user)
    document = _risky_to("escalation")

    response = client.post("/policy/", {"text": json.dumps(document)})

    assert response.status_code == 200 and "Draft saved." in _page(response)
    draft = PolicyDraft.objects.get()
    assert draft.document == document and draft.updated_by == admin_user
    assert PolicyVersion.objects.count() == _seeded()


def test_dry_run_counts_destinations_and_changes_nothing(client, admin_user, source_token):
    _conversations(source_token[0], 3)
    client.force_login(admin_user)
    before = draft_get().document

    response = client.post("/policy/dry-run/", {"text": json.dumps(_risky_to("escalation")), "limit": ""})

    assert response.status_code == 200
    rows = dict(re.findall(r'<tr id="dry-run-([a-z]+)">(.*?)</tr>', response.content.decode(), re.S))
    cells = {key: re.findall(r'<td class="num[^"]*">([^<]+)</td>', row) for key, row in rows.items()}
    assert cells == {"triage": ["3", "0", "-3"], "escalation": ["0", "3", "+3"]}
    # Fewer items in review is not "good", more not "bad": both changes are marked alike, neither coloured.
    assert set(re.findall(r'<td class="num ([a-z]+)">[+-]', response.content.decode())) == {"changed"}
    assert PolicyDraft.objects.get().document == before and PolicyVersion.objects.count() == _seeded()


def test_dry_run_counts_only_what_routing_routes_not_imported_or_unscored_conversations(
    client, admin_user, source_token
):
    _conversations(source_token[0], 3)
    imported = Source.objects.create(name="xstest", kind="import")
    _conversations(imported, 5)  # scored or not, an imported set is never routed
    Conversation.objects.create(source=source_token[0], external_id="unscored", messages=[])
    client.force_login(admin_user)

    response = client.post("/policy/dry-run/", {"text": json.dumps(_risky_to("escalation")), "limit": ""})

    rows = dict(re.findall(r'<tr id="dry-run-([a-z]+)">(.*?)</tr>', response.content.decode(), re.S))
    cells = {key: re.findall(r'<td class="num[^"]*">([^<]+)</td>', row) for key, row in rows.items()}
    assert cells == {"triage": ["3", "0", "-3"], "escalation": ["0", "3", "+3"]}
    assert "The 3 most recent conversations routing routes" in _page(response)


def test_dry_run_of_an_invalid_text_answers_422_with_the_errors(client, admin_user):
    client.force_login(admin_user)

    response = client.post("/policy/dry-run/", {"text": json.dumps(_risky_to("nowhere"))})

    assert response.status_code == 422
    assert "The dry run could not run:" in _page(response) and "unknown queue 'nowhere'" in _page(response)


def test_dry_run_over_htmx_returns_only_its_region(client, admin_user):
    client.force_login(admin_user)

    response = client.post("/policy/dry-run/", {"text": json.dumps(_policy())}, headers={"HX-Request": "true"})

    content = response.content.decode()
    assert response.status_code == 200
    assert content.strip().startswith('<section id="dry-run"') and "<html" not in content
    assert "HX-Request" in response["Vary"]


def test_activate_creates_the_next_version_with_a_diff_and_an_audit_event(client, admin_user):
    client.force_login(admin_user)
    document = _risky_to("escalation")
    number = _seeded() + 1

    response = client.post("/policy/activate/", {"text": json.dumps(document), "note": "risky goes to seniors"})

    assert response.status_code == 200 and f"Activated: v{number}" in _page(response)
    new = PolicyVersion.objects.get(is_active=True)
    assert new.number == number and new.document == document and new.created_by == admin_user
    assert '-        "queue": "triage"\n+        "queue": "escalation"' in new.diff
    assert AuditEvent.objects.filter(action="policy_change", target_id=str(new.pk), actor=admin_user).exists()

    page = _page(client.get("/policy/versions/"))
    assert f'id="version-{number}"' in page and "risky goes to seniors" in page
    assert '<span class="diff-add">+        "queue": "escalation"</span>' in page
    assert "Roll back to this version" in page  # on v1


def test_activating_an_unchanged_draft_says_it_is_the_same_as_the_active_version(client, admin_user):
    client.force_login(admin_user)

    seeded = _seeded()
    response = client.post("/policy/activate/", {"text": pretty(PolicyVersion.objects.get(number=seeded).document)})

    assert response.status_code == 422
    assert f"the draft is the same as the active version v{seeded}" in _page(response)
    assert PolicyVersion.objects.count() == seeded


def test_an_invalid_activation_saves_and_activates_nothing(client, admin_user):
    client.force_login(admin_user)
    before = draft_get().document

    response = client.post("/policy/activate/", {"text": json.dumps(_empty_range())})

    assert response.status_code == 422 and "Nothing was activated:" in _page(response)
    assert PolicyDraft.objects.get().document == before and PolicyVersion.objects.count() == _seeded()


def test_rollback_to_v1_creates_a_new_version_with_v1s_document(client, admin_user):
    number = _activate_another(admin_user).number + 1
    client.force_login(admin_user)

    response = client.post("/policy/versions/1/rollback/")

    assert response.status_code == 200
    v1, new = PolicyVersion.objects.get(number=1), PolicyVersion.objects.get(number=number)
    assert new.is_active and new.document == v1.document and new.note == "rollback to v1"
    assert f"Rolled back: v{number} is active" in _page(response)


def test_versions_over_htmx_return_only_the_list(client, admin_user):
    client.force_login(admin_user)

    content = client.get("/policy/versions/", headers={"HX-Request": "true"}).content.decode()

    assert content.strip().startswith('<section id="policy-versions"') and "<html" not in content


# --- Sources -----------------------------------------------------------------------


def test_creating_a_source_shows_its_token_once(client, admin_user):
    client.force_login(admin_user)

    response = client.post("/sources/", {"name": "cot-monitor", "kind": "cot_monitor", "description": "CoT"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = TOKEN.search(response.content.decode()).group(1)
    source = source_authenticate(token=token)
    assert source is not None and source.name == "cot-monitor" and source.kind == "cot_monitor"

    reloaded = client.get("/sources/").content.decode()
    assert "cot-monitor" in reloaded and token not in reloaded and 'id="new-token"' not in reloaded


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "taken", "kind": "red_team"}, "A source named 'taken' already exists."),
        ({"name": "fresh", "kind": "oracle"}, "Select a valid choice. oracle is not one of the available choices."),
        ({"name": "", "kind": "red_team"}, "Name: This field is required."),
    ],
    ids=["taken-name", "bad-kind", "empty-name"],
)
def test_an_invalid_source_is_refused_on_the_form(client, admin_user, data, message):
    source_create(name="taken", kind="sampler")
    client.force_login(admin_user)

    response = client.post("/sources/", data)

    assert response.status_code == 422
    page = _page(response)
    assert "The source was not created:" in page and message in page and 'id="new-token"' not in page
    assert Source.objects.count() == 1


def test_revoke_stops_the_token(client, admin_user, source_token):
    source, token = source_token
    client.force_login(admin_user)

    response = client.post(f"/sources/{source.pk}/revoke/")

    assert response.status_code == 200 and "Revoked the token of guardrail" in _page(response)
    assert source_authenticate(token=token) is None


def test_new_token_is_shown_once_and_the_old_one_stops_working(client, admin_user, source_token):
    source, old = source_token
    client.force_login(admin_user)

    response = client.post(f"/sources/{source.pk}/rotate/")

    new = TOKEN.search(response.content.decode()).group(1)
    assert new != old
    assert source_authenticate(token=old) is None
    assert source_authenticate(token=new) == source
    assert new not in client.get("/sources/").content.decode()


def test_volume_counts_each_sources_conversations(client, admin_user):
    busy = source_create(name="busy", kind="sampler").source
    quiet = source_create(name="quiet", kind="sampler").source
    _conversations(busy, 3)
    client.force_login(admin_user)

    page = client.get("/sources/").content.decode()

    volume = dict(re.findall(r'<tr id="source-(\d+)".*?<td class="num"[^>]*>(\d+)</td>', page, re.S))
    assert volume == {str(busy.pk): "3", str(quiet.pk): "0"}


def test_sources_page_takes_a_fixed_number_of_queries(client, admin_user, django_assert_max_num_queries):
    for n in range(6):
        _conversations(source_create(name=f"s{n}", kind="sampler").source, 2)
    client.force_login(admin_user)

    with django_assert_max_num_queries(6):  # + the seniors' and admins' inbox count in the header
        response = client.get("/sources/")

    assert response.status_code == 200 and response.content.decode().count('<tr id="source-') == 6


def test_sources_over_htmx_return_only_the_panel(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/sources/", headers={"HX-Request": "true"})

    content = response.content.decode()
    assert content.strip().startswith('<div id="sources-panel"') and "<html" not in content
    assert "HX-Request" in response["Vary"]


def test_a_source_created_over_htmx_answers_with_the_panel_and_the_token(client, admin_user):
    client.force_login(admin_user)

    response = client.post("/sources/", {"name": "rt", "kind": "red_team"}, headers={"HX-Request": "true"})

    content = response.content.decode()
    assert content.strip().startswith('<div id="sources-panel"') and "<html" not in content
    assert source_authenticate(token=TOKEN.search(content).group(1)) is not None


# --- Strict CSP ----------------------------------------------------------------------

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates", Path(settings.BASE_DIR) / "reviews" / "templates"]
TAG = re.compile(r"<[a-zA-Z][^>]*>", re.S)


def test_no_template_has_inline_script_or_event_handler_attributes():
    problems = []
    templates = [path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html")]
    assert templates
    for path in templates:
        for tag in TAG.findall(path.read_text()):
            if re.match(r"<script\b", tag, re.I) and not re.search(r"\ssrc=", tag, re.I):
                problems.append(f"{path}: inline script {tag}")
            if re.search(r"\s(on[a-z]+|hx-on\S*)\s*=", tag, re.I):
                problems.append(f"{path}: event handler attribute in {tag}")
    assert problems == []
