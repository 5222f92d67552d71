"""The deployment's database roles: web and workers connect as a role that owns no tables, so it can neither
rewrite the audit trail nor switch off the trigger that guards it; migrations run as the owner.

`manage.py db_app_role ROLE` (run by compose's one-shot migrate service after `migrate`) creates or updates
that role and grants it what the product needs. Here it runs in the test's transaction (roles are
transactional in PostgreSQL), and the test then acts as that role with SET ROLE.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from reviews.audit import audit_record
from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.models import AuditAction, AuditEvent, Conversation, Source

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles and grants are PostgreSQL's"),
    pytest.mark.django_db,
]


def _sql(statement: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def app_role(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"oversight_app_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TEST_APP_DATABASE_PASSWORD", "app-secret")
    call_command("db_app_role", name, "--password-env", "TEST_APP_DATABASE_PASSWORD")
    yield name
    _sql("RESET ROLE")


def _refused(statement: str, params: list[object] | None = None) -> str:
    """Run one statement in a savepoint; the database's refusal, or "" if it ran."""
    try:
        with transaction.atomic():
            _sql(statement, params)
    except DatabaseError as exc:
        return str(exc)
    return ""


@pytest.fixture
def one_event(db: None) -> AuditEvent:
    source = Source.objects.create(name="guardrail", kind="input_guardrail")
    return audit_record(actor=None, action=AuditAction.TOKEN_ISSUED, target=source)


def test_the_app_role_cannot_update_delete_or_truncate_the_audit_trail(app_role, one_event):
    _sql(f'SET ROLE "{app_role}"')

    update = _refused("UPDATE reviews_auditevent SET data = '{}' WHERE id = %s", [one_event.pk])
    delete = _refused("DELETE FROM reviews_auditevent WHERE id = %s", [one_event.pk])
    truncate = _refused("TRUNCATE reviews_auditevent")

    assert "permission denied" in update
    assert "permission denied" in delete
    assert "permission denied" in truncate


def test_the_app_role_cannot_disable_the_audit_trigger_or_change_the_table(app_role, one_event):
    _sql(f'SET ROLE "{app_role}"')

    disable = _refused("ALTER TABLE reviews_auditevent DISABLE TRIGGER auditevent_no_update_delete")
    disable_all = _refused("ALTER TABLE reviews_auditevent DISABLE TRIGGER ALL")
    drop = _refused("DROP TRIGGER auditevent_no_update_delete ON reviews_auditevent")
    replace = _refused(
        "CREATE OR REPLACE FUNCTION reviews_auditevent_append_only() RETURNS trigger "
        "AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql"
    )

    assert "must be owner" in disable and "must be owner" in disable_all and "must be owner" in drop
    assert "must be owner" in replace or "permission denied" in replace


def test_the_app_role_owns_nothing_and_is_no_superuser(app_role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s", [app_role]
        )
        assert cursor.fetchone() == (False, False, False, False)
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tableowner = %s", [app_role])
        assert cursor.fetchone() == (0,)


def test_the_app_role_can_do_what_the_product_does(app_role, make_conversation):
    """Ingest (COPY and sequence ids), audit appends (advisory lock, insert) and ordinary reads and updates."""
    source = Source.objects.create(name="guardrail", kind="input_guardrail")
    _sql(f'SET ROLE "{app_role}"')

    result = conversations_ingest(
        source=source, conversations=[ConversationIn.model_validate(make_conversation(f"c-{i}")) for i in range(3)]
    )
    event = audit_record(actor=None, action=AuditAction.EXPORT, target=source, kind="eval")
    Conversation.objects.filter(pk__in=result.new_ids).update(model_name="renamed")

    assert result.accepted == 3
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert set(Conversation.objects.values_list("model_name", flat=True)) == {"renamed"}


def test_rerunning_the_command_is_safe_and_a_missing_role_needs_a_password(app_role, monkeypatch):
    call_command("db_app_role", app_role, "--password-env", "TEST_APP_DATABASE_PASSWORD")
    call_command("db_app_role", app_role)  # grants again, keeps the password

    with pytest.raises(CommandError, match="does not exist"):
        call_command("db_app_role", "oversight_app_missing")
    with pytest.raises(CommandError, match="not a plain role name"):
        call_command("db_app_role", 'x"; DROP TABLE reviews_auditevent; --')
