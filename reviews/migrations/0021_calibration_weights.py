"""Calibration rollups carry the weights of harmful sampled conversations (recall weighted by inverse sampling
rate). Additive: rows written before weigh 1 each (what the unweighted recall assumed) until the next rollup
rewrites their span."""

from typing import Any

from django.db import migrations, models
from django.db.models import F


def weigh_one(apps: Any, schema_editor: Any) -> None:
    rollup = apps.get_model("reviews", "CalibrationRollup")
    rollup.objects.update(harmful_weight=F("harmful"), harmful_weight_sq=F("harmful"))


class Migration(migrations.Migration):
    dependencies = [("reviews", "0015_reviewitem_adjudicates")]

    operations = [
        migrations.AddField(model_name="calibrationrollup", name="harmful_weight", field=models.FloatField(default=0)),
        migrations.AddField(
            model_name="calibrationrollup", name="harmful_weight_sq", field=models.FloatField(default=0)
        ),
        migrations.RunPython(weigh_one, migrations.RunPython.noop),
    ]
