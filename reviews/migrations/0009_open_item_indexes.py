"""Partial indexes on open items for the queues page: oldest open item, capped counts, due-soon and breached."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0008_datasets"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="reviewitem",
            index=models.Index(
                models.F("queue"), models.F("created_at"), condition=models.Q(status="open"), name="item_open_by_age"
            ),
        ),
        migrations.AddIndex(
            model_name="reviewitem",
            index=models.Index(
                models.F("queue"), models.F("due_at"), condition=models.Q(status="open"), name="item_open_by_due"
            ),
        ),
    ]
