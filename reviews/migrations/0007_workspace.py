from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0006_seed_default_policy"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("decision", "Decision"),
                    ("decision_edit", "Decision edited"),
                    ("escalation", "Escalation"),
                    ("escalation_resolved", "Escalation resolved"),
                    ("reveal", "Blurred content revealed"),
                    ("skip", "Item skipped"),
                    ("policy_change", "Policy change"),
                    ("token_issued", "Token issued"),
                    ("token_revoked", "Token revoked"),
                    ("export", "Dataset export"),
                    ("download", "Dataset download"),
                    ("model_promoted", "Scoring model promoted"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddField(
            model_name="queue",
            name="hard_limit_daily_cap",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Hard-limit items a reviewer may decide per day before this queue gives them only other items.",
                null=True,
            ),
        ),
    ]
