"""Source tokens: printed once, stored only as a hash, revocable from the command line and the admin."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from reviews.ingest.sources import source_authenticate
from reviews.models import AuditEvent, Source

pytestmark = pytest.mark.django_db


def _create(name: str = "cot", kind: str = "cot_monitor") -> str:
    out = StringIO()
    call_command("create_source", name, "--kind", kind, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_create_source_prints_a_working_token_on_its_last_line():
    token = _create()

    source = source_authenticate(token=token)
    assert source is not None and source.name == "cot" and source.kind == "cot_monitor"


def test_only_a_hash_of_the_token_is_stored():
    token = _create()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM reviews_source")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert token not in stored
    assert token[4:] not in stored


def test_create_source_refuses_an_unknown_kind_and_a_taken_name():
    _create("dup")
    with pytest.raises(CommandError):
        call_command("create_source", "dup", "--kind", "red_team", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("create_source", "new", "--kind", "oracle", stdout=StringIO(), stderr=StringIO())
    assert Source.objects.count() == 1


def test_revoke_source_stops_its_token_and_is_audited():
    token = _create()

    call_command("revoke_source", "cot", stdout=StringIO())

    assert source_authenticate(token=token) is None
    ours = AuditEvent.objects.exclude(action="policy_change")  # migration 0017 records its policy change
    assert list(ours.values_list("action", flat=True).order_by("pk")) == ["token_issued", "token_revoked"]


def test_revoke_unknown_source_is_an_error():
    with pytest.raises(CommandError, match="No source named"):
        call_command("revoke_source", "ghost", stdout=StringIO())


def test_admin_shows_a_new_sources_token_once(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)

    response = client.post(
        "/admin/reviews/source/add/", {"name": "reports", "kind": "user_report", "description": ""}, follow=True
    )

    assert not [str(m) for m in response.context["messages"]]  # not in a cookie or the session: in the page
    [token] = re.findall(r"<code>([^<]+)</code>", response.content.decode())
    assert source_authenticate(token=token).name == "reports"
    assert token not in client.get("/admin/reviews/source/").content.decode()


def test_admin_revoke_action(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    token = _create("det")

    client.post(
        "/admin/reviews/source/",
        {"action": "revoke_token", "_selected_action": [Source.objects.get(name="det").pk]},
    )

    assert source_authenticate(token=token) is None
