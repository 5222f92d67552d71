"""Search sorted by risk walks `item_risk` highest first, as newest first walks `item_created`
(reviews/workspace/search.py): a broad filter stops at its first page instead of sorting every item."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0028_audit_actions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="reviewitem",
            index=models.Index(fields=["risk", "id"], name="item_risk"),
        ),
    ]
