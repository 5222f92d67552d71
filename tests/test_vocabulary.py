"""The label vocabulary has one source (reviews/vocabulary.py): every copy the code reads is that tuple, and it
matches what migration 0002 seeded."""

from __future__ import annotations

import pytest

from reviews import demo_data, vocabulary
from reviews.imports import base as import_base
from reviews.models import FAILURE_VERDICTS, HARMFUL_REQUEST_VERDICTS, Category, Verdict


@pytest.mark.django_db
def test_taxonomy_is_the_seeded_categories_in_seeded_order() -> None:
    seeded = list(Category.objects.order_by("position").values_list("slug", flat=True))
    assert seeded == list(vocabulary.TAXONOMY)


def test_every_reader_of_the_taxonomy_uses_the_one_tuple() -> None:
    assert demo_data.TAXONOMY is vocabulary.TAXONOMY
    assert import_base.TAXONOMY is vocabulary.TAXONOMY
    assert import_base.VERDICTS is vocabulary.VERDICTS


def test_verdict_choices_and_groups_match_the_vocabulary() -> None:
    assert sorted(Verdict.values) == sorted(vocabulary.VERDICTS)
    assert FAILURE_VERDICTS == vocabulary.FAILURE_VERDICTS
    assert HARMFUL_REQUEST_VERDICTS == vocabulary.HARMFUL_REQUEST_VERDICTS
