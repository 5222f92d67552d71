"""The adjudication item points at the item whose reviewers disagreed, instead of being found by its routed_by
text. Additive: a nullable foreign key, filled for existing adjudication items from that text."""

import re

import django.db.models.deletion
from django.db import migrations, models

DISAGREED = re.compile(r"^reviewers disagreed on item (\d+)$")


def link_adjudications(apps, schema_editor):
    ReviewItem = apps.get_model("reviews", "ReviewItem")
    pending = ReviewItem.objects.filter(
        queue__kind="adjudication", routed_by__startswith="reviewers disagreed on item "
    )
    for item_id, routed_by in pending.values_list("pk", "routed_by").iterator():
        match = DISAGREED.match(routed_by)
        if match and ReviewItem.objects.filter(pk=int(match.group(1))).exists():
            ReviewItem.objects.filter(pk=item_id).update(adjudicates_id=int(match.group(1)))


class Migration(migrations.Migration):
    dependencies = [("reviews", "0014_lineage_fast_compression")]

    operations = [
        migrations.AddField(
            model_name="reviewitem",
            name="adjudicates",
            field=models.ForeignKey(
                blank=True,
                help_text="For an adjudication item: the item whose reviewers disagreed.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="adjudications",
                to="reviews.reviewitem",
            ),
        ),
        migrations.RunPython(link_adjudications, migrations.RunPython.noop),
    ]
