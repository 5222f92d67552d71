"""Migration 0015 links the adjudication items that existed before it to the items whose reviewers disagreed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("reviews", "0014_lineage_fast_compression"), ("reviews", "0015_reviewitem_adjudicates")


def test_existing_adjudication_items_get_their_key_from_the_routed_by_text() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    Source, Conversation = apps.get_model("reviews", "Source"), apps.get_model("reviews", "Conversation")
    Queue, ReviewItem = apps.get_model("reviews", "Queue"), apps.get_model("reviews", "ReviewItem")
    source = Source.objects.create(name="old", kind="input_guardrail")
    conversation = Conversation.objects.create(source=source, external_id="c", messages=[])
    split = ReviewItem.objects.create(conversation=conversation, queue=Queue.objects.get(slug="triage"))
    adjudication = ReviewItem.objects.create(
        conversation=conversation,
        queue=Queue.objects.get(kind="adjudication"),
        routed_by=f"reviewers disagreed on item {split.pk}",
    )
    other = Conversation.objects.create(source=source, external_id="d", messages=[])
    stray = ReviewItem.objects.create(
        conversation=other, queue=Queue.objects.get(kind="adjudication"), routed_by="reviewers disagreed on item 999999"
    )

    executor = MigrationExecutor(connection)
    executor.migrate([AFTER])
    ReviewItem = executor.loader.project_state([AFTER]).apps.get_model("reviews", "ReviewItem")

    assert ReviewItem.objects.get(pk=adjudication.pk).adjudicates_id == split.pk
    assert ReviewItem.objects.get(pk=stray.pk).adjudicates_id is None  # no such item: left unlinked
