# Bulk verdicts applied by a task in batches, and gold copies standing in for a real slot in open counts (issue #18).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0029_search_speed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkverdict",
            name="capped_count",
            field=models.PositiveIntegerField(
                default=0, help_text="Hard-limit members left open: past the queue's daily cap for whoever applied it."
            ),
        ),
        migrations.AddField(
            model_name="bulkverdict",
            name="item_ids",
            field=models.JSONField(blank=True, default=list, help_text="The open members it was applied to."),
        ),
        migrations.AddField(
            model_name="bulkverdict",
            name="progress",
            field=models.PositiveIntegerField(default=0, help_text="How many of `item_ids` were gone through."),
        ),
        migrations.AddField(
            model_name="bulkverdict",
            name="status",
            field=models.CharField(
                choices=[("applying", "Applying"), ("applied", "Applied")], default="applied", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="goldpresentation",
            name="slot",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="gold_slots",
                to="reviews.reviewitem",
            ),
        ),
        migrations.AddIndex(
            model_name="goldpresentation",
            index=models.Index(
                condition=models.Q(("slot__isnull", False)), fields=["created_at"], name="gold_slot_recent"
            ),
        ),
    ]
