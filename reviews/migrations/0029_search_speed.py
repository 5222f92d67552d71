"""Search sorted by risk walks `item_risk` highest first, as newest first walks `item_created`
(reviews/workspace/search.py): a broad filter stops at its first page instead of sorting every item. And two audit
actions: a claimed item returned to its queue by an undo, mentions marked read."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0028_audit_actions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("decision", "Decision"),
                    ("decision_edit", "Decision edited"),
                    ("decision_undo", "Decision undone"),
                    ("escalation", "Escalation"),
                    ("escalation_resolved", "Escalation resolved"),
                    ("reveal", "Blurred content revealed"),
                    ("skip", "Item skipped"),
                    ("claim_return", "Claimed item returned to its queue"),
                    ("policy_change", "Policy change"),
                    ("token_issued", "Token issued"),
                    ("token_revoked", "Token revoked"),
                    ("export", "Dataset export"),
                    ("download", "Dataset download"),
                    ("model_promoted", "Scoring model promoted"),
                    ("model_training_requested", "Scoring model training requested"),
                    ("bulk_verdict", "Verdict applied to a campaign"),
                    ("bulk_verdict_reverted", "Campaign verdict reverted"),
                    ("comment", "Comment"),
                    ("comment_edit", "Comment edited"),
                    ("tag_add", "Tag added"),
                    ("tag_remove", "Tag removed"),
                    ("filter_save", "Search filter saved"),
                    ("filter_delete", "Search filter deleted"),
                    ("mentions_read", "Mentions marked read"),
                    ("gold_marked", "Item marked as gold"),
                    ("gold_retired", "Gold item retired"),
                    ("qa_sampled", "Decision sampled for QA"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddIndex(
            model_name="reviewitem",
            index=models.Index(fields=["risk", "id"], name="item_risk"),
        ),
    ]
