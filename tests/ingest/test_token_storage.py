"""API tokens exist only in the response that issues them: nothing in the database holds one, in any table.

Tokens are issued every way the product issues them (command line, the sources page, its rotate button, the
Django admin's add form and "Issue a new token" action), used, and then every text, JSON and binary column
of every table is searched for them, sessions decoded, the audit trail and django-axes' tables included.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from reviews.ingest.sources import TOKEN_PREFIX
from reviews.models import Source

pytestmark = pytest.mark.django_db

TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


def _columns() -> list[tuple[str, str, bool]]:
    """(table, column, is binary) for every text, JSON and binary column of every table."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT table_name, column_name, data_type = 'bytea' FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND data_type IN"
                " ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')"
            )
            return list(cursor.fetchall())
        found = []
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                kind = column.type_code.lower()
                if any(word in kind for word in ("char", "text", "json", "blob")):
                    found.append((table, column.name, "blob" in kind))
        return found


def _tables_holding(secret: str) -> list[str]:
    quote = connection.ops.quote_name
    position = "strpos({}::text, %s)" if connection.vendor == "postgresql" else "instr(CAST({} AS TEXT), %s)"
    binary = "position(%s::bytea in {})" if connection.vendor == "postgresql" else "instr({}, %s)"
    holding = []
    with connection.cursor() as cursor:
        for table, column, is_binary in _columns():
            test = (binary if is_binary else position).format(quote(column))
            needle: Any = secret.encode() if is_binary else secret
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)} WHERE {test} > 0", [needle])  # noqa: S608
            if cursor.fetchone()[0]:
                holding.append(f"{table}.{column}")
    holding += [f"session {s.pk}" for s in Session.objects.all() if secret in str(s.get_decoded())]
    return holding


def _admin(admin_user) -> Client:
    """A superuser (the Django admin's source pages need model permissions) signed in through the login form,
    as a person would, so django-axes records the login too."""
    client = Client()
    admin_user.is_superuser = True
    admin_user.set_password("a-long-admin-password")
    admin_user.save()
    response = client.post(reverse("login"), {"username": admin_user.username, "password": "a-long-admin-password"})
    assert response.status_code == 302
    return client


def _token_in(html: str) -> str:
    found = TOKEN.findall(html)
    assert len(found) == 1, found
    return found[0]


def _issue_every_way(client: Client) -> list[str]:
    out = StringIO()
    call_command("create_source", "guardrail", "--kind", "input_guardrail", stdout=out)
    tokens = [out.getvalue().strip().splitlines()[-1]]

    page = client.post(reverse("reviews:sources"), {"name": "ml-platform", "kind": "ml_export", "description": ""})
    tokens.append(_token_in(page.content.decode()))
    exporter = Source.objects.get(name="ml-platform")
    tokens.append(_token_in(client.post(reverse("reviews:source-rotate", args=[exporter.pk])).content.decode()))

    added = client.post(
        reverse("admin:reviews_source_add"), {"name": "cot", "kind": "cot_monitor", "description": ""}, follow=True
    )
    tokens.append(_token_in(added.content.decode()))
    cot = Source.objects.get(name="cot")
    issued = client.post(
        reverse("admin:reviews_source_changelist"),
        {"action": "issue_token", "_selected_action": [cot.pk]},
        follow=True,
    )
    tokens.append(_token_in(issued.content.decode()))
    return tokens


def _use(ingest: str, export: str, make_conversation) -> None:
    api = {"HTTP_AUTHORIZATION": f"Bearer {ingest}"}
    body = {"conversations": [make_conversation("stored-1", metadata={"note": "token test"})]}
    response = Client().post(reverse("api:ingest_conversations"), body, content_type="application/json", **api)
    assert response.status_code == 202
    assert Client().get(f"/api/v1/conversations/{response.json()['ids'][0]}", **api).status_code == 200
    exported = Client().post(
        "/api/v1/datasets", {"kind": "eval"}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {export}"
    )
    assert exported.status_code == 202


def test_no_table_holds_an_issued_token(admin_user, make_conversation):
    tokens = _issue_every_way(_admin(admin_user))
    _use(tokens[0], tokens[2], make_conversation)

    assert len(set(tokens)) == 5
    for token in tokens:
        secret = token.removeprefix(TOKEN_PREFIX)
        assert _tables_holding(secret) == [], f"a token issued here is stored: {token[:8]}…"


def test_the_scan_would_find_a_token_stored_in_plain_text(admin_user):
    """The scan itself reaches JSON, text and session data: a token put there on purpose is found."""
    token = TOKEN_PREFIX + "x" * 43
    Source.objects.create(name="leaky", kind="sampler", description=f"token {token}")
    client = Client()
    client.force_login(admin_user)
    session = client.session
    session["oops"] = token
    session.save()

    assert _tables_holding(token.removeprefix(TOKEN_PREFIX)) == [
        "reviews_source.description",
        f"session {session.session_key}",
    ]


def test_what_the_pages_show_of_a_token_does_not_authenticate(source_token):
    source, token = source_token
    stored = Source.objects.get(pk=source.pk)

    for attempt in (
        stored.token_prefix,
        stored.token_hash,
        stored.token_prefix + token[len(stored.token_prefix) :][::-1],
    ):
        response = Client().get("/api/v1/conversations/1", HTTP_AUTHORIZATION=f"Bearer {attempt}")
        assert response.status_code == 401, attempt
    assert Client().get("/api/v1/conversations/1", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404


def test_issuing_many_tokens_at_once_in_the_admin_stores_none_in_the_session(admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    selected = [Source.objects.create(name=f"sampler-{n}", kind="sampler").pk for n in range(45)]

    response = client.post(
        reverse("admin:reviews_source_changelist"), {"action": "issue_token", "_selected_action": selected}
    )

    assert response.status_code == 200 and len(TOKEN.findall(response.content.decode())) == 45
    assert not [c for c in response.cookies.values() if TOKEN.search(c.value)]
    sessions = [str(s.get_decoded()) for s in Session.objects.all()]
    assert not [s for s in sessions if TOKEN.search(s)]
