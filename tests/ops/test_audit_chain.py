"""The audit trail is tamper-evident: a hash chain that verify_audit checks, and on PostgreSQL a
trigger that refuses UPDATE, DELETE and TRUNCATE of the table."""

from __future__ import annotations

import importlib
import io
import json
import logging
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

from reviews.audit import GENESIS, audit_hash, audit_record, event_hash
from reviews.ingest.sources import source_create, source_revoke
from reviews.models import AuditAction, AuditEvent, Source

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


def _rewrite_whole_chain(events: list[AuditEvent], forged_index: int) -> None:
    """What the table's owner could do: switch the guard off, change an event and recompute every hash after
    it, so the chain itself verifies again. Only a head hash kept elsewhere shows it."""
    if connection.vendor == "postgresql":
        _switch_guard("DISABLE", "auditevent_no_update_delete")
    prev = events[forged_index].prev_hash
    for i, event in enumerate(events[forged_index:], start=forged_index):
        data = {"prefix": "forged"} if i == forged_index else event.data
        fresh = audit_hash(
            prev_hash=prev,
            actor_id=event.actor_id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            data=data,
            created_at=event.created_at,
        )
        _sql(
            "UPDATE reviews_auditevent SET data = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(data), prev, fresh, event.pk],
        )
        prev = fresh


def _verify(*args: str) -> str:
    """`manage.py verify_audit ARGS` in this test's transaction; a failure raises CommandError (exit status 1)."""
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_verify_audit_prints_the_head_hash_with_the_event_count(admin_user):
    events = _three_events(admin_user)
    total = AuditEvent.objects.count()  # the three, after the migrations' own

    out = _verify()

    assert f"{total} events, chain intact, head {events[-1].hash} (event {events[-1].pk})" in out


@pytest.mark.django_db
def test_verify_audit_expect_accepts_the_head_it_printed(admin_user):
    events = _three_events(admin_user)

    assert "head matches the expected hash" in _verify("--expect", events[-1].hash)


@pytest.mark.django_db
def test_verify_audit_expect_fails_when_the_head_differs(admin_user):
    events = _three_events(admin_user)
    kept = events[-1].hash
    newest = audit_record(actor=None, action=AuditAction.EXPORT, target=events[0], kind="eval")

    with pytest.raises(CommandError) as failed:
        _verify("--expect", kept)

    assert f"head is {newest.hash}, not the expected {kept}" in str(failed.value)
    # Appended since: the operator can tell this from a rewrite.
    assert "still in the chain, 1 event(s) after it" in str(failed.value)


@pytest.mark.django_db
def test_verify_audit_expect_catches_a_chain_rewritten_with_fresh_hashes(admin_user):
    events = _three_events(admin_user)
    kept = events[-1].hash
    _rewrite_whole_chain(events, forged_index=1)

    plain = _verify()  # the rewritten chain is consistent in itself...
    with pytest.raises(CommandError) as failed:  # ...but the head the operator kept is gone
        _verify("--expect", kept)

    assert f"{AuditEvent.objects.count()} events, chain intact" in plain
    assert f"not the expected {kept}" in str(failed.value) and "is not in the chain" in str(failed.value)


@pytest.mark.django_db
def test_verify_audit_expect_exits_non_zero_and_rejects_what_is_not_a_hash(admin_user, capsys):
    _three_events(admin_user)

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "verify_audit", "--expect", "abc"])

    assert exited.value.code == 1 and "64 hexadecimal" in capsys.readouterr().err


@pytest.mark.django_db
def test_the_audit_beat_logs_the_event_count_and_head(admin_user, caplog):
    from reviews.tasks import audit_head

    events = _three_events(admin_user)
    total = AuditEvent.objects.count()

    with caplog.at_level(logging.INFO, logger="reviews.audit"):
        audit_head.apply().get()

    assert f"audit trail: {total} events, head {events[-1].hash} (event {events[-1].pk})" in caplog.text


def test_beat_runs_the_audit_head_task(settings):
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "reviews.audit_head"]
    assert len(entries) == 1 and entries[0]["schedule"] <= 300
