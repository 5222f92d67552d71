# Bulk verdicts applied by a task in batches (issue #18): status, the items, progress, hard-limit members left open.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0028_audit_actions"),
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
    ]
