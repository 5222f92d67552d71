"""Comments, mentions, item tags, saved search filters and claim records; and on PostgreSQL the full-text search
column and index over conversations (reviews/workspace/search.py says why).

`reviews_search_vector(messages)`: the turns' `content` strings joined, the first 100,000 characters, as an
English tsvector: immutable (every function it calls is), so it can define a stored generated column; capped, so
no conversation can reach the 1 MB tsvector limit and fail at ingest. The column is not on the Django model (the
ORM never selects it; search.py names it); PostgreSQL fills it on insert and on any change of `messages`.
"""

from typing import Any

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION reviews_search_vector(messages jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT to_tsvector('english'::regconfig, left(coalesce(string_agg(turn ->> 'content', ' '), ''), 100000))
  FROM jsonb_array_elements(CASE jsonb_typeof(messages) WHEN 'array' THEN messages ELSE '[]'::jsonb END) AS turn
$$;
ALTER TABLE reviews_conversation
  ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (reviews_search_vector(messages)) STORED;
CREATE INDEX conversation_search ON reviews_conversation USING gin (search_vector);
"""
DROP_SEARCH = """
DROP INDEX IF EXISTS conversation_search;
ALTER TABLE reviews_conversation DROP COLUMN IF EXISTS search_vector;
DROP FUNCTION IF EXISTS reviews_search_vector(jsonb);
"""


def search_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEARCH_FUNCTION)


def search_index_drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SEARCH)


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0026_campaigns"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Comment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("body", models.TextField()),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ("edited_at", models.DateTimeField(blank=True, null=True)),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="comments",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="comments", to="reviews.reviewitem"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ItemTag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "added_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="tags", to="reviews.reviewitem"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Mention",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ("read_at", models.DateTimeField(blank=True, null=True)),
                (
                    "comment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="mentions", to="reviews.comment"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="mentions",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SavedFilter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=80)),
                ("query", models.CharField(max_length=1000)),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="saved_filters",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="ClaimRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("claimed_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="claim_records",
                        to="reviews.reviewitem",
                    ),
                ),
                (
                    "reviewer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["item", "claimed_at"], name="claim_record_by_item")],
            },
        ),
        migrations.AddIndex(
            model_name="comment",
            index=models.Index(fields=["item", "created_at"], name="comment_by_item"),
        ),
        migrations.AddIndex(
            model_name="itemtag",
            index=models.Index(fields=["name"], name="tag_by_name"),
        ),
        migrations.AddConstraint(
            model_name="itemtag",
            constraint=models.UniqueConstraint(fields=("item", "name"), name="one_tag_per_item"),
        ),
        migrations.AddIndex(
            model_name="mention",
            index=models.Index(
                condition=models.Q(("read_at", None)), fields=["user", "-created_at"], name="mention_unread"
            ),
        ),
        migrations.AddConstraint(
            model_name="mention",
            constraint=models.UniqueConstraint(fields=("user", "comment"), name="one_mention_per_comment"),
        ),
        migrations.AddConstraint(
            model_name="savedfilter",
            constraint=models.UniqueConstraint(fields=("user", "name"), name="one_saved_filter_name"),
        ),
        migrations.RunPython(search_index, search_index_drop),
    ]
