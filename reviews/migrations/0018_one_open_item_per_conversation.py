"""One open item per conversation, and priority kept from its parts.

Before the partial unique index is created, today's twins (a conversation open in two queues, which re-routing
after a model promotion produced) are closed: per conversation the item to keep is the one with decisions, else
one a reviewer holds, else the seniors' (escalation, then adjudication), else the highest priority, else the
oldest. The others become `superseded`, closed now, unclaimed, with `superseded_by` naming the kept item.

Open items get the parts their priority is recomputed from (reviews/routing/priority.py): the escalation and
adjudication boosts from how they were made (their `routed_by`), the base as their priority less those boosts
and a breach's, and an age step due now, so the SLA sweep applies the age term in its next runs. Items made by
hand (no policy version) keep an empty base and their priority.
"""

import django.db.models.deletion
from django import db
from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, F
from django.utils import timezone

SENIOR_RANK = {"escalation": 2, "adjudication": 1}
BREACH_BOOST, ESCALATION_BOOST, ADJUDICATION_BOOST = 10.0, 5.0, 5.0  # as in reviews/routing/priority.py
CHUNK = 1_000


def close_twins(apps, schema_editor):
    ReviewItem = apps.get_model("reviews", "ReviewItem")
    connection = schema_editor.connection if schema_editor is not None else db.connection
    now = timezone.now()
    twins = list(
        ReviewItem.objects.filter(status="open")
        .values("conversation_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("conversation_id", flat=True)
    )
    for start in range(0, len(twins), CHUNK):
        items = (
            ReviewItem.objects.filter(conversation_id__in=twins[start : start + CHUNK], status="open")
            .annotate(decided=Count("decisions"))
            .select_related("queue")
        )
        by_conversation = {}
        for item in items:
            by_conversation.setdefault(item.conversation_id, []).append(item)
        for group in by_conversation.values():
            keep = max(group, key=lambda i: _worth_keeping(i, now))
            closed = [i.pk for i in group if i.pk != keep.pk]
            ReviewItem.objects.filter(pk__in=closed).update(
                status="superseded", closed_at=now, superseded_by=keep.pk, claimed_by=None, lease_expires_at=None
            )
    if connection.vendor == "postgresql":  # check the new foreign keys now: the index below needs no pending events
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _worth_keeping(item, now):
    held = item.claimed_by_id is not None and item.lease_expires_at is not None and item.lease_expires_at > now
    return (item.decided, held, item.claimed_by_id is not None, SENIOR_RANK.get(item.queue.kind, 0),
            item.priority, -item.created_at.timestamp(), -item.pk)  # fmt: skip


def priority_parts(apps, schema_editor):
    ReviewItem = apps.get_model("reviews", "ReviewItem")
    routed = ReviewItem.objects.filter(status="open", priority_base__isnull=True, policy_version__isnull=False)
    routed.filter(routed_by__startswith="reviewers disagreed").update(
        adjudication_boost=True, priority_base=F("priority") - ADJUDICATION_BOOST
    )
    routed.filter(routed_by__startswith="escalated by").update(
        escalation_boost=True, priority_base=F("priority") - ESCALATION_BOOST
    )
    # The sweep's escalations took the breached item's priority, breach boost included, and no escalation boost.
    routed.filter(routed_by__startswith="SLA breached").update(
        escalation_boost=True, priority_base=F("priority") - BREACH_BOOST
    )
    routed.filter(sla_breached_at__isnull=False).update(priority_base=F("priority") - BREACH_BOOST)
    routed.update(priority_base=F("priority"))
    ReviewItem.objects.filter(status="open", priority_base__isnull=False).update(age_step_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0015_reviewitem_adjudicates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewitem",
            name="adjudication_boost",
            field=models.BooleanField(db_default=False, default=False, help_text="Reviewers disagreed."),
        ),
        migrations.AddField(
            model_name="reviewitem",
            name="age_step_at",
            field=models.DateTimeField(blank=True, help_text="When the age term next grows (SLA sweep).", null=True),
        ),
        migrations.AddField(
            model_name="reviewitem",
            name="escalation_boost",
            field=models.BooleanField(
                db_default=False, default=False, help_text="Escalated here by a person or the SLA sweep."
            ),
        ),
        migrations.AddField(
            model_name="reviewitem",
            name="priority_base",
            field=models.FloatField(
                blank=True,
                help_text="The routing policy's part (risk, severity, rule boost); empty: set by hand.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="reviewitem",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The item of the same conversation that took over when this one was closed as superseded.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="superseded",
                to="reviews.reviewitem",
            ),
        ),
        migrations.AlterField(
            model_name="reviewitem",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Open"),
                    ("escalated", "Escalated"),
                    ("done", "Done"),
                    ("dropped", "Dropped below threshold"),
                    ("superseded", "Closed: another item of the conversation took over"),
                ],
                default="open",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="reviewitem",
            index=models.Index(
                condition=models.Q(("age_step_at__isnull", False), ("status", "open")),
                fields=["age_step_at"],
                name="item_age_step",
            ),
        ),
        migrations.RunPython(close_twins, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(priority_parts, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="reviewitem",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "open")), fields=("conversation",), name="one_open_item_per_conversation"
            ),
        ),
    ]
