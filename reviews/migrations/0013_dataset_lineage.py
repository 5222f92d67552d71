"""Snapshot lineage packed per chunk (DatasetLineage) instead of one M2M row per decision."""

import sys
from array import array
from collections import defaultdict

import django.db.models.deletion
from django.db import migrations, models


def _pack(ids):
    packed = array("q", sorted(ids))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def m2m_to_lineage(apps, schema_editor):
    """Each snapshot's linked decisions become one lineage row spanning their conversations."""
    Dataset = apps.get_model("reviews", "Dataset")
    DatasetLineage = apps.get_model("reviews", "DatasetLineage")
    links = Dataset.decisions.through.objects.values_list(
        "dataset_id", "decision_id", "decision__item__conversation_id"
    )
    by_dataset = defaultdict(list)
    for dataset_id, decision_id, conversation_id in links.iterator():
        by_dataset[dataset_id].append((decision_id, conversation_id))
    for dataset_id, pairs in by_dataset.items():
        conversations = [c for _, c in pairs]
        DatasetLineage.objects.create(
            dataset_id=dataset_id,
            first_conversation_id=min(conversations),
            last_conversation_id=max(conversations),
            decision_ids=_pack(d for d, _ in pairs),
        )


def lineage_to_m2m(apps, schema_editor):
    Dataset = apps.get_model("reviews", "Dataset")
    DatasetLineage = apps.get_model("reviews", "DatasetLineage")
    through = Dataset.decisions.through
    for row in DatasetLineage.objects.iterator():
        ids = array("q")
        ids.frombytes(bytes(row.decision_ids))
        if sys.byteorder == "big":
            ids.byteswap()
        through.objects.bulk_create(
            [through(dataset_id=row.dataset_id, decision_id=d) for d in ids], ignore_conflicts=True
        )


class Migration(migrations.Migration):
    dependencies = [("reviews", "0012_audit_chain")]

    operations = [
        migrations.CreateModel(
            name="DatasetLineage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("first_conversation_id", models.BigIntegerField()),
                ("last_conversation_id", models.BigIntegerField()),
                ("decision_ids", models.BinaryField(help_text="Ascending int64, little-endian.")),
                (
                    "dataset",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="lineage", to="reviews.dataset"
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["last_conversation_id", "first_conversation_id"], name="lineage_range")
                ],
            },
        ),
        migrations.RunPython(m2m_to_lineage, lineage_to_m2m),
        migrations.RemoveField(model_name="dataset", name="decisions"),
    ]
