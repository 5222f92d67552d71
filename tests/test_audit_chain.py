"""The audit trail is tamper-evident: a hash chain that verify_audit checks, and on PostgreSQL a
trigger that refuses UPDATE, DELETE and TRUNCATE of the table."""

from __future__ import annotations

import importlib
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import ProtectedError

from reviews.models import AuditAction, AuditEvent, Source
from reviews.services.audit import GENESIS, audit_hash, audit_record, event_hash
from reviews.services.sources import source_create, source_revoke

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


def _sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _switch_guard(how: str, trigger: str) -> None:
    # ALTER TABLE waits for nothing pending: check this transaction's deferred foreign keys first.
    _sql("SET CONSTRAINTS ALL IMMEDIATE")
    _sql(f"ALTER TABLE reviews_auditevent {how} TRIGGER {trigger}")


def _tamper(statement: str, params: list[Any] | None = None) -> None:
    """What a superuser can still do: switch the guard off (inside this test's transaction) and write."""
    if connection.vendor == "postgresql":
        _switch_guard("DISABLE", "auditevent_no_update_delete")
    _sql(statement, params)


def _three_events(admin_user: Any) -> list[AuditEvent]:
    """Three events chained after those the migrations wrote (0017 records its policy change)."""
    seeded = AuditEvent.objects.count()
    issued = source_create(name="guardrail", kind="input_guardrail", actor=admin_user)
    source_revoke(source=issued.source, actor=admin_user)
    audit_record(actor=None, action=AuditAction.EXPORT, target=issued.source, kind="eval", ratio=0.1, big=1e20)
    return list(AuditEvent.objects.order_by("pk"))[seeded:]


def _chain() -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("pk"))


def _verify_exit(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `manage.py verify_audit` as the command line does (in-process, to see this test's data)."""
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "verify_audit"])
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.django_db
def test_each_event_carries_its_hash_and_the_previous_events_hash(admin_user):
    events = _three_events(admin_user)

    assert [e.action for e in events] == ["token_issued", "token_revoked", "export"]
    chain = _chain()
    assert events[0].prev_hash == (chain[-4].hash if len(chain) > 3 else GENESIS)
    assert chain[0].prev_hash == GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    for event in events:
        assert event.hash == event_hash(event)
    assert events[0].actor == admin_user and events[2].data == {"kind": "eval", "ratio": 0.1, "big": 1e20}


@pytest.mark.django_db
def test_verify_audit_reports_an_intact_chain(admin_user, capsys):
    _three_events(admin_user)

    call_command("verify_audit")

    assert f"{len(_chain())} events, chain intact" in capsys.readouterr().out


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE reviews_auditevent SET data = '{}'",
        "UPDATE reviews_auditevent SET actor_id = NULL",
        "DELETE FROM reviews_auditevent",
    ],
)
def test_update_or_delete_of_audit_events_fails_in_postgresql(admin_user, statement):
    _three_events(admin_user)

    before = AuditEvent.objects.count()

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _sql(statement)

    assert AuditEvent.objects.count() == before


@postgres_only
@pytest.mark.django_db
def test_orm_update_and_delete_of_audit_events_fail_in_postgresql(admin_user):
    _three_events(admin_user)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(action="export").update(target_id="0")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(action="export").delete()


@postgres_only
@pytest.mark.django_db
def test_truncate_of_audit_events_fails_in_postgresql(admin_user):
    _three_events(admin_user)
    # conftest switches this guard off in the test database so transactional tests can flush; back on here.
    _switch_guard("ENABLE", "auditevent_no_truncate")
    before = AuditEvent.objects.count()

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _sql("TRUNCATE reviews_auditevent")

    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_verify_audit_names_an_event_whose_data_was_changed(admin_user, capsys):
    events = _three_events(admin_user)
    _tamper("UPDATE reviews_auditevent SET data = %s WHERE id = %s", ['{"prefix": "forged"}', events[1].pk])

    code, err = _verify_exit(capsys)

    assert code == 1
    assert f"broken at event {events[1].pk}" in err and "changed after it was written" in err


@pytest.mark.django_db
def test_verify_audit_names_the_event_after_a_removed_one(admin_user, capsys):
    events = _three_events(admin_user)
    _tamper("DELETE FROM reviews_auditevent WHERE id = %s", [events[1].pk])

    code, err = _verify_exit(capsys)

    assert code == 1
    assert f"broken at event {events[2].pk}" in err and f"does not link to event {events[0].pk}" in err


@pytest.mark.django_db
def test_rewriting_an_event_with_a_fresh_hash_still_breaks_the_next_link(admin_user):
    events = _three_events(admin_user)
    forged = {"prefix": "forged"}
    forged_hash = audit_hash(
        prev_hash=events[1].prev_hash,
        actor_id=events[1].actor_id,
        action=events[1].action,
        target_type=events[1].target_type,
        target_id=events[1].target_id,
        data=forged,
        created_at=events[1].created_at,
    )
    _tamper(
        "UPDATE reviews_auditevent SET data = %s, hash = %s WHERE id = %s",
        ['{"prefix": "forged"}', forged_hash, events[1].pk],
    )

    with pytest.raises(CommandError, match=f"broken at event {events[2].pk}"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_migration_chains_existing_events_exactly_as_new_ones_are_chained(admin_user):
    _three_events(admin_user)
    events = _chain()
    _tamper("UPDATE reviews_auditevent SET prev_hash = 'unchained-' || id, hash = ''")
    migration = importlib.import_module("reviews.migrations.0012_audit_chain")

    migration.chain_existing_events(apps, SimpleNamespace(connection=connection, execute=_sql))

    rechained = list(AuditEvent.objects.order_by("pk").values_list("prev_hash", "hash"))
    assert rechained == [(e.prev_hash, e.hash) for e in events]


@pytest.mark.django_db
def test_a_user_who_acted_cannot_be_deleted_but_one_who_did_not_can(admin_user, outsider):
    _three_events(admin_user)

    with pytest.raises(ProtectedError, match=r"AuditEvent\.actor"):
        admin_user.delete()
    outsider.delete()

    assert AuditEvent.objects.filter(actor=admin_user).count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="threads need a database server, not in-memory SQLite")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_appends_from_two_threads_keep_one_linear_chain():
    source = Source.objects.create(name="concurrent", kind="sampler")
    start, errors, per_thread = threading.Barrier(2), [], 15

    def append(name: str) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with transaction.atomic():
                    audit_record(actor=None, action=AuditAction.DOWNLOAD, target=source, thread=name, i=i)
                    time.sleep(0.003)  # hold the chain's tail while the other thread tries to append
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    appended = list(AuditEvent.objects.filter(action=AuditAction.DOWNLOAD))
    assert len(appended) == 2 * per_thread
    assert {e.data["thread"] for e in appended} == {"a", "b"}
    events = _chain()  # with any the migrations wrote before them
    assert [e.prev_hash for e in events] == [GENESIS] + [e.hash for e in events[:-1]]
    call_command("verify_audit")
