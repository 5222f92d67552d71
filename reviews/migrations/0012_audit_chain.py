"""The audit trail becomes tamper-evident: a hash chain over every event, and on PostgreSQL a
trigger that refuses UPDATE, DELETE and TRUNCATE of reviews_auditevent.

The actor moves from SET_NULL to PROTECT: deleting a user would otherwise rewrite their events.
"""

from typing import Any

from django.conf import settings
from django.db import migrations, models
from django.db.models.deletion import PROTECT

GUARD_FUNCTION = "reviews_auditevent_append_only"
ROW_TRIGGER = "auditevent_no_update_delete"
TRUNCATE_TRIGGER = "auditevent_no_truncate"

CREATE_GUARD = f"""
CREATE OR REPLACE FUNCTION {GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reviews_auditevent is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON reviews_auditevent
    FOR EACH ROW EXECUTE FUNCTION {GUARD_FUNCTION}();
CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON reviews_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}();
"""

DROP_GUARD = f"""
DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON reviews_auditevent;
DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON reviews_auditevent;
DROP FUNCTION IF EXISTS {GUARD_FUNCTION}();
"""


def chain_existing_events(apps: Any, schema_editor: Any) -> None:
    """Link the events already stored, oldest first, exactly as audit_record links new ones."""
    from reviews.audit import GENESIS, event_hash

    if schema_editor.connection.vendor == "postgresql":
        # Check foreign keys now, so no trigger events are pending when the constraint is added below.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    AuditEvent = apps.get_model("reviews", "AuditEvent")
    prev_hash = GENESIS
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=2000):
        digest = event_hash(event, prev_hash=prev_hash)
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=prev_hash, hash=digest)
        prev_hash = digest


def create_guard(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_GUARD, params=None)


def drop_guard(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_GUARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0011_analytics")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(blank=True, null=True, on_delete=PROTECT, to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", editable=False, help_text="The previous event's hash.", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(
                default="", editable=False, help_text="SHA-256 of this event and prev_hash.", max_length=64
            ),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("prev_hash",), name="audit_chain_is_linear"),
        ),
        migrations.RunPython(create_guard, drop_guard),
    ]
