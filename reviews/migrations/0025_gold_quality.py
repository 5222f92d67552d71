"""Reviewer quality (issue #18): queue settings for gold items and QA sampling, the gold and QA tables, and the
seniors' blind QA queue."""

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models


def seed_qa_queue(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Queue = apps.get_model("reviews", "Queue")
    queue, _ = Queue.objects.get_or_create(
        slug="qa",
        defaults={
            "name": "QA second review",
            "kind": "qa",
            "reviews_required": 1,
            "blind": True,
            "description": "A sample of reviewers' settled decisions, reviewed again blind by a senior.",
        },
    )
    queue.allowed_groups.add(*(Group.objects.get_or_create(name=name)[0] for name in ("senior", "admin")))


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0023_finding"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="queue",
            name="gold_feedback",
            field=models.BooleanField(
                default=False, help_text="After a gold item, show the reviewer the expected answer and the note."
            ),
        ),
        migrations.AddField(
            model_name="queue",
            name="gold_percent",
            field=models.FloatField(
                validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(100)],
                default=0,
                help_text="Share of claims (0-100) that present a gold item.",
            ),
        ),
        migrations.AddField(
            model_name="queue",
            name="qa_percent",
            field=models.FloatField(
                validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(100)],
                default=0,
                help_text="Share (0-100) of each reviewer's settled decisions a senior reviews again, blind.",
            ),
        ),
        migrations.AlterField(
            model_name="queue",
            name="kind",
            field=models.CharField(
                choices=[
                    ("triage", "Triage"),
                    ("calibration", "Calibration sample"),
                    ("escalation", "Escalation (seniors)"),
                    ("adjudication", "Adjudication (seniors)"),
                    ("qa", "QA second review (seniors)"),
                ],
                default="triage",
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="GoldItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("verdict", models.CharField(max_length=32)),
                ("categories", models.JSONField(blank=True, default=list)),
                ("severity", models.PositiveSmallIntegerField(default=0)),
                (
                    "note",
                    models.TextField(
                        blank=True, help_text="Why this is the answer (shown as feedback where the queue says so)."
                    ),
                ),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ("is_active", models.BooleanField(default=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="gold_made",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "item",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="gold", to="reviews.reviewitem"
                    ),
                ),
                (
                    "queue",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="gold_items", to="reviews.queue"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="QaSample",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "decision",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="qa_sample", to="reviews.decision"
                    ),
                ),
                (
                    "item",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="qa_sample", to="reviews.reviewitem"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="GoldPresentation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "conversation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="gold_presentation",
                        to="reviews.conversation",
                    ),
                ),
                (
                    "gold",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="presentations", to="reviews.golditem"
                    ),
                ),
                (
                    "item",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="gold_presentation",
                        to="reviews.reviewitem",
                    ),
                ),
                (
                    "reviewer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="gold_seen",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("gold", "reviewer"), name="gold_once_per_reviewer")],
            },
        ),
        migrations.RunPython(seed_qa_queue, migrations.RunPython.noop),
    ]
