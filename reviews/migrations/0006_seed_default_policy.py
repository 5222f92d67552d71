"""Seed routing policy version 1 (active) and a draft to edit, from the defaults of this release."""

from django.db import migrations

# Frozen copy of reviews.policy.DEFAULT_POLICY at the time of this migration.
POLICY = {
    "rules": [
        {"name": "red team findings", "when": {"source_kinds": ["red_team"]}, "then": {"queue": "triage"}},
        {"name": "user reports", "when": {"source_kinds": ["user_report"]}, "then": {"queue": "triage"}},
        {"name": "risky", "when": {"risk": {"harmful": {"min": 0.3, "max": 1.0}}}, "then": {"queue": "triage"}},
        {"name": "a detector is sure", "when": {"any_detector_score": {"min": 0.8}}, "then": {"queue": "triage"}},
    ],
    "fallback": {"drop": True},
}


def seed(apps, schema_editor):
    PolicyVersion = apps.get_model("reviews", "PolicyVersion")
    PolicyDraft = apps.get_model("reviews", "PolicyDraft")
    if not PolicyVersion.objects.exists():
        version = PolicyVersion.objects.create(number=1, document=POLICY, is_active=True, note="Default policy")
        PolicyDraft.objects.create(document=POLICY, based_on=version)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0005_policies")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
