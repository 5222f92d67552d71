"""Migration 0015 links the adjudication items that existed before it to the items whose reviewers disagreed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.migrating import migrate, schema_at

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE, AFTER = ("reviews", "0014_lineage_fast_compression"), ("reviews", "0015_reviewitem_adjudicates")


@pytest.fixture
def before_0015() -> Iterator[Any]:
    """The schema as it was before 0015 (its app registry); migrated forward again whatever the test does."""
    with schema_at(BEFORE) as apps:
        yield apps


def test_existing_adjudication_items_get_their_key_from_the_routed_by_text(before_0015: Any) -> None:
    apps = before_0015
    Source, Conversation = apps.get_model("reviews", "Source"), apps.get_model("reviews", "Conversation")
    Queue, ReviewItem = apps.get_model("reviews", "Queue"), apps.get_model("reviews", "ReviewItem")
    # A transactional test before this one may have flushed the seeded queues.
    triage = Queue.objects.get_or_create(slug="triage", defaults={"name": "Triage", "kind": "triage"})[0]
    seniors = Queue.objects.filter(kind="adjudication").first() or Queue.objects.create(
        slug="adjudication", name="Adjudication", kind="adjudication"
    )
    source = Source.objects.create(name="old", kind="input_guardrail")
    conversation = Conversation.objects.create(source=source, external_id="c", messages=[])
    split = ReviewItem.objects.create(conversation=conversation, queue=triage)
    adjudication = ReviewItem.objects.create(
        conversation=conversation,
        queue=seniors,
        routed_by=f"reviewers disagreed on item {split.pk}",
    )
    other = Conversation.objects.create(source=source, external_id="d", messages=[])
    stray = ReviewItem.objects.create(conversation=other, queue=seniors, routed_by="reviewers disagreed on item 999999")

    ReviewItem = migrate(AFTER).get_model("reviews", "ReviewItem")

    assert ReviewItem.objects.get(pk=adjudication.pk).adjudicates_id == split.pk
    assert ReviewItem.objects.get(pk=stray.pk).adjudicates_id is None  # no such item: left unlinked
